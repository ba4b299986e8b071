"""Stylising a video file frame by frame with a state carried between frames, resumable after a kill.

`stylize_clip` decodes the clip in a background thread, stylises it in batches of frames (the network's
state, e.g. its smoothed grid, carried from batch to batch: stylejax.core.temporal), and encodes the
results into segments of `chunk` frames (stylejax.io.video.Segment) while the next batch computes (JAX
dispatches asynchronously). Each finished segment is kept in `parts` with the state after its last frame,
so a rerun after a kill starts at the first unfinished chunk with the state the killed run had there, and
writes the same file. When every chunk is done the segments are joined, with the source's audio, into the
target, and `parts` is removed. Memory holds a few batches, whatever the clip's length.

Workers on a cluster (the stylize job's engine=ray) share a clip's chunks (`shares`): each stylises a
contiguous range, its state warmed up on the frames before the range (`stylize_chunks`' warmup), and the
driver joins the segments (`finish`).
"""

import contextlib
import dataclasses
import itertools
import json
import os
import queue
import shutil
import threading

import flax.serialization
import numpy as np

from stylejax.io import atomic, images, runlog, video

MANIFEST = "manifest.json"  # in `parts`: what the kept chunks were made with


@dataclasses.dataclass(frozen=True)
class Plan:
  """How a clip is cut for stylisation: chunks of `chunk` frames (whole batches of `batch_size`), each kept as a
  segment of the target's container in `parts` with the state after its last frame."""
  clip: video.Clip
  target: str
  parts: str
  chunk: int
  batch_size: int

  @classmethod
  def of(cls, clip, target, parts, chunk, batch_size):
    return cls(clip, target, parts, -(-chunk // batch_size) * batch_size, batch_size)

  @property
  def chunks(self):
    return -(-self.clip.frames // self.chunk)

  def frames_before(self, index):
    """The frames of the chunks before chunk `index`."""
    return min(index * self.chunk, self.clip.frames)

  def segment(self, index):
    return os.path.join(self.parts, f"{index:06d}{video.output_extension(self.target)}")

  def state(self, index):
    return os.path.join(self.parts, f"{index:06d}.state")


def prepare(plan, key):
  """[whether chunk k's segment is kept] for work `key` (a JSON-able description of everything the result
  depends on); a `parts` folder made for other work is emptied first."""
  manifest = os.path.join(plan.parts, MANIFEST)
  key = json.loads(json.dumps({**key, "chunk": plan.chunk, "batch_size": plan.batch_size}, sort_keys=True,
                              default=float))
  try:
    with open(manifest) as f:
      kept = json.load(f)
  except (OSError, ValueError):
    kept = None
  if kept != key:
    shutil.rmtree(plan.parts, ignore_errors=True)
    os.makedirs(plan.parts)
    runlog.write_json(manifest, key)
  return [os.path.exists(plan.segment(k)) for k in range(plan.chunks)]


def shares(done, workers):
  """[(first, last)]: the chunks not `done`, as up to `workers` contiguous ranges of about equal length."""
  todo = [k for k, finished in enumerate(done) if not finished]
  size = -(-len(todo) // max(1, workers)) if todo else 0
  ranges = []
  for k in todo:
    if ranges and k == ranges[-1][1] and k - ranges[-1][0] < size:
      ranges[-1] = (ranges[-1][0], k + 1)
    else:
      ranges.append((k, k + 1))
  return ranges


def _batches(clip, start, stop, batch_size):
  """Yields lists of up to batch_size decoded frames from frame `start` to before `stop`, decoding in a thread up
  to two batches ahead; the decoder's errors are raised here, at the batch it reached."""
  ahead, stopping = queue.Queue(maxsize=2), threading.Event()

  def decode():
    batch = []
    try:
      with contextlib.closing(video.read(clip, start)) as frames:
        for frame in itertools.islice(frames, stop - start):
          batch.append(frame)
          if len(batch) == batch_size:
            ahead.put(batch)
            batch = []
            if stopping.is_set():
              return
      ahead.put(batch)
    except Exception as e:  # raised in the caller's thread, at the batch it reached
      ahead.put(e)
    ahead.put(None)

  thread = threading.Thread(target=decode, daemon=True)
  thread.start()
  try:
    for item in iter(ahead.get, None):
      if isinstance(item, Exception):
        raise item
      if item:
        yield item
  finally:
    stopping.set()
    while thread.is_alive():  # unblock a decoder waiting on the full queue
      try:
        ahead.get(timeout=0.1)
      except queue.Empty:
        pass


def stylize_chunks(plan, stylize, state, first, last, warmup=0, frames_folder="", frame_format=".jpg",
                   progress=None):
  """Stylises the chunks first..last−1 of `plan` into its segments and states, starting from `state` (the state
  before chunk `first`; with `warmup` > 0, the state before the frame `warmup` frames earlier, whose outputs only
  warm it up: a worker's share of a clip whose state carries across frames). `stylize(frames (B, H, W, 3) uint8,
  state) -> (stylised (B, H, W, 3) in 0..255, state)` always gets full batches (the last one padded with its last
  frame; those results are dropped). With `frames_folder`, each stylised frame is also written there as an image
  (000000`frame_format`, ...). `progress(frames)` is called after each batch is written (a stop point)."""
  clip, chunk = plan.clip, plan.chunk
  start, stop = first * chunk, min(last * chunk, clip.frames)
  begin = max(0, start - -(-warmup // plan.batch_size) * plan.batch_size)
  segment, pending = None, None

  def write(frames, after, number):
    """Encodes the stylised frames numbered from `number` (those of the warm-up dropped); closes the segment (and
    keeps `after`, the state) at a chunk's end."""
    nonlocal segment
    kept = 0
    for offset, frame in enumerate(np.asarray(frames)[:stop - number]):
      number_here = number + offset
      if number_here < start:
        continue
      if segment is None:
        segment = video.Segment(plan.segment(number_here // chunk), clip, number_here)
      image = images.to_uint8(frame)
      segment.write(image)
      kept += 1
      if frames_folder:
        images.save_image(os.path.join(frames_folder, f"{number_here:06d}{frame_format}"), image)
      if (number_here + 1) % chunk == 0 or number_here + 1 == clip.frames:
        segment.close()
        segment = None
        with atomic.writing(plan.state(number_here // chunk)) as f:
          f.write(flax.serialization.msgpack_serialize(after))
    if progress and kept:
      progress(kept)

  try:
    for number, batch in enumerate(_batches(clip, begin, stop, plan.batch_size)):
      padded = np.stack(batch + batch[-1:] * (plan.batch_size - len(batch)))
      result, state = stylize(padded, state)  # dispatched: computes while the previous batch is encoded
      if pending:
        write(*pending)
      pending = (result, state, begin + number * plan.batch_size)
    if pending:
      write(*pending)
  except BaseException:
    if segment is not None:
      segment.abandon()
    raise
  return stop - start


def finish(plan):
  """Joins the kept segments, with the source's audio, into the target, and removes `parts`."""
  video.assemble([(plan.segment(k), k * plan.chunk) for k in range(plan.chunks)], plan.target, plan.clip)
  shutil.rmtree(plan.parts, ignore_errors=True)


def resume(plan, key):
  """(first chunk to stylise, the state before it or None): after the leading chunks an earlier run with the same
  `key` (`prepare`) kept with their states, the state that run had there; (0, None) for a fresh start."""
  done = prepare(plan, key)
  first = next((k for k in range(plan.chunks) if not (done[k] and os.path.exists(plan.state(k)))), plan.chunks)
  if not first:
    return 0, None
  with open(plan.state(first - 1), "rb") as f:
    return first, flax.serialization.msgpack_restore(f.read())


def stylize_clip(plan, stylize, state, key, frames_folder="", frame_format=".jpg", progress=None):
  """Writes plan.target: the clip stylised by `stylize` (see `stylize_chunks`) from `state`, resuming where an
  earlier run with the same `key` stopped (`resume`; its kept frames reported to `progress` first), so the file is
  the same as an uninterrupted run's. Returns the number of frames stylised by this call."""
  first, kept = resume(plan, key)
  if progress and first:
    progress(plan.frames_before(first))
  count = stylize_chunks(plan, stylize, kept or state, first, plan.chunks, 0, frames_folder, frame_format, progress)
  finish(plan)
  return count
