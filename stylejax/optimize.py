"""Per-image pixel optimisation (Gatys et al. 2016; Luan et al. 2017) as jitted scans of optax steps.

The output image O (pixels 0..255, as the thesis) minimises
    α Σ content losses + β Σ_l w_l E_l + γ TV(O) [+ φ Σ_c V_cᵀ L V_c]
(stylejax.losses), where the style term is per semantic region when masks are
given and the last term is Luan's matting-Laplacian photorealism term on
V = O/255. Steps run on the device in chunks of `log_every_steps` (one
`lax.scan` per chunk); between chunks the loss terms are logged and the
progress bar moves. Phases: coarse to fine (`num_scales` > 1 solves at
image_size / 2^k first, each result upsampled to start the next scale) and,
per scale, Luan's two stages when `two_stage` is set.
"""

import dataclasses
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylejax import images, losses, masks as masks_lib, matting, metrics, postprocess, report, weights
from stylejax import vgg as vgg_lib
from stylejax.errors import UserError

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
DEFAULT_CONTENT = os.path.join(ASSETS, "chelsea.jpg")
DEFAULT_STYLE = os.path.join(ASSETS, "starry_night.jpg")
MIN_SIDE = 16  # VGG pools four times before conv5_1
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
MASK_SOURCES = ("none", "files", "labels", "auto")
PHOTOREALISM_DEFAULTS = {"masks": "none", "affine_weight": 0.0, "laplacian_backend": "banded",
                         "matting_eps": 1e-7, "matting_radius": 1}
OPTIMIZERS = {"adam": lambda lr: optax.adam(lr),
              "lbfgs": lambda lr: optax.lbfgs(learning_rate=lr or None)}


def parse_list(text, kind=str, name="value"):
  """'a, b,c' -> [kind(a), kind(b), kind(c)]; '' -> []."""
  items = [item.strip() for item in str(text).split(",") if item.strip()]
  try:
    return [kind(item) for item in items]
  except ValueError:
    raise UserError(f"cannot read {name}={text!r} as a comma-separated list of {kind.__name__}") from None


