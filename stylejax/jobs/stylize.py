"""Stylise photos with a trained network (job `stylize`, configs/stylize.py).

  python run.py --config configs/stylize.py --workdir runs/stylize \
      --config.checkpoint=runs/starry --config.input=photos/ --config.output=styled/

`checkpoint` is a `train` workdir of any network kind (its config.json
describes the network: a Johnson network, artistic or the thesis's
photorealistic one, or a bilateral-grid network; its latest checkpoint holds
the parameters). `input` is a file, a folder (searched
recursively; the tree is mirrored below `output`) or a glob pattern. Every image
is stylised at its own size (or `max_side`), same-size images in batches;
images above `tile_pixels` go through a Johnson network in exact tiles
(stylejax.tiling); a bilateral network stylises any size in one pass. A
network that takes a style input (a universal one, configs/universal_photo.py)
gives every input the style photo `style`, decoded once; the others refuse one.
With `regions=K` such a network matches up to K regions that each photo shares
with the style (sky to sky, trees to trees), found automatically (api.auto_regions),
and with `refine_steps=N` refines each photo's grid for N steps against slow
Luan's objective (stylejax.methods.refine): slower, closer to the style.
With `content_masks` and `style_mask` (Luan's colour-coded segmentation
files) it matches the regions they give instead: each input's mask is the file
`content_masks` (one input) or, for a folder, the PNG at the input's relative
path below it (`MaskFiles`); an input without its mask fails alone.
Videos (mp4, m4v, mov, mkv, webm, avi, animated gif; or, with `frame_rate`, the
input folder as one clip of frames) are stylised after the images, one by one, with
a progress bar in frames (Model.stylize_video, docs/video.md): same container, rate,
size, frame count and audio; resumable by chunks kept in the workdir's video_parts/.
Existing outputs are skipped, so a rerun resumes; unreadable images are
reported and skipped, and the job exits non-zero at the end if any failed.
Ctrl-C or SIGTERM stops it after the images of the current batch are written
(its stop point); stylize.json then says `status: interrupted` and counts
what was done.

`engine=ray` runs the same work as a Ray Data pipeline (the optional extra
`.[ray]`): decoding in tasks on the cluster's CPUs, the network in a pool of
actors (one per GPU, or `ray_actors`) that batch same-size images and write
the results; outputs are written atomically and existing ones skipped as with
the local engine. A video's chunks are shared among `ray_actors` Ray tasks, each
warming its network's state up on the `video_overlap` frames before its share; the
driver joins them. `ray_address` names the cluster ("" starts a local one, or joins
$RAY_ADDRESS).
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import glob
import itertools
import os
import time

import jax
import numpy as np

from stylejax import api, errors, settings
from stylejax.core import tiling
from stylejax.errors import UserError
from stylejax.core import temporal
from stylejax.io import assets, compile_cache, data, images, mask_files, runlog, video
from stylejax.methods import video as video_method

FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}  # output_format -> file extension
ENGINES = ("local", "ray")
# The ranges of the numeric settings: [low, high]; the pixel counts' high end is the config's max_input_pixels.
RANGES = {"batch_size": (1, 1024), "tile_size": (64, 16384), "max_side": (0, 65536), "num_threads": (1, 256),
          "quality": (0, 100), "ray_actors": (0, 4096), "max_input_pixels": (1, 2**40), "video_chunk": (1, 100_000),
          "video_overlap": (0, 100_000), "frame_rate": (0, 1000), "regions": (0, 16),
          "refine_steps": (0, 100_000)}
MAX_SHARDS = 100_000  # the largest N of --config.shard=I/N


def input_files(spec):
  """[(path, path relative to the input root)] for a file, a folder or a glob pattern; each real file once."""
  if os.path.isdir(spec):
    return [(p, os.path.relpath(p, spec)) for p in data.image_files(spec, data.IMAGE_EXTENSIONS + video.EXTENSIONS)]
  if os.path.isfile(spec):
    return [(spec, os.path.basename(spec))]
  matches = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
  unique = {}
  for path in matches:  # the first name of each real file
    unique.setdefault(os.path.realpath(path), path)
  matches = list(unique.values())
  if not matches:
    raise UserError(f"no input images: {spec!r} is not a file, a folder or a glob pattern that matches files")
  root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in matches])
  return [(p, os.path.relpath(os.path.abspath(p), root)) for p in matches]


def output_path(output_dir, relative, output_format, clip=False):
  """Where an input's result goes: its relative path below output_dir, with the output format's extension, or for
  a video (`clip`) its own container's (stylejax.io.video.output_extension)."""
  extension = video.output_extension(relative) if clip else FORMATS[output_format]
  return os.path.join(output_dir, os.path.splitext(relative)[0] + extension)


