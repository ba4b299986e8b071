"""One benchmark point (the `bench` job, stylejax/tools/bench.py): the base of configs/sweeps/bench_*.py.

  python run.py --config configs/bench.py:gatys --workdir runs/bench_one --config.bench.size=512
  python run.py --config configs/bench.py:johnson --workdir runs/bench_one --config.bench.impl=torch

Arguments (comma-separated): the method whose config is timed (gatys, the
default; luan; johnson; fast_photo; fast_photo_thesis; universal_photo) and
`tiny` (the method's tiny preset, 64 px, one timed call: tests).
"""

import ml_collections

from configs import common, fast_photo, fast_photo_thesis, gatys, johnson, luan, stylize, universal_photo

METHODS = {"gatys": gatys, "luan": luan, "johnson": johnson, "fast_photo": fast_photo,
           "fast_photo_thesis": fast_photo_thesis, "universal_photo": universal_photo}


def get_config(arg=None):
  items = common.arguments(arg, (*METHODS, "tiny"))
  methods = [item for item in items if item != "tiny"]
  if len(methods) > 1:
    raise ValueError(f"config argument {arg!r} names {len(methods)} methods; use one of {', '.join(METHODS)}")
  method = methods[0] if methods else "gatys"
  tiny = "tiny" in items
  config = METHODS[method].get_config("tiny" if tiny else None)
  config.job = "bench"
  pixels = method in ("gatys", "luan")
  config.bench = ml_collections.ConfigDict()
  config.bench.case = "pixel_step" if pixels else "train_step"  # pixel_step | train_step | stylize |
  # stylize_folder | matting
  config.bench.impl = "ours"  # ours | torch (pixel_step, train_step, stylize) | scipy, pymatting (matting)
  # N (N×N) or WxH: pixel_step, stylize, matting; 16 px a side up to max_image_size (pixel_step), max_input_pixels
  config.bench.size = "64" if tiny else "256"
  config.bench.steps = 2 if tiny else 10  # pixel_step: steps per timed jitted chunk (1-1000)
  config.bench.repeats = 1 if tiny else 5  # timed calls after a warm-up one (median, min, max) (1-1000)
  config.bench.folder_images = 4 if tiny else 64  # stylize_folder: photos in the folder (1-10000)
  config.bench.folder_side = 64 if tiny else 512  # stylize_folder: their long side (16-8192)
  if not pixels:
    config.stylize = stylize.get_config()  # stylize_folder: the stylize job's settings
  return config
