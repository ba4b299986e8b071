"""The one timing helper of the benchmark tools: warm-up, then the median of N device-synchronised calls."""

import time

import jax
import numpy as np


def median_seconds(fn, repeats):
  """Median wall time of fn() over `repeats` calls after one untimed call (compilation), results awaited."""
  jax.block_until_ready(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return float(np.median(times))
