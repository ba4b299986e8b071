"""Benchmark of the fast photorealistic networks: training step and stylisation up to 4K.

  python run.py --config configs/bench_fast_photo.py --workdir runs/bench_fast_photo
  python run.py --config configs/bench_fast_photo.py:thesis --workdir runs/bench_fast_photo_thesis

The bench_johnson job on configs/fast_photo.py (the bilateral-grid network) or,
with `thesis`, configs/fast_photo_thesis.py: the training step at 256 px,
batch 8, and one stylisation at 1024² and 3840×2160. Writes bench.md and
bench.json. `tiny` (comma-separated) times 64 px for a couple of steps.
"""

from configs import fast_photo, fast_photo_thesis, stylize


def get_config(arg=None):
  items = list(filter(None, (arg or "").split(",")))
  preset = fast_photo_thesis if "thesis" in items else fast_photo
  config = preset.get_config("tiny" if "tiny" in items else None)
  config.job = "bench_johnson"
  config.image_size, config.batch_size = 256, 8  # the training step's crops and batch
  config.bench_sizes = ("1024", "3840x2160")
  config.bench_dtypes = ("float32",)
  config.bench_steps = 5  # timed calls per case, after one untimed call
  config.bench_folder_images = 0  # the stylize job on a folder: configs/bench_johnson.py
  config.stylize = stylize.get_config()
  for item in items:
    if item == "tiny":
      config.image_size, config.batch_size = 32, 2
      config.bench_sizes = ("64", "96x48")
      config.bench_steps = 2
    elif item != "thesis":
      raise ValueError(f"unknown config argument {item!r}; use thesis, tiny, comma-separated")
  return config
