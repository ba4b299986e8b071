"""Reading configs: every ConfigDict -> core object conversion and every value check lives here.

Configs (configs/*.py) are plain ml_collections; the sections shared by the
methods are built by configs/common.py (`loss`, `masks`, `vgg`). Lists are
tuples in the configs; on the command line a comma string is accepted too
(`--config.loss.style_layers=relu1_1,relu2_1`), so every list is read through
`as_list`. Bad values raise UserError, reported by run.py as one line.
"""

import dataclasses
import math
import os

from configs import gatys as gatys_preset
from stylejax.core import grades, masks as masks_lib, networks, objective as objective_lib, terms
from stylejax.errors import UserError
from stylejax.io import assets, configs as config_files
from stylejax.methods import pixels

MASK_SOURCES = ("none", "files", "labels", "auto")
UPSAMPLINGS = ("resize", "guided")  # from one scale to the next: stylejax.api.PixelTransfer.initial_image
SCHEDULES = ("auto", "cpu", "full")  # an optimize config's `schedule`: resolve_schedule
MAX_SEED = 2**31 - 1  # seeds go to jax, numpy and grain: each takes 0..2^31-1
MAX_STEPS = 10**9
# [low, high] of the train job's numeric settings
TRAIN_RANGES = {"batch_size": (1, 4096), "image_size": (16, 4096), "style_size": (16, 8192),
                "preview_size": (16, 8192), "total_steps": (1, MAX_STEPS), "log_every_steps": (1, MAX_STEPS),
                "checkpoint_every_steps": (1, MAX_STEPS), "sample_every_steps": (0, MAX_STEPS),
                "keep_checkpoints": (1, 1000), "num_threads": (1, 256), "seed": (0, MAX_SEED)}


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


def number(value, name, minimum=0.0, above=False):
  """`value` as a float, refused unless finite and >= minimum (> minimum with `above`)."""
  value = float(value)
  if not math.isfinite(value) or value < minimum or (above and value == minimum):
    raise UserError(f"{name} must be a finite number {'>' if above else '>='} {minimum:g}, got {value}")
  return value


def in_range(value, name, low, high):
  """`value`, refused unless a number from `low` to `high`: every number from a user has a range (a size, a count
  of steps or images), so that a typo is one clear line, not a MemoryError or an hour of compiling."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
    raise UserError(f"{name} must be from {low:,} to {high:,}, got {value!r}")
  return value


def mask_source(config):
  """Where a config's semantic regions come from (`masks.source`; "none" without a `masks` section), refused
  unless one of MASK_SOURCES."""
  source = config.masks.source if "masks" in config else "none"
  if source not in MASK_SOURCES:
    raise UserError(f"unknown masks.source {source!r}; choose one of {', '.join(MASK_SOURCES)}")
  return source


def objective(config):
  """The core Objective of a config's `loss` section (plus `masks.source`, `compute_dtype` and the network's
  regularisers): one term (stylejax.core.terms) per `loss.<name>_weight`, left out at weight 0 unless
  cheap (`Term.always`)."""
  loss = {key: tuple(as_list(value, name=f"loss.{key}")) if isinstance(value, (tuple, list)) else value
          for key, value in config.loss.items()}
  source = mask_source(config)
  regularizers = network(config).regularizers if "net" in config else ()
  missing = [f"loss.{name}_weight" for name in regularizers if f"{name}_weight" not in loss]
  if missing:
    raise UserError(f"set {', '.join(missing)}: the weight of the network's regulariser")
  weights = {key[:-len("_weight")]: number(value, f"loss.{key}") for key, value in loss.items()
             if key.endswith("_weight")}
  position = {cls.name: k for k, cls in enumerate(terms.TERMS)}  # terms in a fixed order (logs), the network's last
  try:
    weighted = []
    for name in sorted(weights, key=lambda name: (position.get(name, len(position)), name)):
      term = terms.NetworkTerm(name) if name in regularizers else terms.configure(name, loss, source != "none")
      if weights[name] or term.always:
        weighted.append((term, weights[name]))
    result = objective_lib.Objective(tuple(weighted), loss["normalization"], config.compute_dtype)
    result.check_layers(config.vgg.arch)
  except ValueError as e:
    raise UserError(str(e)) from None
  return result


def network(config):
  """The network of a config's `net` section (its `kind` picks the module, stylejax.core.networks; the other
  keys are its settings) at `compute_dtype`."""
  settings = config.net.to_dict()
  try:
    return networks.build(settings.pop("kind", None), settings, config.compute_dtype)
  except (TypeError, ValueError) as e:
    raise UserError(f"net: {e}") from None


def augment(config, net):
  """The typed settings of a train config's `augment` section (core.grades.Augment) for `net`, checked: grades
  and reference pairs need a network that takes a style, and the reference term needs pairs."""
  values, names = config.augment.to_dict(), [field.name for field in dataclasses.fields(grades.Augment)]
  unknown = sorted(set(values) - set(names))
  if unknown:
    raise UserError(f"augment.{unknown[0]} is not a setting; augment's settings are {', '.join(names)}")
  try:
    result = grades.Augment(**values)
  except ValueError as e:
    raise UserError(str(e)) from None
  if result.active and not net.takes_style:
    raise UserError(f"augment.grade_probability and augment.pair_probability grade style images: a {net.kind} "
                    "network takes none (set them to 0)")
  if config.loss.get("reference_weight") and not result.pair_probability:
    raise UserError("loss.reference_weight needs reference pairs: set augment.pair_probability > 0")
  return result


def check_optimize(config):
  """Value checks of the optimize job's own settings."""
  in_range(config.max_image_size, "max_image_size", 16, 65536)
  if config.image_size <= 0 or config.image_size > config.max_image_size:
    raise UserError(f"image_size must be in 1..{config.max_image_size} (max_image_size), got {config.image_size}")
  in_range(config.num_scales, "num_scales", 1, 8)
  number(config.style_scale, "style_scale", above=True)
  in_range(config.image_size * config.style_scale, "the style's long side (image_size * style_scale)", 1,
           config.max_image_size)
  in_range(config.total_steps, "total_steps", 0, MAX_STEPS)
  in_range(config.log_every_steps, "log_every_steps (the steps of one compiled chunk)", 1, 1000)
  in_range(config.snapshot_every_steps, "snapshot_every_steps", 0, MAX_STEPS)
  in_range(config.seed, "seed", 0, MAX_SEED)
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
  if config.loss.get("reference_weight"):
    raise UserError("loss.reference_weight is a training term (reference pairs of a network that takes a style); "
                    "pixel optimisation has no reference: set it to 0")


