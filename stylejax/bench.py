"""The `bench_gatys` job: per-step time of a pixel optimisation after compilation.

It times the objective its config describes: Gatys (configs/bench_gatys.py)
or Luan's, with masks and the matting-Laplacian term (configs/bench_luan.py).
For every (size, dtype, optimiser) it times `optimize.run_chunk` (the real
jitted scan) with the targets the optimize job would build (`scale_targets`,
masks from `find_masks`) for the config's content and style, the content
resized to the size (N: N×N; WxH: W×H). It reports ms/step, achieved TFLOP/s
from the analytic VGG convolution count (forward + input gradient = 2x the
forward FLOPs per loss evaluation; Adam evaluates once per step, L-BFGS's line
search a variable number of times, so no TFLOP/s is given for it) and peak
device memory where the backend reports it.
"""

import time

import jax
import jax.numpy as jnp
import optax

from stylejax import images, optimize, report, weights
from stylejax import vgg as vgg_lib
from stylejax.errors import UserError


def parse_sizes(text):
  """'256, 700x466' -> [(256, 256), (700, 466)] as (width, height)."""
  sizes = []
  for item in optimize.parse_list(text, name="bench_sizes"):
    sides = item.lower().split("x")
    try:
      width, height = (int(side) for side in sides) if len(sides) == 2 else (int(item),) * 2
    except ValueError:
      raise UserError(f"cannot read bench_sizes entry {item!r}: use N or WxH") from None
    sizes.append((width, height))
  return sizes


def _time_case(config, vgg, content_path, style_paths, masks, width, height, dtype, optimizer):
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.compute_dtype, config.optimizer = dtype, optimizer
  objective = optimize.Objective.from_config(config)
  content = images.resize(images.load_image(content_path), height, width)
  targets = optimize.scale_targets(objective, vgg, config, content, style_paths, [1.0] * len(style_paths),
                                   max(width, height), masks)
  tx = optax.with_extra_args_support(optimize.OPTIMIZERS[optimizer](config.learning_rate))
  x = jnp.asarray(content)[None]
  state = optimize.init_state(tx, x)
  kwargs = dict(objective=objective, tx=tx, linesearch=optimizer == "lbfgs", steps=config.bench_steps)
  x, state, _ = optimize.run_chunk(vgg, targets, x, state, **kwargs)
  jax.block_until_ready(x)  # compiled and warm
  start = time.perf_counter()
  x, state, _ = optimize.run_chunk(vgg, targets, x, state, **kwargs)
  jax.block_until_ready(x)
  seconds = (time.perf_counter() - start) / config.bench_steps
  flops = 2 * vgg_lib.conv_flops(vgg.arch, height, width, objective.content_layers + objective.style_layers)
  peak = report.peak_memory_bytes()
  method = "luan" if objective.masked or objective.affine_weight else "gatys"
  return {"method": method, "size": f"{width}x{height}" if width != height else str(width), "dtype": dtype,
          "optimizer": optimizer, "ms_per_step": seconds * 1e3,
          "tflops": flops / seconds / 1e12 if optimizer == "adam" else None,
          "peak_memory_gib": peak / 2**30 if peak else None, "finite": bool(jnp.all(jnp.isfinite(x)))}


def markdown(rows, env, arch):
  lines = [f"Optimisation step time, {arch}, {env['device_kind']} ({env['platform']}), jax {env['jax_version']}", "",
           "| method | size | dtype | optimizer | ms/step | TFLOP/s | peak memory (GiB) |",
           "|---|---|---|---|---|---|---|"]
  for r in rows:
    tflops = f"{r['tflops']:.2f}" if r["tflops"] is not None else "n/a"
    peak = f"{r['peak_memory_gib']:.2f}" if r["peak_memory_gib"] is not None else "n/a"
    lines.append(f"| {r['method']} | {r['size']} | {r['dtype']} | {r['optimizer']} | {r['ms_per_step']:.1f} "
                 f"| {tflops} | {peak} |")
  return "\n".join(lines) + "\n"


def run(config, workdir):
  sizes = parse_sizes(config.bench_sizes)
  dtypes = optimize.parse_list(config.bench_dtypes, name="bench_dtypes")
  optimizers = optimize.parse_list(config.bench_optimizers, name="bench_optimizers")
  unknown = [d for d in dtypes if d not in optimize.DTYPES] + [o for o in optimizers if o not in optimize.OPTIMIZERS]
  if unknown or not sizes or min(min(size) for size in sizes) < optimize.MIN_SIDE or config.bench_steps < 1:
    raise UserError(f"bad bench settings (unknown: {unknown}; sizes >= {optimize.MIN_SIDE}; bench_steps >= 1)")
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  content_path = config.content or optimize.DEFAULT_CONTENT
  style_paths = optimize.parse_list(config.style, name="style") or [optimize.DEFAULT_STYLE]
  env = report.environment()
  rows = []
  bar = report.progress(len(sizes) * len(dtypes) * len(optimizers), "bench")
  for width, height in sizes:
    masks = optimize.find_masks(config, vgg, content_path, style_paths, max(width, height))
    for dtype in dtypes:
      for optimizer in optimizers:
        rows.append(_time_case(config, vgg, content_path, style_paths, masks, width, height, dtype, optimizer))
        bar.update(1)
  bar.close()
  report.write_table(workdir, markdown(rows, env, vgg.arch),
                     {"rows": rows, "environment": env, "arch": vgg.arch, "steps_timed": config.bench_steps})
  return rows