@dataclasses.dataclass(frozen=True)
class Objective:
  """Weighted content + style + TV loss; hashable, so jit specialises on it."""
  content_layers: tuple
  style_layer_weights: tuple  # ((layer, w_l), ...)
  content_weight: float
  style_weight: float
  tv_weight: float
  normalization: str = "gatys"
  dtype: str = "float32"
  masked: bool = False  # per-region Grams (targets carry "masks")
  affine_weight: float = 0.0  # matting-Laplacian photorealism term (targets carry "laplacian")
  laplacian_backend: str = "banded"
  matting_eps: float = 1e-7
  matting_radius: int = 1

  @classmethod
  def from_config(cls, config):
    content_layers = tuple(parse_list(config.content_layers, name="content_layers"))
    style_layers = parse_list(config.style_layers, name="style_layers")
    layer_weights = parse_list(config.style_layer_weights, float, "style_layer_weights")
    layer_weights = layer_weights or [1.0 / len(style_layers)] * len(style_layers)
    if len(layer_weights) != len(style_layers):
      raise UserError(f"style_layer_weights has {len(layer_weights)} values for {len(style_layers)} style_layers")
    if config.loss_normalization not in losses.NORMALIZATIONS:
      raise UserError(f"unknown loss_normalization {config.loss_normalization!r}; choose one of {losses.NORMALIZATIONS}")
    if config.compute_dtype not in DTYPES:
      raise UserError(f"unknown compute_dtype {config.compute_dtype!r}; choose one of {', '.join(DTYPES)}")
    try:
      vgg_lib.check_layers(config.vgg.arch, content_layers + tuple(style_layers))
    except ValueError as e:
      raise UserError(str(e)) from None
    # Photorealism settings are optional, so configs without them (training) can build an Objective.
    luan = {key: config.get(key, default) for key, default in PHOTOREALISM_DEFAULTS.items()}
    if luan["laplacian_backend"] not in matting.BACKENDS:
      raise UserError(f"unknown laplacian_backend {luan['laplacian_backend']!r}; choose one of "
                      f"{', '.join(matting.BACKENDS)}")
    if luan["masks"] not in MASK_SOURCES:
      raise UserError(f"unknown masks {luan['masks']!r}; choose one of {', '.join(MASK_SOURCES)}")
    return cls(content_layers, tuple(zip(style_layers, layer_weights)), float(config.content_weight),
               float(config.style_weight), float(config.tv_weight), config.loss_normalization, config.compute_dtype,
               luan["masks"] != "none", float(luan["affine_weight"]), luan["laplacian_backend"],
               float(luan["matting_eps"]), int(luan["matting_radius"]))

  @property
  def style_layers(self):
    return tuple(layer for layer, _ in self.style_layer_weights)

  def features(self, vgg, image, layers):
    return vgg.features(image, layers, DTYPES[self.dtype])

  def content_targets(self, vgg, content):
    return self.features(vgg, content, self.content_layers)

  def style_grams(self, vgg, style, masks=None):
    """Gram targets of a style image; per region when `masks` ({layer: (1, h, w, K)}) are given."""
    feats = self.features(vgg, style, self.style_layers)
    if masks is None:
      return {layer: losses.gram_matrix(f) for layer, f in feats.items()}
    return {layer: losses.masked_gram_matrices(f, masks[layer]) for layer, f in feats.items()}

  def layer_shapes(self, vgg, height, width):
    """{style layer: (h, w)} for an image of (height, width), without computing anything."""
    shapes = jax.eval_shape(lambda x: self.features(vgg, x, self.style_layers),
                            jax.ShapeDtypeStruct((1, height, width, 3), jnp.float32))
    return {layer: shape.shape[1:3] for layer, shape in shapes.items()}

  def terms(self, image, vgg, targets):
    """{'content', 'style', 'tv'[, 'affine']}: the unweighted loss terms of NHWC `image`."""
    feats = self.features(vgg, image, self.content_layers + self.style_layers)
    content = sum(losses.content_loss(feats[layer], targets["content"][layer], self.normalization)
                  for layer in self.content_layers)
    if self.masked:
      masks = targets["masks"]
      style = sum(weight * losses.masked_style_layer_loss(losses.masked_gram_matrices(feats[layer], masks[layer]),
                                                          targets["style"][layer], masks[layer], self.normalization)
                  for layer, weight in self.style_layer_weights)
    else:
      style = losses.style_loss(feats, targets["style"], dict(self.style_layer_weights), self.normalization)
    terms = {"content": content, "style": style, "tv": losses.total_variation(image, self.normalization)}
    if self.affine_weight:
      apply = functools.partial(matting.apply, self.laplacian_backend, targets["laplacian"],
                                eps=self.matting_eps, radius=self.matting_radius)
      terms["affine"] = losses.matting_energy(image / 255.0, apply)
    return terms

  def total(self, terms):
    return (self.content_weight * terms["content"] + self.style_weight * terms["style"]
            + self.tv_weight * terms["tv"] + self.affine_weight * terms.get("affine", 0.0))


def _step(objective, tx, linesearch, vgg, targets, carry, index):
  """One optimiser step. `bad` is -1, or the chunk index of the first step whose
  loss or update was NaN/Inf; from then on x and the state stay as they were."""
  x, opt_state, bad = carry

  def loss_fn(image):
    return objective.total(objective.terms(image, vgg, targets))

  if linesearch:
    value, grad = optax.value_and_grad_from_state(loss_fn)(x, state=opt_state)
  else:
    value, grad = jax.value_and_grad(loss_fn)(x)
  updates, new_state = tx.update(grad, opt_state, x, value=value, grad=grad, value_fn=loss_fn)
  new_x = optax.apply_updates(x, updates)
  ok = (bad < 0) & jnp.isfinite(value) & jnp.all(jnp.isfinite(new_x))
  # Selects, not lax.cond: XLA:CPU runs conditional and loop bodies on one thread.
  x, opt_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), (new_x, new_state), (x, opt_state))
  bad = jnp.where((bad < 0) & ~ok, index, bad)
  return (x, opt_state, bad), None


@functools.partial(jax.jit, static_argnames=("objective", "tx", "linesearch", "steps"),
                   donate_argnames=("x", "opt_state"))
def run_chunk(vgg, targets, x, opt_state, *, objective, tx, linesearch, steps):
  """`steps` optimiser steps in one lax.scan on the device.

  Returns (x, opt_state, bad): bad is -1, or the index of the step that went
  NaN/Inf, in which case x is the last good image. On the CPU, Adam's scan is
  unrolled, since XLA:CPU runs loop bodies single-threaded (2.4x slower here);
  L-BFGS is not (its line search is a while loop anyway, and unrolling it
  multiplies the compile time).
  """
  step = functools.partial(_step, objective, tx, linesearch, vgg, targets)
  unroll = steps if jax.default_backend() == "cpu" and not linesearch else 1
  (x, opt_state, bad), _ = jax.lax.scan(step, (x, opt_state, jnp.int32(-1)), jnp.arange(steps, dtype=jnp.int32),
                                        unroll=unroll)
  return x, opt_state, bad


