"""A persistent XLA compilation cache: a new process reuses the programs an earlier one compiled."""

import os

import jax

FOLDER_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
USER_CACHE_BYTES = 2**30  # the user's cache (`for_user`) keeps the most recently used GiB of programs


def settings(folder):
  """jax's settings of a cache in `folder` that keeps every compiled program, however fast it compiled."""
  return {"jax_compilation_cache_dir": folder, "jax_persistent_cache_min_compile_time_secs": 0}


def environment(folder):
  """The same settings as environment variables, for processes started later (jax reads them on import)."""
  return {name.upper(): str(value) for name, value in settings(folder).items()}


def use(folder):
  """Caches every compiled program of this process in `folder` (created on first use), however fast it compiled.

  A folder named by the environment (JAX_COMPILATION_CACHE_DIR) wins, so that one cache can serve every process
  of a machine (the test suite's end-to-end tier shares one).
  """
  for name, value in settings(os.environ.get(FOLDER_VARIABLE) or folder).items():
    jax.config.update(name, value)


def for_user(home):
  """The cache of every run.py process of a user: `home`/xla, at most USER_CACHE_BYTES (least recently used
  programs go first). A second run of a preset loads its programs instead of compiling them: Luan's preset on a
  photo takes 101 s instead of 135 s on 2 CPU cores (docs/benchmarks.md). A folder named by
  JAX_COMPILATION_CACHE_DIR wins, unbounded (the test suite's)."""
  if not os.environ.get(FOLDER_VARIABLE):
    jax.config.update("jax_compilation_cache_max_size", USER_CACHE_BYTES)
  use(os.path.join(home, "xla"))