def resolve_schedule(config, backend):
  """The optimize config that runs on `backend` (jax.default_backend()), its `schedule` resolved to cpu or full.

  full: the config as it is. cpu: with configs/gatys.py's CPU_SCHEDULE set. auto: cpu where `backend` is
  "cpu" and the config holds configs/gatys.py's own values of every key CPU_SCHEDULE sets (so an override of
  one, or another preset's schedule such as Luan's, runs as given), else full. A config without `schedule`
  runs as it is.
  """
  if "schedule" not in config:
    return config
  name = config.schedule
  if name not in SCHEDULES:
    raise UserError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
  if name == "auto":
    preset = gatys_preset.get_config()
    as_preset = all(config[key] == preset[key] for key in gatys_preset.CPU_SCHEDULE)
    name = "cpu" if backend == "cpu" and as_preset else "full"
  return config_files.override(config, {**(gatys_preset.CPU_SCHEDULE if name == "cpu" else {}), "schedule": name})


def transfer_settings(config):
  """The typed settings of an optimize config's pixel transfer (methods.pixels.TransferSettings), checked."""
  check_optimize(config)
  init = config.init if config.init in ("content", "noise", "mix") else paths(config.init, "init")[0]
  return pixels.TransferSettings(
      tuple(pixels.scale_sizes(config.image_size, config.num_scales)), tuple(scale_steps(config)), config.two_stage,
      config.style_scale, config.upsample, init, config.noise_ratio, config.seed, config.optimizer,
      config.learning_rate, config.log_every_steps, config.stop_tolerance, config.postprocess, config.smooth_radius,
      config.smooth_eps, config.original_colors, config.max_input_pixels)


def mask_settings(config):
  """The typed settings of an optimize config's `masks` section (core.masks.MaskSettings)."""
  masks = config.masks
  return masks_lib.MaskSettings(mask_source(config), masks.content or "content mask", masks.style or "style mask",
                                masks.label_groups, masks.regions, config.seed)


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
  for key, (low, high) in TRAIN_RANGES.items():
    in_range(config[key], key, low, high)
  number(config.learning_rate, "learning_rate", above=True)
  if not paths(config.style, "style"):
    raise UserError("set --config.style: the style image (comma-separated images for a network that takes a style)")
  if config.batch_size % device_count:
    raise UserError(f"batch_size {config.batch_size} must be a multiple of the {device_count} devices it is split over")
  if config.loss.affine_weight and config.loss.laplacian_backend != "matrix_free":
    raise UserError("training with the affine term builds each batch's Laplacian in the step: "
                    "set loss.laplacian_backend=matrix_free")


def training_regions(config, net):
  """How many regions the train job finds in each example and its style (`masks.source=auto`: `masks.regions`,
  stylejax.core.masks.batch_regions), else 0; only a network that takes a style and region masks trains with
  them, and not beside the temporal term (whose moved copies would need moved masks)."""
  source = mask_source(config)
  if source == "none":
    return 0
  if source != "auto":
    raise UserError(f"the train job finds each example's regions itself: masks.source auto or none, got {source!r}")
  if not (net.takes_style and net.takes_masks):
    raise UserError(f"masks.source=auto trains a network on region masks: a {net.kind} network takes none")
  if config.loss.get("temporal_weight"):
    raise UserError("masks.source=auto does not train beside the temporal term: set one of them off")
  return in_range(config.masks.regions, "masks.regions", 1, 16)
