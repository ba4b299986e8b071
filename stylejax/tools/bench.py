"""The `bench_gatys` job: per-step time of a pixel optimisation after compilation.

It times the objective its config describes: Gatys (configs/bench_gatys.py)
or Luan's, with masks and the matting-Laplacian term (configs/bench_luan.py).
For every (size, dtype, optimiser) it times `methods.pixels.run_chunk` (the real
jitted scan of bench_steps steps; median of bench_repeats chunks after a warm-up one) with the targets the optimize job would build (`api.PixelTransfer.targets`,
masks from `api.find_masks`) for the config's content and style, the content
resized to the size (N: N×N; WxH: W×H). It reports ms/step, achieved TFLOP/s
from the analytic VGG convolution count (forward + input gradient = 2x the
forward FLOPs per loss evaluation; Adam and the fixed-step L-BFGS evaluate once
per step, the line search a variable number of times, so no TFLOP/s is given for it) and peak
device memory where the backend reports it.
"""

import jax.numpy as jnp

from stylejax import api, settings
from stylejax.core import vgg as vgg_lib
from stylejax.core.objective import DTYPES
from stylejax.errors import UserError
from stylejax.io import images, runlog
from stylejax.jobs import optimize
from stylejax.methods import pixels
from stylejax.tools import timing


def parse_sizes(value):
  """'256, 700x466' or ('256', '700x466') -> [(256, 256), (700, 466)] as (width, height)."""
  sizes = []
  for item in settings.as_list(value, name="bench_sizes"):
    sides = item.lower().split("x")
    try:
      width, height = (int(side) for side in sides) if len(sides) == 2 else (int(item),) * 2
    except ValueError:
      raise UserError(f"cannot read bench_sizes entry {item!r}: use N or WxH") from None
    sizes.append((width, height))
  return sizes


def _time_case(config, vgg, content, styles, masks, width, height, dtype, optimizer):
  config = settings.with_values(config, compute_dtype=dtype, optimizer=optimizer)
  transfer = api.PixelTransfer(config, content, styles, [1.0] * len(styles), vgg, masks)
  image = images.resize(images.at_long_side(content), height, width)
  targets = transfer.targets(image, max(width, height))
  tx, linesearch = pixels.optimizer(optimizer, config.learning_rate)
  x = jnp.asarray(image)[None]
  carry = (x, pixels.init_state(tx, x))
  kwargs = dict(objective=transfer.objective, tx=tx, linesearch=linesearch, steps=config.bench_steps)

  def chunk():  # x and the state are donated: each call continues from the last
    nonlocal carry
    x, state, _ = pixels.run_chunk(vgg, targets, *carry, **kwargs)
    carry = (x, state)
    return x

  seconds = timing.median_seconds(chunk, config.bench_repeats) / config.bench_steps
  x = carry[0]
  objective = transfer.objective
  flops = 2 * vgg_lib.conv_flops(vgg.arch, height, width, objective.content_layers + objective.style_layers)
  peak = runlog.peak_memory_bytes()
  method = "luan" if objective.masked or objective.affine_weight else "gatys"
  return {"method": method, "size": f"{width}x{height}" if width != height else str(width), "dtype": dtype,
          "optimizer": optimizer, "ms_per_step": seconds * 1e3,
          "tflops": None if linesearch else flops / seconds / 1e12,
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
  dtypes = settings.as_list(config.bench_dtypes, name="bench_dtypes")
  optimizers = settings.as_list(config.bench_optimizers, name="bench_optimizers")
  unknown = [d for d in dtypes if d not in DTYPES] + [o for o in optimizers if o not in pixels.OPTIMIZERS]
  if unknown or not sizes or min(min(size) for size in sizes) < api.MIN_SIDE or min(config.bench_steps, config.bench_repeats) < 1:
    raise UserError(f"bad bench settings (unknown: {unknown}; sizes >= {api.MIN_SIDE}; bench_steps and bench_repeats >= 1)")
  content, styles, _, content_mask, style_mask = optimize.read_inputs(config)
  vgg = api.load_vgg(config)
  env = runlog.environment()
  rows = []
  bar = runlog.progress(len(sizes) * len(dtypes) * len(optimizers), "bench")
  for width, height in sizes:
    masks = api.find_masks(config, vgg, content, styles[0], max(width, height), content_mask, style_mask)
    for dtype in dtypes:
      for optimizer in optimizers:
        rows.append(_time_case(config, vgg, content, styles, masks, width, height, dtype, optimizer))
        bar.update(1)
  bar.close()
  runlog.write_table(workdir, markdown(rows, env, vgg.arch),
                     {"rows": rows, "environment": env, "arch": vgg.arch, "steps_per_chunk": config.bench_steps,
                      "chunks_timed": config.bench_repeats})
  return rows
