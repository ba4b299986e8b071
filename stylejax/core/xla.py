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


MAP_SHARE = 0.5  # compiled programs are dropped past this share of vm.max_map_count (a luan job adds ~1,200 maps)


def memory_maps():
  """(memory maps this process holds, the kernel's limit vm.max_map_count); (0, inf) where /proc cannot say.

  Each compiled XLA:CPU program holds memory maps; a process passing the limit (65530 by default) fails to
  allocate inside a compile and crashes."""
  try:
    with open("/proc/sys/vm/max_map_count") as f:
      limit = int(f.read())
    with open("/proc/self/maps", "rb") as f:
      return sum(1 for _ in f), limit
  except (OSError, ValueError):
    return 0, float("inf")


def drop_programs_when_crowded(share=MAP_SHARE):
  """Drops every compiled program (`jax.clear_caches`; the next use compiles again) once this process holds more
  than `share` of the kernel's memory maps: for work that compiles large programs per input shape (a grid's
  refinement, stylejax.methods.refine: about 2,500 maps per photo shape)."""
  maps, limit = memory_maps()
  if maps > share * limit:
    jax.clear_caches()
