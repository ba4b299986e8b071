"""Stylising a video file frame by frame with a state carried between frames, resumable after a kill.

`stylize_clip` decodes the clip in a background thread, stylises it in batches of frames (the network's
state, e.g. its smoothed grid, carried from batch to batch: stylejax.core.temporal), and encodes the
results into segments of `chunk` frames (stylejax.io.video.Segment) while the next batch computes (JAX
dispatches asynchronously). Each finished segment is kept in `parts` with the state after its last frame,
so a rerun after a kill starts at the first unfinished chunk with the state the killed run had there, and
writes the same file. When every chunk is done the segments are joined, with the source's audio, into the
target, and `parts` is removed. Memory holds a few batches, whatever the clip's length.
"""

import json
import os
import queue
import shutil
import threading

import flax.serialization
import numpy as np

from stylejax.errors import UserError
from stylejax.io import atomic, images, runlog, video

MANIFEST = "manifest.json"  # in `parts`: what the kept chunks were made with


def _state_path(parts, chunk_index):
  return os.path.join(parts, f"{chunk_index:06d}.state")


def _segment_path(parts, chunk_index, extension):
  return os.path.join(parts, f"{chunk_index:06d}{extension}")


def resume_point(parts, key, extension, chunks):
  """The number of leading chunks whose segment and state `parts` holds for work `key` (a JSON-able description
  of everything the result depends on); a `parts` made for other work is emptied first."""
  manifest, key = os.path.join(parts, MANIFEST), json.loads(json.dumps(key, sort_keys=True, default=float))
  try:
    with open(manifest) as f:
      kept = json.load(f)
  except (OSError, ValueError):
    kept = None
  if kept != key:
    shutil.rmtree(parts, ignore_errors=True)
    os.makedirs(parts)
    runlog.write_json(manifest, key)
    return 0
  done = 0
  while done < chunks and all(os.path.exists(p) for p in (_segment_path(parts, done, extension),
                                                           _state_path(parts, done))):
    done += 1
  return done


def _batches(clip, start, batch_size):
  """Yields lists of up to batch_size decoded frames from frame `start` on, decoding in a thread up to two
  batches ahead; the decoder's UserError is raised here, at the batch it reached."""
  ahead, stop = queue.Queue(maxsize=2), threading.Event()

  def decode():
    batch = []
    try:
      for frame in video.read(clip, start):
        batch.append(frame)
        if len(batch) == batch_size:
          ahead.put(batch)
          batch = []
          if stop.is_set():
            return
      ahead.put(batch)
    except UserError as e:
      ahead.put(e)
    ahead.put(None)

  thread = threading.Thread(target=decode, daemon=True)
  thread.start()
  try:
    for item in iter(ahead.get, None):
      if isinstance(item, UserError):
        raise item
      if item:
        yield item
  finally:
    stop.set()
    while thread.is_alive():  # unblock a decoder waiting on the full queue
      try:
        ahead.get(timeout=0.1)
      except queue.Empty:
        pass


def stylize_clip(clip, target, stylize, state, parts, key, batch_size=8, chunk=64, frames_folder="",
                 frame_format=".jpg", progress=None):
  """Writes `target`: the video `clip` (stylejax.io.video.Clip) stylised by `stylize(frames (B, H, W, 3) uint8,
  state) -> (stylised (B, H, W, 3) in 0..255, state)`, which always gets full batches of batch_size (the last
  one padded with its last frame; those results are dropped), starting from `state`. `parts` (a folder) keeps
  the finished chunks of `chunk` frames (rounded up to whole batches) for a rerun with the same `key` (see
  `resume_point`). With `frames_folder`, each stylised frame is also written there as an image
  (000000`frame_format`, ...). `progress(frames)` is called after each batch is written (a stop point).
  Returns the number of frames stylised by this call."""
  chunk = -(-chunk // batch_size) * batch_size
  chunks = -(-clip.frames // chunk)
  extension = video.output_extension(target)
  done = resume_point(parts, {**key, "chunk": chunk, "batch_size": batch_size}, extension, chunks)
  if done:
    state = flax.serialization.msgpack_restore(open(_state_path(parts, done - 1), "rb").read())
  if progress and done:
    progress(min(done * chunk, clip.frames))
  start, segment, pending = done * chunk, None, None

  def write(frames, after, first):
    """Encodes the stylised frames numbered from `first`; closes the segment (and keeps `after`, the state)
    at a chunk's end."""
    nonlocal segment
    for offset, frame in enumerate(np.asarray(frames)[:clip.frames - first]):
      number = first + offset
      if segment is None:
        segment = video.Segment(_segment_path(parts, number // chunk, extension), clip, number)
      image = images.to_uint8(frame)
      segment.write(image)
      if frames_folder:
        images.save_image(os.path.join(frames_folder, f"{number:06d}{frame_format}"), image)
      if (number + 1) % chunk == 0 or number + 1 == clip.frames:
        segment.close()
        segment = None
        with atomic.writing(_state_path(parts, number // chunk)) as f:
          f.write(flax.serialization.msgpack_serialize(after))
    if progress:
      progress(min(len(frames), clip.frames - first))

  try:
    for number, batch in enumerate(_batches(clip, start, batch_size)):
      padded = np.stack(batch + batch[-1:] * (batch_size - len(batch)))
      result, state = stylize(padded, state)  # dispatched: computes while the previous batch is encoded
      if pending:
        write(*pending)
      pending = (result, state, start + number * batch_size)
    if pending:
      write(*pending)
  except BaseException:
    if segment is not None:
      segment.abandon()
    raise
  video.assemble([(_segment_path(parts, k, extension), k * chunk) for k in range(chunks)], target, clip)
  shutil.rmtree(parts, ignore_errors=True)
  return clip.frames - start
