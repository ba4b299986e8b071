"""Reading configs: every ConfigDict -> core object conversion and every value check lives here.

Configs (configs/*.py) are plain ml_collections; the sections shared by the
methods are built by configs/common.py (`loss`, `masks`, `vgg`). Lists are
tuples in the configs; on the command line a comma string is accepted too
(`--config.loss.style_layers=relu1_1,relu2_1`), so every list is read through
`as_list`. Bad values raise UserError, reported by run.py as one line.
"""

import math
import os

import jax
import jax.numpy as jnp

from stylejax.core import nets, objective as objective_lib
from stylejax.errors import UserError
from stylejax.io import assets
from stylejax.methods import pixels

MASK_SOURCES = ("none", "files", "labels", "auto")
UPSAMPLINGS = ("resize", "guided")  # from one scale to the next: stylejax.api.PixelTransfer.initial_image


def as_list(value, kind=str, name="value"):
  """'a, b,c' or ('a', 'b,c') -> [kind(a), kind(b), kind(c)]; '' or () -> []."""
  items = value if isinstance(value, (list, tuple)) else [value]
  parts = [part.strip() if isinstance(part, str) else part
           for item in items for part in (item.split(",") if isinstance(item, str) else [item])]
  try:
    return [kind(part) for part in parts if part != ""]
  except (TypeError, ValueError):
    raise UserError(f"cannot read {name}={value!r} as a list of {kind.__name__}") from None


def paths(value, name):
  """A list of files (`bundled:NAME` for the bundled ones) as paths."""
  return [assets.resolve(p) for p in as_list(value, name=name)]


def with_values(config, **values):
  """A resolved copy of `config` with top-level `values` set (for tools that vary one setting)."""
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.update(values)
  return config


def number(value, name, minimum=0.0, above=False):
  """`value` as a float, refused unless finite and >= minimum (> minimum with `above`)."""
  value = float(value)
  if not math.isfinite(value) or value < minimum or (above and value == minimum):
    raise UserError(f"{name} must be a finite number {'>' if above else '>='} {minimum:g}, got {value}")
  return value


def objective(config):
  """The core Objective of a config's `loss` section (plus `masks.source` and `compute_dtype`)."""
  loss = config.loss
  content_layers = tuple(as_list(loss.content_layers, name="loss.content_layers"))
  style_layers = as_list(loss.style_layers, name="loss.style_layers")
  layer_weights = [number(w, "loss.style_layer_weights")
                   for w in as_list(loss.style_layer_weights, float, "loss.style_layer_weights")]
  layer_weights = layer_weights or [1.0 / len(style_layers)] * len(style_layers)
  if len(layer_weights) != len(style_layers):
    raise UserError(f"loss.style_layer_weights has {len(layer_weights)} values for {len(style_layers)} style layers")
  source = config.masks.source if "masks" in config else "none"
  if source not in MASK_SOURCES:
    raise UserError(f"unknown masks.source {source!r}; choose one of {', '.join(MASK_SOURCES)}")
  try:
    result = objective_lib.Objective(
        content_layers, tuple(zip(style_layers, layer_weights)), number(loss.content_weight, "loss.content_weight"),
        number(loss.style_weight, "loss.style_weight"), number(loss.tv_weight, "loss.tv_weight"), loss.normalization,
        config.compute_dtype, source != "none", number(loss.affine_weight, "loss.affine_weight"), loss.affine_form,
        loss.laplacian_backend, number(loss.matting_eps, "loss.matting_eps", above=True), int(loss.matting_radius))
    result.check_layers(config.vgg.arch)
  except ValueError as e:
    raise UserError(str(e)) from None
  return result


def network_kind(config):
  """A config's `net.kind`; model directories from before the bilateral network have none: johnson."""
  return config.net.get("kind", "johnson")


def network(config):
  """The network of a config's `net` section (`kind`: johnson, the default, or bilateral) and `compute_dtype`."""
  net = config.net
  kind = network_kind(config)
  if kind not in nets.KINDS:
    raise UserError(f"unknown net.kind {kind!r}; choose one of {', '.join(nets.KINDS)}")
  if config.compute_dtype not in objective_lib.DTYPES:
    raise UserError(f"unknown compute_dtype {config.compute_dtype!r}; choose one of "
                    f"{', '.join(objective_lib.DTYPES)}")
  dtype = objective_lib.DTYPES[config.compute_dtype]
  if kind == "bilateral":
    result = nets.BilateralNet(net.low_res, net.grid_size, net.grid_depth, net.width, net.padding, dtype)
    try:
      jax.eval_shape(result.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 16, 16, 3), jnp.float32))
    except ValueError as e:
      raise UserError(f"net: {e}") from None
    return result
  if net.upsample not in nets.UPSAMPLINGS:
    raise UserError(f"unknown net.upsample {net.upsample!r}; choose one of {', '.join(nets.UPSAMPLINGS)}")
  if net.padding not in nets.PADDINGS:
    raise UserError(f"unknown net.padding {net.padding!r}; choose one of {', '.join(nets.PADDINGS)}")
  if net.residual_blocks < 0:
    raise UserError(f"net.residual_blocks must be >= 0, got {net.residual_blocks}")
  width = net.get("width", 32)  # model directories from before net.width: Johnson's 32
  if width < 1:
    raise UserError(f"net.width must be >= 1, got {width}")
  return nets.TransformNet(net.upsample, net.padding, net.residual_blocks, dtype, width)