def shard(spec):
  """(index, count) of `--config.shard`: 'I/N' (0 <= I < N), or '' for this process's
  (jax.process_index(), jax.process_count())."""
  if not spec:
    return jax.process_index(), jax.process_count()
  index, _, count = spec.partition("/")
  form = "shard must be I/N with 0 <= I < N (e.g. 0/4)"
  index, count = (errors.whole_number(part, f"{form}; I and N each", MAX_SHARDS) for part in (index, count))
  if not index < count:
    raise UserError(f"{form}, got {spec!r}")
  return index, count


def plan(config):
  """(todo [(input, output)], number of outputs that exist already) for a config's input and output.

  Refuses an output folder that is or holds the input folder, and two inputs
  that would write one output (cat.jpg and cat.png); inputs inside the output
  folder (earlier outputs) are not read. With config.shard I/N this process
  takes the inputs I, I + N, I + 2N, ... of the sorted list, so N processes
  (or machines sharing the folders) stylise it without overlap.
  """
  index, count = shard(config.shard)
  output_root = os.path.realpath(config.output)
  inside_output = os.path.join(output_root, "")  # the prefix of every path below the output folder
  if os.path.isdir(config.input):
    input_root = os.path.realpath(config.input)
    if input_root == output_root or input_root.startswith(inside_output):
      raise UserError(f"the output folder {config.output} is or holds the input folder {config.input}; "
                      "choose an output folder outside it")
  todo, existing, writers = [], 0, {}
  if config.frame_rate and os.path.isdir(config.input):  # a folder of frames: one video
    inputs = [(config.input, os.path.basename(os.path.normpath(config.input)))]
  else:
    inputs = [(path, relative) for path, relative in input_files(config.input)
              if not os.path.realpath(path).startswith(inside_output)]  # an output folder inside the input is not input
  for number, (path, relative) in enumerate(inputs):
    target = output_path(config.output, relative, config.output_format, video.is_clip(path) or os.path.isdir(path))
    other = writers.setdefault(os.path.normcase(target).lower(), path)
    if other != path:
      raise UserError(f"{other} and {path} would both be written to {target}; rename one of them "
                      "(an output keeps its input's name, not its extension)")
    if number % count != index:
      continue  # another shard's
    if os.path.exists(target) and not config.overwrite:
      existing += 1
    else:
      todo.append((path, target))
  return todo, existing


@dataclasses.dataclass(frozen=True)
class MaskFiles:
  """Luan's colour-coded masks of the inputs and of the style, for a network that takes region masks: an input's
  mask is the file `content_masks` (one input) or, where it is a folder, the PNG at the input's path relative to the
  input root below it (masks/a/b.png for photos/a/b.jpg, found from the output path below `output`)."""
  content_masks: str
  output: str
  style_mask: np.ndarray  # (h, w, 3) 0..255

  def path(self, target):
    """The mask file of the input whose output is `target`."""
    if os.path.isfile(self.content_masks):
      return self.content_masks
    return os.path.join(self.content_masks, os.path.splitext(os.path.relpath(target, self.output))[0] + ".png")

  def regions(self, target, content, style):
    """(content's, style's) region masks (api.region_masks) for the input written to `target`; UserError if its
    mask file is missing or does not match the style's."""
    path = self.path(target)
    if not os.path.isfile(path):
      raise UserError(f"no mask file {path} for this photo (--config.content_masks)")
    return api.region_masks(path, self.style_mask, content.shape, style.shape, "stylize")


