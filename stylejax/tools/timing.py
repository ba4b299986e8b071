"""The one timing helper of the benchmarks (warm-up, then the median and spread of N synchronised calls), and the
memory of the program timed."""

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


def program_gib(jitted, *args, **kwargs):
  """The memory one compiled program needs, in GiB: its arguments, outputs and temporaries, less the donated
  arguments its outputs reuse (XLA's `memory_analysis` of the program `jitted` compiles for these arguments;
  the program already compiled by a call is reused). This is the step's own footprint, on any backend, not the
  device allocator's peak, which counts whatever else the process holds. None where XLA gives no analysis."""
  stats = jitted.lower(*args, **kwargs).compile().memory_analysis()
  if stats is None:
    return None
  used = stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
  return (used - stats.alias_size_in_bytes) / 2**30
