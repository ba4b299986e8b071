"""The `bench_matting` job: build and matvec (3 channels) time of each matting-Laplacian backend.

Backends: scipy CSR (float64, the reference), BCOO sparse matvec, banded
(25 diagonals, shifted multiply-adds) and matrix-free (window statistics
computed inside the call). Build times: `laplacian` (CSR/BCOO),
`laplacian_bands` (banded), and pymatting's `cf_laplacian` when installed.
Timings are medians over `bench_repeats` calls after one warm-up call.
"""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.core import matting

from stylejax import settings
from stylejax.errors import UserError
from stylejax.io import assets, images, runlog
from stylejax.tools import timing


def _median_ms(fn, repeats):
  return timing.median_seconds(fn, repeats) * 1e3


def _case(size, repeats, eps, radius):
  photo = images.resize(images.load_image(assets.path("rocket.jpg")), size, size) / 255.0
  photo = np.clip(photo, 0.0, 1.0).astype(np.float64)
  v = np.random.default_rng(0).normal(size=(size, size, 3))
  rows = []

  def add(backend, build_ms, matvec_ms):
    rows.append({"size": size, "backend": backend, "build_ms": build_ms, "matvec_ms": matvec_ms})

  csr = matting.laplacian(photo, eps, radius)
  flat = v.reshape(-1, 3)
  add("scipy csr (float64)", _median_ms(lambda: matting.laplacian(photo, eps, radius), repeats),
      _median_ms(lambda: csr @ flat, repeats))
  bcoo, v_flat = matting.to_bcoo(csr), jnp.asarray(flat, jnp.float32)
  bcoo_matvec = jax.jit(lambda m, x: m @ x)
  add("bcoo (float32; built from the CSR)", _median_ms(lambda: matting.to_bcoo(csr), repeats),
      _median_ms(lambda: bcoo_matvec(bcoo, v_flat), repeats))
  bands = jnp.asarray(matting.laplacian_bands(photo, eps, radius), jnp.float32)
  v_dev = jnp.asarray(v, jnp.float32)
  banded = jax.jit(matting.banded_matvec)
  add("banded (float32)", _median_ms(lambda: matting.laplacian_bands(photo, eps, radius), repeats),
      _median_ms(lambda: banded(bands, v_dev), repeats))
  free = jax.jit(lambda image, x: matting.laplacian_matvec(image, x, eps, radius))
  photo_dev = jnp.asarray(photo, jnp.float32)
  add("matrix-free (float32, stats included)", None, _median_ms(lambda: free(photo_dev, v_dev), repeats))
  if importlib.util.find_spec("pymatting"):
    import pymatting
    add("pymatting cf_laplacian (build only)", _median_ms(lambda: pymatting.cf_laplacian(photo, eps, radius),
                                                          repeats), None)
  return rows


def markdown(rows, env):
  def fmt(x):
    return "n/a" if x is None else f"{x:.1f}"
  lines = [f"Matting Laplacian, {env['device_kind']} ({env['platform']}), jax {env['jax_version']}", "",
           "| size | backend | build (ms) | matvec, 3 channels (ms) |", "|---|---|---|---|"]
  lines += [f"| {r['size']}² | {r['backend']} | {fmt(r['build_ms'])} | {fmt(r['matvec_ms'])} |" for r in rows]
  return "\n".join(lines) + "\n"


def run(config, workdir):
  sizes = settings.as_list(config.bench_sizes, int, "bench_sizes")
  if not sizes or min(sizes) < 2 * config.radius + 1 or config.bench_repeats < 1:
    raise UserError(f"bench_sizes must be >= {2 * config.radius + 1} and bench_repeats >= 1")
  rows = []
  bar = runlog.progress(len(sizes), "bench_matting")
  for size in sizes:
    rows += _case(size, config.bench_repeats, config.eps, config.radius)
    bar.update(1)
  bar.close()
  env = runlog.environment()
  runlog.write_table(workdir, markdown(rows, env), {"rows": rows, "environment": env})
  return rows
