"""Small test clips written with PyAV directly (not with the code under test)."""

import fractions
import os

import av
import numpy as np


def moving_frames(count, size):
  """`count` frames (H, W, 3) uint8 of a smooth colour pattern moving right by 2 px a frame."""
  height, width = size
  ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
  return [np.stack([127 + 100 * np.sin((xs - 2 * t) / 7), 127 + 100 * np.cos(ys / 5 + (xs - 2 * t) / 11),
                    np.full_like(xs, 60 + 5 * t)], axis=-1).clip(0, 255).astype(np.uint8) for t in range(count)]


def write_clip(path, frames=12, size=(48, 64), rate=fractions.Fraction(24), audio=False):
  """Writes a clip of `frames` moving frames of `size` (H, W) at `rate` (H.264, or VP9 in webm, or GIF), with a
  440 Hz tone as audio when asked (AAC, Opus in webm); returns the path as a string."""
  path = str(path)
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  extension = path.rsplit(".", 1)[-1]
  codec = {"webm": "libvpx-vp9", "gif": "gif"}.get(extension, "libx264")
  with av.open(path, "w") as container:
    stream = None
    if frames:
      stream = container.add_stream(codec, rate=rate)
      stream.height, stream.width = size
      stream.pix_fmt = "rgb8" if codec == "gif" else "yuv444p" if size[0] % 2 or size[1] % 2 else "yuv420p"
    if audio:
      sound = container.add_stream("libopus" if extension == "webm" else "aac", rate=48000)
      seconds = max(frames / rate, 0.5)
      samples = np.sin(2 * np.pi * 440 * np.arange(int(48000 * seconds)) / 48000).astype(np.float32)
      for start in range(0, len(samples), 960):
        chunk = av.AudioFrame.from_ndarray(samples[None, start:start + 960], format="flt", layout="mono")
        chunk.sample_rate, chunk.pts = 48000, start
        container.mux(sound.encode(chunk))
      container.mux(sound.encode(None))
    for t, image in enumerate(moving_frames(frames, size)):
      frame = av.VideoFrame.from_ndarray(image, format="rgb24")
      frame.pts, frame.time_base = t, 1 / fractions.Fraction(rate)
      container.mux(stream.encode(frame))
    if stream is not None:
      container.mux(stream.encode(None))
  return path
