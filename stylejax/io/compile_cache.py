"""A persistent XLA compilation cache: a new process reuses the programs an earlier one compiled."""

import os

import jax

FOLDER_VARIABLE = "JAX_COMPILATION_CACHE_DIR"


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
