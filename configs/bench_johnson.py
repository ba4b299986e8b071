"""Benchmark of fast transfer: training step, stylisation per size and dtype, the stylize job on a folder.

  python run.py --config configs/bench_johnson.py --workdir runs/bench_johnson

Writes bench.md and bench.json. `:tiny` times 64 px for a couple of steps.
"""

from configs import johnson, stylize


def get_config(arg=None):
  config = johnson.get_config()
  config.job = "bench_johnson"
  config.bench_sizes = ("256", "512", "1024", "2048")  # stylisations: N (N×N) or WxH, pixels
  config.bench_dtypes = ("float32", "bfloat16")
  config.bench_steps = 10  # timed calls per case, after one untimed call
  config.bench_folder_images = 64  # 0: skip the stylize-job case
  config.bench_folder_side = 512
  config.stylize = stylize.get_config()  # the stylize job's settings for the folder case
  if arg == "tiny":
    config.image_size, config.batch_size, config.style_size, config.preview_size = 32, 2, 64, 32
    config.bench_sizes = ("64",)
    config.bench_steps = 2
    config.bench_folder_images = 4
    config.bench_folder_side = 64
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}; use :tiny or nothing")
  return config
