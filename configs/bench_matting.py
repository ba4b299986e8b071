"""Benchmark of the matting-Laplacian backends (build and 3-channel matvec).

  python run.py --config configs/bench_matting.py --workdir runs/bench_matting

Writes bench.md and bench.json. `:tiny` times one 32² case.
"""

import ml_collections


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "bench_matting"
  config.bench_sizes = (256, 512)  # square images, pixels
  config.bench_repeats = 10  # timed calls per measurement (median)
  config.eps = 1e-7
  config.radius = 1
  if arg == "tiny":
    config.bench_sizes = (32,)
    config.bench_repeats = 2
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}; use :tiny or nothing")
  return config
