"""The one timing helper of the benchmarks: warm-up, then the median and spread of N synchronised calls."""

import time

import jax
import numpy as np


def measure(fn, repeats, wait=jax.block_until_ready, per_call=1):
  """Wall time of fn() in ms over `repeats` calls after one untimed call (compilation), each result
  awaited with `wait` (JAX: block_until_ready; a peer passes its own device synchronisation).

  `per_call`: units of work per call (e.g. the steps of one jitted chunk); times are per unit.
  Returns {"ms": median, "ms_min": fastest, "ms_max": slowest, "calls": repeats}.
  """
  wait(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    wait(fn())
    times.append((time.perf_counter() - start) * 1e3 / per_call)
  return {"ms": float(np.median(times)), "ms_min": float(np.min(times)), "ms_max": float(np.max(times)),
          "calls": repeats}