def mask_files_of(config, todo, existing):
  """The config's MaskFiles (None without --config.content_masks), the style's mask decoded once; refuses one
  side's masks without the other's, a single mask file for several inputs, and videos."""
  if bool(config.content_masks) != bool(config.style_mask):
    raise UserError("region masks need both --config.content_masks (the photos') and --config.style_mask "
                    "(the style's)")
  if not config.content_masks:
    return None
  if not os.path.exists(config.content_masks):
    raise UserError(f"--config.content_masks: no file or folder {config.content_masks}")
  if os.path.isfile(config.content_masks) and len(todo) + existing > 1:
    raise UserError(f"--config.content_masks is one file but there are {len(todo) + existing} inputs: give a "
                    "folder holding each input's mask at its relative path (masks/a/b.png for photos/a/b.jpg)")
  if _split(todo)[1]:
    raise UserError("mask files are for photos: stylise videos without --config.content_masks")
  style_mask = mask_files.load_segmentation(config.style_mask, config.max_input_pixels)
  return MaskFiles(config.content_masks, config.output, style_mask)


def _validate(config):
  if not config.checkpoint or not config.input or not config.output:
    raise UserError("stylize needs --config.checkpoint (a train workdir), --config.input and --config.output")
  if config.output_format not in FORMATS:
    raise UserError(f"unknown output_format {config.output_format!r}; choose one of {', '.join(FORMATS)}")
  if not 0.0 <= config.strength <= 1.0:
    raise UserError(f"strength must be in [0, 1], got {config.strength}")
  if config.engine not in ENGINES:
    raise UserError(f"unknown engine {config.engine!r}; choose one of {', '.join(ENGINES)}")
  for key, (low, high) in RANGES.items():
    settings.in_range(config[key], key, low, high)
  settings.in_range(config.tile_pixels, "tile_pixels", 1, config.max_input_pixels)
  if config.tile_size % tiling.ALIGN:
    raise UserError(f"tile_size must be a multiple of {tiling.ALIGN}, got {config.tile_size}")


def options(config):
  """The stylisation settings of a stylize config."""
  return api.StylizeOptions(config.batch_size, config.strength, config.tile_pixels, config.tile_size,
                            config.original_colors, config.regions, config.refine_steps)


def _prefetch(items, config):
  """Yields ((path, target), image or UserError), decoding up to 2·num_threads images ahead."""
  def result(item, future):
    try:
      return item, future.result()
    except UserError as e:
      return item, e

  with concurrent.futures.ThreadPoolExecutor(config.num_threads) as pool:
    window = collections.deque()
    for item in items:
      window.append((item, pool.submit(images.load_within, item[0], config.max_side, config.max_input_pixels)))
      if len(window) > 2 * config.num_threads:
        yield result(*window.popleft())
    while window:
      yield result(*window.popleft())


def save_options(config):
  """images.save_image's options for the configured output format."""
  return {"quality": config.quality} if config.output_format in ("jpeg", "webp") else {}


def smoothing(config):
  """How a video's transforms are smoothed in time (stylejax.core.temporal)."""
  try:
    return temporal.Smoothing(config.smoothing, config.scene_cut)
  except ValueError as e:
    raise UserError(str(e)) from None


def _video_work(config, path, target, style, workdir):
  """Model.video_work's arguments for one video: its finished chunks are kept in the workdir (video_parts/,
  mirroring the output tree) until the video is whole, so a rerun resumes."""
  return {"source": path, "target": target, "style": style, "options": options(config),
          "smoothing": smoothing(config), "chunk": config.video_chunk, "frame_rate": config.frame_rate,
          "parts": os.path.join(workdir, "video_parts", os.path.relpath(target, config.output))}


def _frames_folder(config, target):
  """Where a video's frames are also written as images (video_frames), or ''."""
  return os.path.splitext(target)[0] + "_frames" if config.video_frames else ""


def _split(todo):
  """(images, videos) of `todo` [(input, output)]: a video's output has a video extension."""
  clips = [(path, target) for path, target in todo if video.is_video(target)]
  return [item for item in todo if item not in clips], clips


