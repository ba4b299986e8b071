"""How our programs are compiled: `jit`, jax.jit with XLA options chosen for the backend at first call.

On the CPU, XLA's YNNPACK fusions are off (CPU_COMPILER_OPTIONS): XLA's own
convolutions compute the networks' forward passes 1.6-1.9x faster and the
kernel gradients about 20% faster on a 2-core CPU (docs/benchmarks.md, "Profile"
and issue 24's table). The options are decided lazily, at the first call, so
importing a module that jits does not start the backend (jax.distributed must
be initialised first on a multi-host run).
"""

import functools

import jax

CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options():
  """CPU_COMPILER_OPTIONS on a CPU backend whose XLA knows them, else none."""
  if jax.default_backend() != "cpu":
    return {}
  try:
    jax.jit(lambda x: x, compiler_options=CPU_COMPILER_OPTIONS).lower(0.0).compile()
  except jax.errors.JaxRuntimeError:  # an XLA without the option
    return {}
  return CPU_COMPILER_OPTIONS


def jit(fun, **jit_kwargs):
  """`jax.jit(fun, **jit_kwargs)` compiled with `compiler_options()`, decided at the first call (or `lower`)."""
  jitted = functools.cache(lambda: jax.jit(fun, compiler_options=compiler_options(), **jit_kwargs))

  @functools.wraps(fun)
  def call(*args, **kwargs):
    return jitted()(*args, **kwargs)

  call.lower = lambda *args, **kwargs: jitted().lower(*args, **kwargs)
  return call
