"""The Python API: arrays in, arrays out, no files unless asked.

    import stylejax
    image = stylejax.transfer(content, style, method="gatys", image_size=256, total_steps=200)
    model = stylejax.load_model("runs/starry")
    stylized = model.stylize(photo)
    stylejax.train(config, workdir)   # the train job: a model directory from a configs/johnson.py config

`content`, `style` and photos are (H, W, 3) arrays in 0..255 (or PIL images, or
paths); results are float32 (H, W, 3) arrays in 0..255. `method` names a preset
in configs/ (gatys, luan, ...); keyword overrides use the config's keys, with
`__` for a section's dot (`loss__style_weight=50`). The jobs (stylejax.jobs)
are this API plus files: they read inputs once, call it, write outputs.
"""

import collections
import dataclasses
import functools
import hashlib
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from stylejax import settings
from stylejax.core import masks as masks_lib, networks, objective as objective_lib, postprocess, scoring, temporal
from stylejax.core import tiling, xla
from stylejax.errors import UserError
from stylejax.io import checkpoints, configs, images, mask_files, video, weights
from stylejax.methods import pixels, refine, video as video_method

MIN_SIDE = 16  # VGG pools four times before conv5_1
TILE_PIXELS = 4096 * 4096  # a tiling network's larger images go through exact tiles (configs/stylize.py's default)
REGION_SIDE = 384  # automatic regions are found at this long side (a network low-resolutions their masks anyway)


def preset(method, **overrides):
  """The config of configs/<method>.py (`method:arg` passes an argument, e.g. 'gatys:tiny') with
  `overrides` ({'loss__style_weight': 50} or {'loss.style_weight': 50})."""
  name, _, arg = method.partition(":")
  try:
    module = importlib.import_module(f"configs.{name}")
  except ModuleNotFoundError:
    raise UserError(f"unknown method {name!r}: no configs/{name}.py") from None
  return configs.override(module.get_config(arg or None), overrides)


def load_vgg(config):
  """The VGG of a config's `vgg` section."""
  return weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)


def read_inputs(config):
  """Validates an optimize config and decodes every input once: (content, styles, blend, content mask, style
  mask)."""
  settings.transfer_settings(config)
  settings.objective(config)
  style_paths, blend = settings.style_inputs(config)
  content = images.read_rgb(settings.paths(config.content, "content")[0], config.max_input_pixels)
  styles = [images.read_rgb(path, config.max_input_pixels) for path in style_paths]
  source = config.masks.source
  if source != "none" and len(styles) != 1:
    raise UserError("masks work with one style image")
  content_mask = style_mask = None
  if source in ("files", "labels"):
    if not (config.masks.content and config.masks.style):
      raise UserError(f"masks.source={source} needs masks.content and masks.style files")
    read = mask_files.load_label_map if source == "labels" else mask_files.load_segmentation
    content_mask, style_mask = (read(path, config.max_input_pixels)
                                for path in (config.masks.content, config.masks.style))
  return content, styles, blend, content_mask, style_mask


def as_image(image, max_pixels=images.DEFAULT_MAX_PIXELS):
  """A PIL RGB image from a path, a PIL image or an (H, W, 3) 0..255 array (decoded once)."""
  if isinstance(image, Image.Image):
    return image.convert("RGB")
  if isinstance(image, np.ndarray) or isinstance(image, jax.Array):
    return images.from_array(np.asarray(image))
  return images.read_rgb(image, max_pixels)


def fit(image, long_side):
  """A decoded image at `long_side` as float32 (H, W, 3), refused if VGG cannot see it."""
  array = images.at_long_side(image, long_side)
  if min(array.shape[:2]) < MIN_SIDE:
    raise UserError(f"an input at long side {long_side} is {array.shape[1]}x{array.shape[0]} px; "
                    f"VGG needs at least {MIN_SIDE} px per side (raise image_size)")
  return array