def _stylize_clip(config, path, target, model, style, counts, failures, workdir):
  """Stylises one video as stylejax.methods.video.stylize_clip does, with a progress bar in frames that starts
  where an earlier run's kept chunks end."""
  try:
    plan, stylize, state, key = model.video_work(**_video_work(config, path, target, style, workdir))
    first, kept = video_method.resume(plan, key)
    with runlog.progress(plan.clip.frames, os.path.basename(os.path.normpath(path)), unit="frame",
                         initial=plan.frames_before(first)) as bar:
      done = video_method.stylize_chunks(plan, stylize, kept or state, first, plan.chunks, 0,
                                         _frames_folder(config, target), FORMATS[config.output_format], bar.update)
    video_method.finish(plan)
  except UserError as e:
    failures[path] = str(e)
    return
  counts.update(videos=1, frames=done, pixels=done * plan.clip.width * plan.clip.height)


def _stylize(model, style, options, masks, contents, targets):
  """({index: stylised image}, {index: why not}) of `contents` (to be written to `targets`): Model.stylize_many,
  with each one's mask files where `masks` (MaskFiles) is given; an image whose masks cannot be read is left out."""
  regions, unmasked = {}, {}
  for k, (content, target) in enumerate(zip(contents, targets)):
    try:
      regions[k] = masks and masks.regions(target, content, style)
    except UserError as e:
      unmasked[k] = str(e)
  kept = [k for k in range(len(contents)) if k not in unmasked]
  stylised = model.stylize_many([contents[k] for k in kept], style, options,
                                masks and [regions[k] for k in kept]) if kept else []
  return dict(zip(kept, stylised)), unmasked


def _stylize_images(config, todo, model, style, masks, counts, failures):
  """Stylises the images `todo`, decoded in threads, 4·batch_size at a time, with a progress bar in images."""
  with (contextlib.closing(_prefetch(todo, config)) as decoded,
        runlog.progress(len(todo), "stylize", unit="img") as bar):
    for window in iter(lambda: list(itertools.islice(decoded, 4 * config.batch_size)), []):
      failures.update({path: str(image) for (path, _), image in window if isinstance(image, UserError)})
      readable = [(path, target, image) for (path, target), image in window if not isinstance(image, UserError)]
      stylised, unmasked = _stylize(model, style, options(config), masks, [image for *_, image in readable],
                                    [target for _, target, _ in readable])
      failures.update({readable[k][0]: reason for k, reason in unmasked.items()})
      for k, result in stylised.items():
        _, target, content = readable[k]
        # Atomic: a crash never leaves a half-written output that a rerun would skip.
        images.save_image(target, result, **save_options(config))
        counts.update(images=1, pixels=content.shape[0] * content.shape[1],
                      tiled=model.tiled(content.shape, config.tile_pixels))
      bar.update(len(window))  # a stop point: this window's outputs are written


def _run_local(config, todo, model, style, masks, counts, failures, workdir):
  """Stylises `todo` in this process (with `style`, for a network that takes one, and `masks`): the images first
  (`_stylize_images`), then the videos one by one (`_stylize_clip`); adds to `counts` (collections.Counter) and
  `failures` ({path: reason}) as it goes. Stopped (Ctrl-C), its decoding threads end before it returns."""
  stills, clips = _split(todo)
  if stills or not clips:
    _stylize_images(config, stills, model, style, masks, counts, failures)
  for path, target in clips:
    _stylize_clip(config, path, target, model, style, counts, failures, workdir)


class _RayStylizer:
  """Ray Data actor: loads the model once, then stylises the decoded rows of each batch as the local engine
  does (`_stylize` with `options`, `style` and `masks`) and writes them (atomically, with `save`: save_image's
  options); only the facts go back. Its compiled programs persist in `cache` (in the workdir), so a rerun's
  actors do not compile again."""

  def __init__(self, checkpoint, compute_dtype, options, save, cache, style, masks):
    compile_cache.use(cache)
    self.model, self.options, self.save = api.load_model(checkpoint, compute_dtype), options, save
    self.style, self.masks = style, masks

  def __call__(self, batch):
    readable = [k for k, error in enumerate(batch["error"]) if not error]
    stylised, unmasked = _stylize(self.model, self.style, self.options, self.masks,
                                  [batch["image"][k] for k in readable], [batch["target"][k] for k in readable])
    errors = list(batch["error"])
    for j, reason in unmasked.items():
      errors[readable[j]] = reason
    for j, result in stylised.items():
      images.save_image(batch["target"][readable[j]], result, **self.save)
    return {"path": batch["path"], "error": np.array(errors),
            "pixels": np.array([image.shape[0] * image.shape[1] if not error else 0
                                for image, error in zip(batch["image"], errors)]),
            "tiled": np.array([self.model.tiled(image.shape, self.options.tile_pixels) and not error
                               for image, error in zip(batch["image"], errors)])}