def init_state(tx, x):
  """Optimiser state for `x` holding no buffer of x (both are donated to run_chunk)."""
  return jax.tree.map(jnp.copy, tx.init(x))


@functools.partial(jax.jit, static_argnames=("objective",))
def evaluate(vgg, targets, x, *, objective):
  terms = objective.terms(x, vgg, targets)
  return {**terms, "total": objective.total(terms)}


def scale_sizes(image_size, num_scales):
  """Long sides of a coarse-to-fine schedule ending at image_size (halving each time)."""
  return [max(1, round(image_size / 2 ** (num_scales - 1 - k))) for k in range(num_scales)]


def _validate(config):
  if config.image_size <= 0 or config.image_size > config.max_image_size:
    raise UserError(f"image_size must be in 1..{config.max_image_size} (max_image_size), got {config.image_size}")
  if config.num_scales < 1:
    raise UserError(f"num_scales must be at least 1, got {config.num_scales}")
  if config.style_scale <= 0:
    raise UserError(f"style_scale must be positive, got {config.style_scale}")
  if config.total_steps < 0 or config.log_every_steps < 1:
    raise UserError("total_steps must be >= 0 and log_every_steps >= 1")
  if config.optimizer not in OPTIMIZERS:
    raise UserError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
  if config.snapshot_every_steps % config.log_every_steps:
    raise UserError("snapshot_every_steps must be a multiple of log_every_steps")
  if config.postprocess not in ("", "smooth_affine"):
    raise UserError(f"unknown postprocess {config.postprocess!r}; choose '' or smooth_affine")
  if not 0.0 <= config.noise_ratio <= 1.0:
    raise UserError(f"noise_ratio must be in [0, 1], got {config.noise_ratio}")


def _load(path, long_side, config):
  image = images.load_image(path, long_side, config.max_input_pixels)
  if min(image.shape[:2]) < MIN_SIDE:
    raise UserError(f"{path} at long side {long_side} is {image.shape[1]}x{image.shape[0]} px; "
                    f"VGG needs at least {MIN_SIDE} px per side (raise image_size)")
  return image


def _initial_image(config, content, previous, rng):
  """The starting pixels: the previous phase's result (resized if needed), or per config.init."""
  height, width = content.shape[:2]
  if previous is not None:
    return previous if previous.shape[:2] == (height, width) else images.resize(previous, height, width)
  if config.init == "content":
    return content
  noise = np.asarray(jax.random.uniform(rng, content.shape, jnp.float32, 0.0, 255.0))
  if config.init == "noise":
    return noise
  if config.init == "mix":
    return config.noise_ratio * noise + (1.0 - config.noise_ratio) * content
  image = images.load_image(config.init, None, config.max_input_pixels)
  return images.resize(image, height, width)


def _resize_masks(masks, height, width):
  return np.asarray(jax.image.resize(jnp.asarray(masks), (height, width, masks.shape[-1]), "linear"))


def _style_targets(objective, vgg, config, style_paths, blend, long_side, style_masks):
  """Blended position-averaged Gram targets Σ_i b_i Ĝ(S_i) / Σ_i b_i (per region with masks)."""
  grams_fn = jax.jit(objective.style_grams)
  total = {}
  for path, weight in zip(style_paths, blend):
    style = _load(path, max(1, round(long_side * config.style_scale)), config)
    per_layer = None
    if style_masks is not None:
      height, width = style.shape[:2]
      per_layer = masks_lib.layer_masks(_resize_masks(style_masks, height, width),
                                        objective.layer_shapes(vgg, height, width))
    grams = grams_fn(vgg, jnp.asarray(style)[None], per_layer)
    for layer, gram in grams.items():
      total[layer] = total.get(layer, 0.0) + weight / sum(blend) * gram
  return total