def find_masks(masks, vgg, content, style, long_side, style_scale=1.0, content_mask=None, style_mask=None):
  """(content masks, style masks, region names) for decoded `content` and `style` at `long_side` (the style at
  long_side · style_scale), per `masks` (core.masks.MaskSettings), or None without masks.

  content_mask, style_mask: Luan's colour-coded images ((H, W, 3) 0..255,
  source files) or integer label maps ((H, W), source labels) of
  the same aspect ratio as their images.
  """
  if masks.source == "none":
    return None
  content, style = fit(content, long_side), fit(style, max(1, round(long_side * style_scale)))
  if masks.source == "auto":
    return masks_lib.auto_masks(vgg, content, style, masks.regions, seed=masks.seed)
  if content_mask is None or style_mask is None:
    raise UserError(f"masks.source={masks.source} needs masks.content and masks.style files")
  content_mask = mask_files.resize_nearest(content_mask, *content.shape[:2], masks.content_name)
  style_mask = mask_files.resize_nearest(style_mask, *style.shape[:2], masks.style_name)
  if masks.source == "labels":
    groups, group_names = mask_files.read_groups(masks.label_groups or None)
    return masks_lib.label_masks(content_mask, style_mask, groups, group_names)
  return masks_lib.color_masks(content_mask, style_mask, masks.content_name, masks.style_name)


def style_targets(objective, vgg, style, long_side, max_pixels=images.DEFAULT_MAX_PIXELS):
  """Gram targets of one style image (a path, PIL image or array) at `long_side`, computed once:
  (grams, the style image (H, W, 3) as it was seen)."""
  style = images.at_long_side(as_image(style, max_pixels), long_side)
  return objective.blended_style_grams(vgg, [style]), style


@functools.cache
def _vgg16():
  """The embedded VGG16, loaded once: for scoring and automatic regions."""
  return weights.load_vgg("vgg16")


def score(output, content, style, content_mask=None, style_mask=None):
  """The fixed scoring protocol (stylejax.core.scoring) of `output` against its content and style photos.

  Images are arrays, PIL images or paths, at any size (the output with the
  content's aspect ratio); content_mask, style_mask: Luan's colour-coded masks
  of their images (or None: unmasked style distance). Returns a dict of floats.
  """
  content, output, style = (fit(as_image(image), scoring.SIZE) for image in (content, output, style))
  height, width = content.shape[:2]
  if abs(output.shape[0] / output.shape[1] - height / width) > 0.02:
    raise UserError(f"the output is {output.shape[1]}x{output.shape[0]} at long side {scoring.SIZE} but its "
                    f"content photo is {width}x{height}: a different aspect ratio")
  if output.shape != content.shape:
    output = images.resize(output, height, width)
  content_masks, style_masks = region_masks(content_mask, style_mask, content.shape, style.shape, "scoring")
  return scoring.score(_vgg16(), output, content, style, content_masks, style_masks)


def region_masks(content_mask, style_mask, content_shape, style_shape, purpose):
  """(content's (H, W, K), style's (h, w, K)) region masks from Luan's colour-coded masks (arrays, PIL images or
  paths, any size) resized (nearest) to the two images' shapes, region k of one matching region k of the other;
  (None, None) without masks. `purpose` names the work in the error for a missing one."""
  if (content_mask is None) != (style_mask is None):
    raise UserError(f"{purpose} with masks needs both the content's and the style's mask")
  if content_mask is None:
    return None, None
  content_mask, style_mask = (mask_files.load_segmentation(m) if isinstance(m, (str, os.PathLike))
                              else np.asarray(m, np.float32) for m in (content_mask, style_mask))
  content_masks, style_masks, _ = masks_lib.color_masks(
      mask_files.resize_nearest(content_mask, *content_shape[:2], "content mask"),
      mask_files.resize_nearest(style_mask, *style_shape[:2], "style mask"))
  return content_masks, style_masks


@functools.cache
def refine_objective():
  """(Objective, VGG) that `Model.stylize_many` refines against: configs/luan.py's, its style term masked."""
  config = preset("luan", masks__source="files")
  return settings.objective(config), load_vgg(config)


def auto_regions(content, style, regions, seed=0):
  """(content's (h, w, K), style's (h', w', K)) masks of up to `regions` regions that a photo and its style (arrays,
  PIL images or paths) share, found automatically (core.masks.auto_masks: k-means of both images' deep VGG16
  features jointly) at long side REGION_SIDE: the masks a network that takes them (the universal one) uses
  without segmentation files."""
  content, style = (fit(as_image(image), REGION_SIDE) for image in (content, style))
  content_masks, style_masks, _ = masks_lib.auto_masks(_vgg16(), content, style, regions, seed=seed)
  return content_masks, style_masks