def _ray_images(config, todo, workdir, style, masks, counts, failures, ray, gpus, actors):
  """Stylises the images `todo` (with `style` and `masks`) as a Ray Data pipeline; adds to `counts` and
  `failures`."""
  ray.data.DataContext.get_current().enable_progress_bars = False
  window = 4 * config.batch_size
  rows = ray.data.from_items([{"path": path, "target": target} for path, target in todo],
                             override_num_blocks=max(1, -(-len(todo) // window)))
  # Decoding asks for half a CPU, so Ray runs it in tasks beside the actors instead of fusing it into them.
  rows = rows.map(images.decode_row, fn_kwargs={"max_side": config.max_side, "max_pixels": config.max_input_pixels},
                  num_cpus=0.5)
  rows = rows.map_batches(_RayStylizer, batch_size=window, batch_format="numpy", num_gpus=1 if gpus else 0,
                          fn_constructor_args=(config.checkpoint, config.compute_dtype, options(config),
                                               save_options(config),
                                               os.path.join(os.path.abspath(workdir), "xla_cache"), style, masks),
                          compute=ray.data.ActorPoolStrategy(size=actors))
  with runlog.progress(len(todo), "stylize (ray)", unit="img") as bar:
    for row in rows.iter_rows():
      if row["error"]:
        failures[row["path"]] = row["error"]
      else:
        counts["images"] += 1
        counts["pixels"] += row["pixels"]
        counts["tiled"] += int(row["tiled"])
      bar.update(1)


def _stylize_share(model_dir, compute_dtype, cache, work, share, warmup, frames_folder, frame_format):
  """A Ray task: the chunks share = (first, last) of the video `work` (Model.video_work's arguments) into its
  parts folder (stylejax.methods.video.stylize_chunks, the state warmed up on the `warmup` frames before them;
  each frame also written into `frames_folder`, if given); returns the frames written. Its compiled programs
  persist in `cache`."""
  compile_cache.use(cache)
  plan, stylize, state, _ = api.load_model(model_dir, compute_dtype).video_work(**work)
  first, last = share
  return video_method.stylize_chunks(plan, stylize, state, first, last, warmup if first else 0, frames_folder,
                                     frame_format)


def _ray_clip(config, path, target, model, style, counts, failures, workdir, ray, gpus, workers):
  """Stylises one video on the cluster: its missing chunks shared out in contiguous ranges (one Ray task each,
  `_stylize_share`; a network that carries state warms it up on config.video_overlap frames before its range),
  then joined here. Kept chunks are reused by a rerun, as with the local engine."""
  work = _video_work(config, path, target, style, workdir)
  try:
    plan, _, _, key = model.video_work(**work)
    done = video_method.prepare(plan, key)
    warmup = config.video_overlap if model.net.smooths_in_time else 0
    task = ray.remote(num_gpus=1 if gpus else 0)(_stylize_share)
    cache = os.path.join(os.path.abspath(workdir), "xla_cache")
    pending = [task.remote(config.checkpoint, config.compute_dtype, cache, work, share, warmup,
                           _frames_folder(config, target), FORMATS[config.output_format])
               for share in video_method.shares(done, workers)]
    kept = sum(min(plan.chunk, plan.clip.frames - k * plan.chunk) for k, finished in enumerate(done) if finished)
    written = 0
    with runlog.progress(plan.clip.frames, os.path.basename(os.path.normpath(path)) + " (ray)", unit="frame",
                         initial=kept) as bar:
      while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        try:
          frames = ray.get(ready[0])
        except ray.exceptions.RayTaskError as e:
          if isinstance(e.cause, UserError):
            raise e.cause from None
          raise
        written += frames
        bar.update(frames)
    video_method.finish(plan)
  except UserError as e:
    failures[path] = str(e)
    return
  counts.update(videos=1, frames=written, pixels=written * plan.clip.width * plan.clip.height)


def _run_ray(config, todo, model, workdir, style, masks, counts, failures):
  """Stylises `todo` (with `style` and `masks`) on a Ray cluster (config.ray_address): the images as a Ray Data pipeline
  (`_ray_images`), the videos shared out by chunks (`_ray_clip`); adds to `counts` and `failures` as `_run_local`
  does."""
  try:
    import ray
  except ImportError:
    raise UserError("engine=ray needs Ray: pip install -e '.[ray]'") from None
  if not todo:
    return
  if not ray.is_initialized():
    ray.init(address=config.ray_address or None, include_dashboard=False, log_to_driver=False)
  gpus = int(ray.cluster_resources().get("GPU", 0))
  actors = config.ray_actors or max(1, gpus)
  stills, clips = _split(todo)
  if stills:
    _ray_images(config, stills, workdir, style, masks, counts, failures, ray, gpus, actors)
  for path, target in clips:
    _ray_clip(config, path, target, model, style, counts, failures, workdir, ray, gpus, actors)


def run(config, workdir):
  """The `stylize` job; writes stylize.json (status, counts, failures, speed) in the workdir."""
  job_start = time.perf_counter()
  _validate(config)
  todo, existing = plan(config)
  model = api.load_model(config.checkpoint, config.compute_dtype)  # also checks the checkpoint before Ray starts
  model.check_style(bool(config.style), "--config.style")
  if config.regions:
    model.check_masks("--config.regions")
  masks = mask_files_of(config, todo, existing)
  if masks is not None:
    model.check_masks("--config.content_masks")
    if config.regions:
      raise UserError("--config.content_masks gives the regions: leave --config.regions at 0")
  if config.refine_steps:
    model.check_refines("--config.refine_steps")
  style = None
  if config.style:  # decoded once, for every input
    style = images.load_within(assets.resolve(config.style), config.max_side, config.max_input_pixels)
  os.makedirs(workdir, exist_ok=True)
  start, counts, failures, status = time.perf_counter(), collections.Counter(), {}, "finished"
  try:
    if config.engine == "ray":
      _run_ray(config, todo, model, workdir, style, masks, counts, failures)
    else:
      _run_local(config, todo, model, style, masks, counts, failures, workdir)
  except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what is written stays, and the summary says how far it got
    status = "interrupted"
  for folder, _, _ in os.walk(os.path.join(workdir, "video_parts"), topdown=False):
    with contextlib.suppress(OSError):  # the empty folders of finished videos go; kept chunks stay
      os.rmdir(folder)
  seconds = time.perf_counter() - start
  summary = {"status": status, "checkpoint": os.path.abspath(config.checkpoint), "checkpoint_step": model.step,
             "style": os.path.abspath(assets.resolve(config.style)) if config.style else None,
             **{key: os.path.abspath(config[key]) if config[key] else None for key in ("content_masks", "style_mask")},
             "engine": config.engine, "shard": "{}/{}".format(*shard(config.shard)),
             "stylised": counts["images"], "tiled": counts["tiled"], "skipped_existing": existing,
             "videos": counts["videos"], "frames": counts["frames"],
             "frames_per_s": counts["frames"] / seconds if counts["frames"] and seconds else None,
             "failed": failures, "seconds": seconds, "job_seconds": time.perf_counter() - job_start,
             "images_per_s": counts["images"] / seconds if seconds else None,
             "megapixels_per_s": counts["pixels"] / 1e6 / seconds if seconds else None,
             "compute_dtype": model.net.dtype, **runlog.environment()}
  runlog.write_json(os.path.join(workdir, "stylize.json"), summary)
  if status == "interrupted":
    raise KeyboardInterrupt
  if failures:
    raise UserError(f"{len(failures)} of {len(todo)} images failed (listed in {workdir}/stylize.json), "
                    f"e.g. {next(iter(failures.values()))}")
  return summary