def find_masks(config, vgg, content_path, style_paths, long_side):
  """(content masks, style masks, names) at full resolution, or (None, None, []) without masks."""
  if config.masks == "none":
    return None, None, []
  if len(style_paths) != 1:
    raise UserError("masks work with one style image")
  content = _load(content_path, long_side, config)
  style = _load(style_paths[0], max(1, round(long_side * config.style_scale)), config)
  if config.masks == "auto":
    return masks_lib.auto_masks(vgg, content, style, config.auto_mask_regions, seed=config.seed)
  if not (config.content_mask and config.style_mask):
    raise UserError(f"masks={config.masks} needs content_mask and style_mask files")
  if config.masks == "labels":
    return masks_lib.label_masks(masks_lib.load_label_map(config.content_mask, *content.shape[:2]),
                                 masks_lib.load_label_map(config.style_mask, *style.shape[:2]),
                                 config.label_groups or None)
  content_seg = masks_lib.load_segmentation(config.content_mask, *content.shape[:2], config.max_input_pixels)
  style_seg = masks_lib.load_segmentation(config.style_mask, *style.shape[:2], config.max_input_pixels)
  return masks_lib.colour_masks(content_seg, style_seg, config.content_mask, config.style_mask)


def scale_targets(objective, vgg, config, content, style_paths, blend, long_side, masks):
  """Everything the loss needs at one scale, as a pytree of device arrays."""
  content_masks, style_masks, _ = masks
  targets = {"content": jax.jit(objective.content_targets)(vgg, jnp.asarray(content)[None]),
             "style": _style_targets(objective, vgg, config, style_paths, blend, long_side, style_masks)}
  height, width = content.shape[:2]
  if content_masks is not None:
    targets["masks"] = masks_lib.layer_masks(_resize_masks(content_masks, height, width),
                                             objective.layer_shapes(vgg, height, width))
  if objective.affine_weight:
    targets["laplacian"] = matting.prepare(objective.laplacian_backend, content / 255.0,
                                           objective.matting_eps, objective.matting_radius)
  return targets


def _save_masks(workdir, content_path, style_paths, masks, config):
  """masks_content.png and masks_style.png: each image beside its regions, in Luan's colours."""
  for name, path, mask in (("content", content_path, masks[0]), ("style", style_paths[0], masks[1])):
    image = _load(path, max(mask.shape[:2]), config)
    drawn = masks_lib.to_colour_image(_resize_masks(mask, *image.shape[:2]), masks[2])
    images.save_image(os.path.join(workdir, f"masks_{name}.png"), np.concatenate([image, drawn], axis=1))


def _check_inputs(config):
  """Validates the config and reads every input once, so bad files fail before any work."""
  _validate(config)
  objective = Objective.from_config(config)
  content_path = config.content or DEFAULT_CONTENT
  style_paths = parse_list(config.style, name="style") or [DEFAULT_STYLE]
  blend = parse_list(config.style_blend_weights, float, "style_blend_weights") or [1.0] * len(style_paths)
  if len(blend) != len(style_paths) or min(blend) < 0 or sum(blend) <= 0:
    raise UserError(f"style_blend_weights needs {len(style_paths)} non-negative values with a positive sum")
  if config.init not in ("content", "noise", "mix") and not os.path.isfile(config.init):
    raise UserError(f"init must be content, noise, mix or an image file; {config.init!r} is none of these")
  sizes = scale_sizes(config.image_size, config.num_scales)
  for path in [content_path, *style_paths]:
    _load(path, sizes[-1], config)
  return objective, content_path, style_paths, blend, sizes


def _optimize_phase(config, workdir, objective, vgg, targets, x, step, log, bar):
  """config.total_steps steps of one phase, in chunks of log_every_steps.

  Returns (x, step, halted_at, timing): halted_at is None or the step that went
  NaN/Inf; timing lists (steps, seconds) per chunk.
  """
  tx = optax.with_extra_args_support(OPTIMIZERS[config.optimizer](config.learning_rate))
  opt_state = init_state(tx, x)
  log.scalars(step, evaluate(vgg, targets, x, objective=objective))
  timing, done = [], 0
  while done < config.total_steps:
    n = min(config.log_every_steps, config.total_steps - done)
    tick = time.perf_counter()
    x, opt_state, bad = run_chunk(vgg, targets, x, opt_state, objective=objective, tx=tx,
                                  linesearch=config.optimizer == "lbfgs", steps=n)
    metrics = jax.block_until_ready(evaluate(vgg, targets, x, objective=objective))
    timing.append((n, time.perf_counter() - tick))
    if int(bad) >= 0:
      return x, step, step + int(bad) + 1, timing
    done, step = done + n, step + n
    bar.update(n)
    bar.set_postfix(total=f"{float(metrics['total']):.4g}")
    log.scalars(step, metrics)
    if config.snapshot_every_steps and step % config.snapshot_every_steps == 0:
      snapshot = np.asarray(x[0])
      images.save_image(os.path.join(workdir, "snapshots", f"step_{step:06d}.png"), snapshot)
      log.image("snapshot", snapshot, step)
  return x, step, None, timing