@dataclasses.dataclass
class PixelTransfer:
  """One pixel optimisation (Gatys; Luan with masks and the affine term) over its phases.

  Built from typed settings (stylejax.settings.transfer_settings), the objective
  and decoded images; `run` fills in the fields as it goes, so a caller
  interrupted mid-run (Ctrl-C) still has the latest good image.
  """
  settings: pixels.TransferSettings
  objective: objective_lib.Objective
  content: Image.Image
  styles: list
  blend: list
  vgg: object
  masks: tuple = None  # (content, style, names) at the final content/style sizes, from find_masks
  image: np.ndarray = None  # latest good result, (H, W, 3) 0..255
  content_at_scale: np.ndarray = None
  step: int = 0
  halted_at: int = None
  converged_at: list = dataclasses.field(default_factory=list)  # steps where a phase stopped early (stop_tolerance)
  boundaries: list = dataclasses.field(default_factory=list)
  scales: list = dataclasses.field(default_factory=list)
  timing: list = dataclasses.field(default_factory=list)  # per phase: [(steps, seconds) per chunk]

  def __post_init__(self):
    self.plan = pixels.phases(self.objective, self.settings.sizes, self.settings.steps, self.settings.two_stage)

  def style_size(self, long_side):
    return max(1, round(long_side * self.settings.style_scale))

  def targets(self, content, long_side):
    """The objective's targets at one scale (content (H, W, 3) at that scale)."""
    styles = [fit(style, self.style_size(long_side)) for style in self.styles]
    content_masks = style_masks = None
    if self.masks is not None:
      content_masks = masks_lib.resize(self.masks[0], *content.shape[:2])
      style_masks = [masks_lib.resize(self.masks[1], *styles[0].shape[:2])]
    grams = self.objective.blended_style_grams(self.vgg, styles, self.blend, style_masks)
    return self.objective.targets(self.vgg, jnp.asarray(content)[None], grams, content_masks)

  def initial_image(self, content, rng, previous_content=None):
    """The starting pixels per settings.init, or the previous phase's result, carried to a finer
    scale per settings.upsample: `resize` (Lanczos) or `guided` (its local affine colour
    transforms of previous_content applied to the finer content: postprocess.guided_upsample)."""
    height, width = content.shape[:2]
    if self.image is not None:
      previous = self.image
      if previous.shape[:2] == (height, width):
        return previous
      if self.settings.upsample == "guided":
        return postprocess.guided_upsample(previous, previous_content, content)
      return images.resize(previous, height, width)
    init = self.settings.init
    if init == "content":
      return content
    noise = np.asarray(jax.random.uniform(rng, content.shape, jnp.float32, 0.0, 255.0))
    if init == "noise":
      return noise
    if init == "mix":
      return self.settings.noise_ratio * noise + (1.0 - self.settings.noise_ratio) * content
    return images.resize(images.load_image(init, None, self.settings.max_input_pixels), height, width)

  def run(self, on_chunk=None):
    """Runs every phase; on_chunk(step, x or None, terms, seconds) after each chunk (x None: a phase's start)."""
    run, plan = self.settings, self.plan
    rng = jax.random.key(run.seed)
    targets = previous_content = None
    for k, (long_side, stage, steps) in enumerate(plan):
      if k == 0 or long_side != plan[k - 1][0]:
        previous_content, self.content_at_scale = self.content_at_scale, fit(self.content, long_side)
        targets = self.targets(self.content_at_scale, long_side)
        self.scales.append({"long_side": long_side, "height": self.content_at_scale.shape[0],
                            "width": self.content_at_scale.shape[1]})
      stage_targets = {key: value for key, value in targets.items() if key in stage.needed_targets}
      x = jnp.asarray(self.initial_image(self.content_at_scale, jax.random.fold_in(rng, k), previous_content),
                      jnp.float32)[None]
      self.image = np.asarray(x[0])
      self.boundaries.append(self.step)
      start, phase_timing = self.step, []
      if on_chunk:
        on_chunk(self.step, None, pixels.evaluate(self.vgg, stage_targets, x, objective=stage), None)

      def chunk_done(done, x, terms, seconds, start=start, phase_timing=phase_timing):
        self.image, self.step = np.asarray(x[0]), start + done
        phase_timing.append((done - sum(n for n, _ in phase_timing), seconds))
        if on_chunk:
          on_chunk(self.step, x, terms, seconds)

      self.timing.append(phase_timing)
      x, halted, converged = pixels.optimize(x, self.vgg, stage_targets, stage, optimizer_name=run.optimizer,
                                             learning_rate=run.learning_rate, steps=steps,
                                             chunk=run.chunk, tolerance=run.stop_tolerance,
                                             on_chunk=chunk_done)
      if converged is not None:
        self.converged_at.append(start + converged)
      if halted is not None:
        self.halted_at = start + halted
        return self
    return self

  def result(self):
    """The latest image with the configured post-processing (smooth_affine, original colours)."""
    result = self.image
    if self.settings.postprocess == "smooth_affine":
      result = postprocess.smooth_affine(result, self.content_at_scale, self.settings.smooth_radius,
                                         self.settings.smooth_eps)
    if self.settings.original_colors:
      result = images.original_colors(result, self.content_at_scale)
    return result