def training_terms(config):
  """The train step's extra settings: {regularization: ((network term, weight), ...), input_blend}."""
  regularization = ()
  if network_kind(config) == "bilateral":
    regularization = (("grid_smoothness", number(config.loss.grid_smoothness_weight,
                                                 "loss.grid_smoothness_weight")),)
  blend = number(config.get("input_blend", 0.0), "input_blend")
  if blend >= 1.0:
    raise UserError(f"input_blend must be below 1 (the share of the input in the trained output), got {blend}")
  return {"regularization": regularization, "input_blend": blend}


def check_optimize(config):
  """Value checks of the optimize job's own settings."""
  if config.image_size <= 0 or config.image_size > config.max_image_size:
    raise UserError(f"image_size must be in 1..{config.max_image_size} (max_image_size), got {config.image_size}")
  if config.num_scales < 1:
    raise UserError(f"num_scales must be at least 1, got {config.num_scales}")
  number(config.style_scale, "style_scale", above=True)
  if config.total_steps < 0 or config.log_every_steps < 1:
    raise UserError("total_steps must be >= 0 and log_every_steps >= 1")
  if config.optimizer not in pixels.OPTIMIZERS:
    raise UserError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(pixels.OPTIMIZERS)}")
  number(config.learning_rate, f"learning_rate of {config.optimizer}", above=config.optimizer != "lbfgs_linesearch")
  number(config.stop_tolerance, "stop_tolerance")
  if config.snapshot_every_steps % config.log_every_steps:
    raise UserError("snapshot_every_steps must be a multiple of log_every_steps")
  if config.postprocess not in ("", "smooth_affine"):
    raise UserError(f"unknown postprocess {config.postprocess!r}; choose '' or smooth_affine")
  if config.upsample not in UPSAMPLINGS:
    raise UserError(f"unknown upsample {config.upsample!r}; choose one of {', '.join(UPSAMPLINGS)}")
  scale_steps(config)
  if not 0.0 <= config.noise_ratio <= 1.0:
    raise UserError(f"noise_ratio must be in [0, 1], got {config.noise_ratio}")
  if config.init not in ("content", "noise", "mix") and not os.path.isfile(assets.resolve(config.init)):
    raise UserError(f"init must be content, noise, mix or an image file; {config.init!r} is none of these")


def scale_steps(config):
  """Steps at each scale of an optimize config, coarse to fine: `scale_steps`, or total_steps at each."""
  steps = as_list(config.scale_steps, int, "scale_steps") or [config.total_steps] * config.num_scales
  if len(steps) != config.num_scales or min(steps) < 0:
    raise UserError(f"scale_steps needs {config.num_scales} step counts >= 0 (one per scale), got {steps}")
  return steps


def style_inputs(config):
  """(style paths, blend weights) of an optimize config."""
  styles = paths(config.style, "style")
  if not styles:
    raise UserError("set style: one image file, or several, comma-separated")
  blend = as_list(config.style_blend_weights, float, "style_blend_weights") or [1.0] * len(styles)
  if len(blend) != len(styles) or not all(math.isfinite(w) and w >= 0 for w in blend) or sum(blend) <= 0:
    raise UserError(f"style_blend_weights needs {len(styles)} non-negative values with a positive sum")
  return styles, blend


def check_train(config, device_count):
  """Value checks of the train job's own settings."""
  if config.batch_size < 1 or config.image_size < 16:
    raise UserError(f"batch_size must be >= 1 and image_size >= 16, got {config.batch_size}, {config.image_size}")
  if min(config.total_steps, config.log_every_steps, config.checkpoint_every_steps, config.keep_checkpoints) < 1:
    raise UserError("total_steps, log_every_steps, checkpoint_every_steps and keep_checkpoints must be >= 1")
  number(config.learning_rate, "learning_rate", above=True)
  if config.batch_size % device_count:
    raise UserError(f"batch_size {config.batch_size} must be a multiple of the {device_count} devices it is split over")
  if config.loss.affine_weight and config.loss.laplacian_backend != "matrix_free":
    raise UserError("training with the affine term builds each batch's Laplacian in the step: "
                    "set loss.laplacian_backend=matrix_free")
