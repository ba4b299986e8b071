"""Jobs by name: the config's `job` field picks the module whose `run(config, workdir)` runs."""

import importlib

from stylejax.errors import UserError

JOBS = {
    "optimize": "stylejax.optimize",
    "compare": "stylejax.compare",
    "bench_gatys": "stylejax.bench",
    "bench_matting": "stylejax.bench_matting",
    "weights": "stylejax.weights",
    "train": "stylejax.train",
    "stylize": "stylejax.stylize",
    "bench_johnson": "stylejax.bench_johnson",
    "compare_fast": "stylejax.compare_fast",
}


def run(config, workdir):
  if config.job not in JOBS:
    raise UserError(f"unknown job {config.job!r}; jobs are {', '.join(sorted(JOBS))}")
  return importlib.import_module(JOBS[config.job]).run(config, workdir)