def transfer(content, style, method="gatys", *, vgg=None, content_mask=None, style_mask=None, **overrides):
  """Stylises `content` with `style` (one image or a list) by pixel optimisation; returns (H, W, 3) 0..255.

  method: a preset of configs/ ('gatys', 'luan'); overrides: its keys (see
  `preset`). content_mask / style_mask: arrays for masks.source=files|labels.
  Raises UserError if the loss became NaN/Inf.
  """
  config = settings.resolve_schedule(preset(method, **overrides), jax.default_backend())
  plan, objective = settings.transfer_settings(config), settings.objective(config)
  vgg = vgg or load_vgg(config)
  styles = [as_image(s, config.max_input_pixels) for s in (style if isinstance(style, (list, tuple)) else [style])]
  blend = settings.as_list(config.style_blend_weights, float, "style_blend_weights") or [1.0] * len(styles)
  content = as_image(content, config.max_input_pixels)
  masks = find_masks(settings.mask_settings(config), vgg, content, styles[0], plan.sizes[-1], plan.style_scale,
                     content_mask, style_mask)
  run = PixelTransfer(plan, objective, content, styles, blend, vgg, masks).run()
  if run.halted_at is not None:
    raise UserError(f"loss became NaN or Inf at step {run.halted_at}")
  return run.result()


