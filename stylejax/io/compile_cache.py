"""A persistent XLA compilation cache: a new process reuses the programs an earlier one compiled."""

import jax


def use(folder):
  """Caches every compiled program of this process in `folder` (created on first use), however fast it compiled."""
  jax.config.update("jax_compilation_cache_dir", folder)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