def phases(objective, sizes, two_stage):
  """(long side, objective) per phase: coarse to fine, and per scale Luan's two stages
  (first without the photorealism term, then with it) when asked."""
  stages = [objective]
  if two_stage and objective.affine_weight:
    stages = [dataclasses.replace(objective, affine_weight=0.0), objective]
  return [(size, stage) for size in sizes for stage in stages]


def run(config, workdir):
  """The `optimize` job: stylise config.content with config.style; writes the run outputs."""
  objective, content_path, style_paths, blend, sizes = _check_inputs(config)
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  masks = find_masks(config, vgg, content_path, style_paths, sizes[-1])
  log = report.RunLog(workdir, config)
  if masks[0] is not None:
    _save_masks(workdir, content_path, style_paths, masks, config)
  plan = phases(objective, sizes, config.two_stage)
  rng = jax.random.key(config.seed)
  bar = report.progress(config.total_steps * len(plan), "optimize")
  start = time.perf_counter()
  step, x, halted_at, boundaries, scales, timing, targets, content = 0, None, None, [], [], [], None, None
  try:
    for k, (long_side, stage) in enumerate(plan):
      if k == 0 or long_side != plan[k - 1][0]:
        content = _load(content_path, long_side, config)
        targets = scale_targets(objective, vgg, config, content, style_paths, blend, long_side, masks)
        scales.append({"long_side": long_side, "height": content.shape[0], "width": content.shape[1]})
      stage_targets = targets if stage.affine_weight else {key: value for key, value in targets.items()
                                                           if key != "laplacian"}
      previous = None if x is None else np.asarray(x[0])
      x = jnp.asarray(_initial_image(config, content, previous, jax.random.fold_in(rng, k)), jnp.float32)[None]
      boundaries.append(step)
      x, step, halted_at, phase_timing = _optimize_phase(config, workdir, stage, vgg, stage_targets, x, step, log,
                                                         bar)
      timing.append(phase_timing)
      if halted_at is not None:
        break
  finally:  # whatever happens, the latest image is kept
    bar.close()
    if x is not None:
      result = np.asarray(x[0])
      if config.postprocess == "smooth_affine":
        result = postprocess.smooth_affine(result, content, config.smooth_radius, config.smooth_eps)
      if config.original_colors:
        result = images.original_colors(result, content)
      images.save_image(os.path.join(workdir, "result.png"), result)
      log.image("result", result, step)
    log.close()

  report.plot_losses(log.rows, os.path.join(workdir, "losses.png"), boundaries[1:])
  summary = _summary(config, log.rows, scales, timing, time.perf_counter() - start, content_path, style_paths, vgg)
  summary["halted_at_step"] = halted_at
  summary["masks"] = masks[2]
  summary["photorealism"] = {"affine_energy": metrics.affine_energy(images.to_uint8(result), content),
                             "gradient_ssim": metrics.gradient_ssim(images.to_uint8(result), content)}
  report.write_json(os.path.join(workdir, "summary.json"), summary)
  if halted_at is not None:
    raise UserError(f"loss became NaN or Inf at step {halted_at}; kept the last good image "
                    f"(step {halted_at - 1}) in {os.path.join(workdir, 'result.png')}")
  return summary


def _summary(config, rows, scales, timing, wall, content_path, style_paths, vgg):
  """Facts about the run: time, speed (chunks after each scale's first, which compiles), losses, inputs."""
  warm = [chunk for scale_timing in timing for chunk in scale_timing[1:]]
  steps_per_s = sum(n for n, _ in warm) / sum(t for _, t in warm) if warm else None
  initial, final = rows[0], rows[-1]
  return {
      "wall_time_s": wall, "steps": final["step"], "steps_per_s_after_compile": steps_per_s,
      "initial_losses": {k: v for k, v in initial.items() if k != "step"},
      "final_losses": {k: v for k, v in final.items() if k != "step"},
      "style_loss_reduction": initial["style"] / final["style"] if final["style"] > 0 else None,
      "scales": scales, "content": os.path.abspath(content_path),
      "styles": [os.path.abspath(p) for p in style_paths], "optimizer": config.optimizer,
      "compute_dtype": config.compute_dtype, "vgg": vgg.arch, **report.environment(),
  }