@dataclasses.dataclass
class Model:
  """A trained feed-forward network (any kind of stylejax.core.networks): `stylize(image)` -> (H, W, 3)
  float32 in 0..255."""
  net: networks.Network
  params: dict
  step: int
  config: object

  def tiled(self, shape, tile_pixels=TILE_PIXELS):
    """Whether an image of `shape` goes through exact tiled inference: a tiling kind's (the kind declares
    it; the others take any size in one pass) above tile_pixels."""
    return self.net.tiles and shape[0] * shape[1] > tile_pixels

  def check_style(self, given, name="style"):
    """Refuses a style image (`name`) where the network takes none, and its absence where it needs one."""
    if self.net.takes_style and not given:
      raise UserError(f"a {self.net.kind} network needs a style image: set {name}")
    if given and not self.net.takes_style:
      raise UserError(f"a {self.net.kind} network takes no style image ({name}): its style is trained in")

  def check_masks(self, name="region masks"):
    """Refuses region masks (`name`: what asked for them) where the network takes none."""
    if not self.net.takes_masks:
      raise UserError(f"a {self.net.kind} network takes no region masks ({name}); the universal network does")

  def check_refines(self, name="refine_steps"):
    """Refuses refinement (`name`: what asked for it) where the network has no grid to refine."""
    if not self.net.refines:
      raise UserError(f"a {self.net.kind} network has no grid to refine ({name}); the universal network has")

  def stylize_many(self, contents, style=None, options=None, masks=None):
    """Stylised copies of (H, W, 3) float images in 0..255 (with `style`, an (H, W, 3) style image, for a
    network that takes one), per `options` (StylizeOptions): same-size images in full batches, the rest
    one at a time (so each size compiles at most two programs), those `tiled` in exact tiles. A network that
    takes region masks gets each image's (content's, style's) masks from `masks` (one pair per image) or, with
    options.regions, from `auto_regions`; each such image goes alone, as does each image refined
    (options.refine_steps: stylejax.methods.refine, against slow Luan's objective)."""
    options = options or StylizeOptions()
    self.check_style(style is not None)
    if masks is not None or options.regions:
      self.check_masks("regions" if options.regions else "region masks")
    if options.regions and masks is None:
      masks = [auto_regions(content, style, options.regions) for content in contents]
    if options.refine_steps:
      self.check_refines()
      objective, vgg = refine_objective()
      results = []
      for k, content in enumerate(contents):
        results.append(refine.refine(self.net, self.params, content, style, None if masks is None else masks[k],
                                     objective, vgg, options.refine_steps, options.strength))
        xla.drop_programs_when_crowded()  # each photo shape compiles large programs of its own
    else:
      results = self._one_pass(contents, style, options, masks)
    if options.original_colors:
      results = [images.original_colors(result, content) for result, content in zip(results, contents)]
    return results

  def _one_pass(self, contents, style, options, masks):
    """`stylize_many`'s network passes: same-size images batched (alone with masks), large ones tiled."""
    results, sizes = [None] * len(contents), collections.defaultdict(list)
    for k, content in enumerate(contents):
      if self.tiled(content.shape, options.tile_pixels):
        results[k] = tiling.stylize_tiled(self.net, self.params, content, options.tile_size, options.strength)
      else:
        sizes[content.shape[:2]].append(k)
    batch_size = 1 if masks is not None else options.batch_size
    for indices in sizes.values():
      full = len(indices) // batch_size * batch_size
      chunks = [indices[i:i + batch_size] for i in range(0, full, batch_size)]
      for chunk in chunks + [[k] for k in indices[full:]]:
        batch = jnp.asarray(np.stack([contents[k] for k in chunk]))
        given = None if masks is None else tuple(jnp.asarray(m)[None] for m in masks[chunk[0]])
        stylised = networks.stylize(self.net, self.params, batch, self._styles(style, len(chunk)), options.strength,
                                    given)
        for k, image in zip(chunk, np.asarray(stylised)):
          results[k] = image
    return results

  def clip_start(self, frames_shape, style=None, smoothing=temporal.Smoothing()):
    """The state before a video's first frame, for batches of frames shaped `frames_shape` (B, H, W, 3) [and a
    style image]: see stylejax.core.networks.clip_start."""
    return networks.clip_start(self.net, self.params, frames_shape, self._styles(style, frames_shape[0]), smoothing)

  def stylize_frames(self, frames, state, style=None, options=None):
    """(stylised frames (B, H, W, 3) in 0..255, state after them) for the next frames (B, H, W, 3) of a video,
    from `state` (`clip_start`, or the previous call's); per `options` (StylizeOptions) but in one batch.
    Frames above tile_pixels go through a tiling kind's exact tiles, one by one (such a kind carries no state).
    The result stays on the device until read (np.asarray), so the caller can encode the previous batch
    meanwhile."""
    options = options or StylizeOptions()
    if self.tiled(frames.shape[1:3], options.tile_pixels):
      return np.stack(self.stylize_many(list(frames), style, options)), state
    out, state = networks.stylize_frames(self.net, self.params, jnp.asarray(frames), state,
                                         self._styles(style, len(frames)), options.strength)
    if options.original_colors:
      out = np.stack([images.original_colors(result, content) for result, content in zip(np.asarray(out), frames)])
    return out, state

  def stylize_video(self, source, target, style=None, options=None, smoothing=temporal.Smoothing(), parts="",
                    chunk=64, frames_folder="", frame_format=".jpg", progress=None, frame_rate=None):
    """Writes `target`, the video file `source` stylised (stylejax.methods.video.stylize_clip: batches of
    options.batch_size frames, the state of `clip_start` carried through, segments of `chunk` frames kept in
    `parts` (default: beside the target) so that a rerun after a kill resumes; the source's frame rate, size,
    frame count and audio kept; each frame also written into `frames_folder` as 000000`frame_format`, ..., when
    given). `source` may be a folder of frames, played at `frame_rate` (stylejax.io.video.probe). `style`: an
    (H, W, 3) image for a network that takes one. Returns the number of frames stylised by this call."""
    plan, stylize, state, key = self.video_work(source, target, style, options, smoothing, parts, chunk, frame_rate)
    return video_method.stylize_clip(plan, stylize, state, key, frames_folder, frame_format, progress)

  def video_work(self, source, target, style=None, options=None, smoothing=temporal.Smoothing(), parts="", chunk=64,
                 frame_rate=None):
    """(plan, stylize, initial state, key): what stylejax.methods.video needs to stylise `source` into `target`
    with this model (see `stylize_video`): its cut into chunks, the batch function, the state before the first
    frame and the description of everything the result depends on (kept chunks of other work are not reused)."""
    options = options or StylizeOptions()
    self.check_style(style is not None)
    if options.regions or options.refine_steps:  # each frame's own regions or refinement would flicker
      raise UserError("automatic regions and refinement are for photos: stylise videos with regions=0 and "
                      "refine_steps=0")
    clip = video.probe(source, frame_rate)
    plan = video_method.Plan.of(clip, target, parts or target + ".parts", chunk, options.batch_size)
    state = self.clip_start((options.batch_size, clip.height, clip.width, 3), style, smoothing)
    stat = os.stat(source)
    key = {"source": os.path.abspath(source), "bytes": stat.st_size, "modified": stat.st_mtime_ns,
           "rate": str(clip.rate), "model": self.config.to_dict(), "step": self.step,
           "style": None if style is None else hashlib.sha256(np.ascontiguousarray(style).tobytes()).hexdigest(),
           "options": dataclasses.asdict(options), "smoothing": dataclasses.asdict(smoothing)}
    return plan, lambda frames, state: self.stylize_frames(frames, state, style, options), state, key

  def _styles(self, style, batch):
    """The style image repeated for a batch, as the network takes it (None without one)."""
    return None if style is None else jnp.repeat(jnp.asarray(style, jnp.float32)[None], batch, axis=0)

  def stylize(self, image, style=None, content_mask=None, style_mask=None, **options):
    """One image (array, PIL image or path) at its own size; `style` likewise, for a network that takes one;
    content_mask, style_mask: Luan's colour-coded masks of the image and the style (any size), for a network
    that takes masks: each region of the image takes its colours from the style's region of the same colour
    (`regions=K` finds K regions without files: `auto_regions`); `options`: fields of StylizeOptions
    (strength=0.5, ...)."""
    style = None if style is None else images.at_long_side(as_image(style))
    image = images.at_long_side(as_image(image))
    self.check_style(style is not None)
    masks = None
    if content_mask is not None or style_mask is not None:
      self.check_masks()
      masks = [region_masks(content_mask, style_mask, image.shape, style.shape, "stylising")]
    return self.stylize_many([image], style, StylizeOptions(**options), masks)[0]


