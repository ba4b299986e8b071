"""Benchmark of the Gatys step: sizes x compute dtypes x optimisers.

  python run.py --config configs/bench_gatys.py --workdir runs/bench_gatys
  python run.py --config configs/bench_gatys.py --workdir runs/bench --config.vgg.arch=vgg19 \
      --config.bench_sizes=512,1024 --config.bench_dtypes=bfloat16 --config.bench_optimizers=adam

Writes bench.md and bench.json. Sizes: N (N×N) or WxH. `:tiny` times 64 px
for a couple of steps.
"""

from configs import gatys


def bench_settings(config, arg, sizes):
  """The benchmark keys on top of a method's config (this one's or configs/bench_luan.py's)."""
  config.job = "bench_gatys"
  config.bench_sizes = sizes  # N (square) or WxH
  config.bench_dtypes = ("float32", "bfloat16")
  config.bench_optimizers = ("adam", "lbfgs", "lbfgs_linesearch")
  config.bench_steps = 10  # steps per timed chunk (one jitted scan)
  config.bench_repeats = 3  # timed chunks per case after a warm-up one; ms/step is their median / bench_steps
  if arg == "tiny":
    config.bench_sizes = ("64",)
    config.bench_steps = 2
    config.bench_repeats = 1
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}; use :tiny or nothing")
  return config


def get_config(arg=None):
  return bench_settings(gatys.get_config(), arg, ("256", "512", "1024"))
