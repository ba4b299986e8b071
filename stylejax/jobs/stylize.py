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
(stylejax.tiling); a bilateral network stylises any size in one pass.
Existing outputs are skipped, so a rerun resumes; unreadable images are
reported and skipped, and the job exits non-zero at the end if any failed.
"""

import collections
import concurrent.futures
import glob
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from stylejax import api
from stylejax.core import nets, tiling
from stylejax.errors import UserError
from stylejax.io import data, images, runlog

FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}  # output_format -> file extension


def input_files(spec):
  """[(path, path relative to the input root)] for a file, a folder or a glob pattern; each real file once."""
  if os.path.isdir(spec):
    return [(p, os.path.relpath(p, spec)) for p in data.image_files(spec)]
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


def output_path(output_dir, relative, output_format):
  return os.path.join(output_dir, os.path.splitext(relative)[0] + FORMATS[output_format])


def shard(spec):
  """(index, count) of `--config.shard`: 'I/N' (0 <= I < N), or '' for this process's
  (jax.process_index(), jax.process_count())."""
  if not spec:
    return jax.process_index(), jax.process_count()
  index, _, count = spec.partition("/")
  if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
    raise UserError(f"shard must be I/N with 0 <= I < N (e.g. 0/4), got {spec!r}")
  return int(index), int(count)


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
  inputs = [(path, relative) for path, relative in input_files(config.input)
            if not os.path.realpath(path).startswith(inside_output)]  # an output folder inside the input is not input
  for number, (path, relative) in enumerate(inputs):
    target = output_path(config.output, relative, config.output_format)
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


def _validate(config):
  if not config.checkpoint or not config.input or not config.output:
    raise UserError("stylize needs --config.checkpoint (a train workdir), --config.input and --config.output")
  if config.output_format not in FORMATS:
    raise UserError(f"unknown output_format {config.output_format!r}; choose one of {', '.join(FORMATS)}")
  if not 0.0 <= config.strength <= 1.0:
    raise UserError(f"strength must be in [0, 1], got {config.strength}")
  if config.batch_size < 1 or config.tile_size < 64 or config.tile_size % tiling.ALIGN:
    raise UserError("batch_size must be >= 1 and tile_size a multiple of 4, at least 64")


def _read(path, config):
  image = images.load_image(path, None, config.max_input_pixels)
  if config.max_side and max(image.shape[:2]) > config.max_side:
    image = images.resize(image, *images.fit_long_side(*image.shape[:2], config.max_side))
  return image


def _finish(content, stylised, config):
  """Optionally the content's colours (YIQ)."""
  return images.original_colors(stylised, content) if config.original_colors else stylised


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
      window.append((item, pool.submit(_read, item[0], config)))
      if len(window) > 2 * config.num_threads:
        yield result(*window.popleft())
    while window:
      yield result(*window.popleft())


def run(config, workdir):
  """The `stylize` job; writes stylize.json (counts, failures, speed) in the workdir."""
  _validate(config)
  todo, existing = plan(config)
  model = api.load_model(config.checkpoint, config.compute_dtype)
  net, params, step = model.net, model.params, model.step
  os.makedirs(workdir, exist_ok=True)
  save_options = {"quality": config.quality} if config.output_format in ("jpeg", "webp") else {}
  failures, counts = {}, collections.Counter()
  pending = collections.defaultdict(list)  # (h, w) -> [(content, target)], batched by size

  def write(content, stylised, target):
    # Atomic: a crash never leaves a half-written output that a rerun would skip.
    images.save_image(target, _finish(content, stylised, config), **save_options)
    counts["images"] += 1
    counts["pixels"] += content.shape[0] * content.shape[1]
    bar.update(1)

  def flush(size):
    batch = pending.pop(size)
    stylised = np.asarray(nets.stylize(net, params, jnp.asarray(np.stack([c for c, _ in batch])), config.strength))
    for (content, target), out in zip(batch, stylised):
      write(content, out, target)

  bar = runlog.progress(len(todo), "stylize", unit="img")
  start = time.perf_counter()
  try:
    for (path, target), content in _prefetch(todo, config):
      if isinstance(content, UserError):
        failures[path] = str(content)
        bar.update(1)
      elif model.tiles and content.shape[0] * content.shape[1] > config.tile_pixels:
        write(content, tiling.stylize_tiled(net, params, content, config.tile_size, config.strength), target)
        counts["tiled"] += 1
      else:
        pending[content.shape[:2]].append((content, target))
        if len(pending[content.shape[:2]]) == config.batch_size:
          flush(content.shape[:2])
        if sum(map(len, pending.values())) >= 4 * config.batch_size:  # bound host memory
          for size in list(pending):
            flush(size)
    for size in list(pending):
      flush(size)
  finally:
    bar.close()
  seconds = time.perf_counter() - start
  summary = {"checkpoint": os.path.abspath(config.checkpoint), "checkpoint_step": step,
             "shard": "{}/{}".format(*shard(config.shard)),
             "stylised": counts["images"], "tiled": counts["tiled"], "skipped_existing": existing,
             "failed": failures, "seconds": seconds, "images_per_s": counts["images"] / seconds if seconds else None,
             "megapixels_per_s": counts["pixels"] / 1e6 / seconds if seconds else None,
             "compute_dtype": jnp.dtype(net.dtype).name, **runlog.environment()}
  runlog.write_json(os.path.join(workdir, "stylize.json"), summary)
  if failures:
    raise UserError(f"{len(failures)} of {len(todo)} images failed (listed in {workdir}/stylize.json), "
                    f"e.g. {next(iter(failures.values()))}")
  return summary