@dataclasses.dataclass(frozen=True)
class StylizeOptions:
  """How a Model stylises (configs/stylize.py's keys of the same names)."""
  batch_size: int = 1  # same-size images per call
  strength: float = 1.0  # 0: the content; see networks.stylize
  tile_pixels: int = TILE_PIXELS  # a tiling network's larger images go through exact tiles
  tile_size: int = 1024  # the kept core of each tile (a multiple of 4)
  original_colors: bool = False  # keep the content's colours (YIQ luminance transfer)
  regions: int = 0  # a network that takes masks (universal): match up to K automatic regions (auto_regions); 0: off
  refine_steps: int = 0  # a network that refines (universal): Adam steps on each photo's grid (methods.refine)


def load_model(model_dir, compute_dtype=""):
  """The latest checkpoint of a `train` workdir (or an exported model directory) as a Model ('' dtype: as
  trained)."""
  config = checkpoints.read_config(model_dir)
  if compute_dtype:
    config.compute_dtype = compute_dtype
  net = settings.network(config)
  abstract = jax.eval_shape(lambda x: net.init(jax.random.key(0), x, x if net.takes_style else None),
                            jax.ShapeDtypeStruct((1, 16, 16, 3), jnp.float32))
  params, step = checkpoints.restore_params(model_dir, abstract)
  return Model(net, params, step, config)
