"""The `optimize` job (configs/gatys.py, configs/luan.py): one pixel optimisation, written to a workdir.

Reads every input once (content, styles, mask files), finds the masks, runs
stylejax.api.PixelTransfer (the loop is stylejax.methods.pixels, the loss
stylejax.core.objective) and writes result.png, masks_*.png, metrics.jsonl,
TensorBoard events, losses.png and summary.json. A run that does not finish
(Ctrl-C or SIGTERM, a NaN loss, an error) keeps its latest good image as
partial.png, so it never replaces the result.png of an earlier finished run;
summary.json says how far it got (`status`: finished, interrupted, halted;
`image`), even when no step was logged yet. Its progress bar's updates (the
start of each phase and the end of each chunk) are its stop points.
"""

import os
import sys
import time

import jax
import numpy as np

from stylejax import api, settings
from stylejax.core import masks as masks_lib, metrics, texture
from stylejax.errors import UserError
from stylejax.io import images, runlog


def _save_masks(workdir, transfer):
  """masks_content.png and masks_style.png: each image beside its regions, in Luan's colours."""
  content_masks, style_masks, names = transfer.masks
  for name, image, mask in (("content", transfer.content, content_masks), ("style", transfer.styles[0], style_masks)):
    array = images.at_long_side(image, max(mask.shape[:2]))
    drawn = masks_lib.to_color_image(masks_lib.resize(mask, *array.shape[:2]), names)
    images.save_image(os.path.join(workdir, f"masks_{name}.png"), np.concatenate([array, drawn], axis=1))


def run(config, workdir):
  """The `optimize` job: stylize config.content with config.style; writes the run outputs, returns the summary
  (`image`: the file of the result, in the workdir). Its progress bar can be watched (runlog.observing)."""
  config = settings.resolve_schedule(config, jax.default_backend())  # config.json holds the steps that ran
  content, styles, blend, content_mask, style_mask = api.read_inputs(config)
  if config.loss.affine_weight > 0 and texture.textured_all_over(styles[0]):  # the painting guard
    print("note: the style picture is textured all over, like a painting; the photorealism term keeps the photo's "
          "detail and changes only its colours, so strokes and texture will not carry over (configs/gatys.py "
          "paints them)", file=sys.stderr)
  plan, objective, vgg = settings.transfer_settings(config), settings.objective(config), api.load_vgg(config)
  masks = api.find_masks(settings.mask_settings(config), vgg, content, styles[0], plan.sizes[-1], plan.style_scale,
                         content_mask, style_mask)
  transfer = api.PixelTransfer(plan, objective, content, styles, blend, vgg, masks)
  log = runlog.RunLog(workdir, config)
  if masks is not None:
    _save_masks(workdir, transfer)
  start = time.perf_counter()
  total_steps = sum(steps for _, _, steps in transfer.plan)
  bar = runlog.progress(total_steps, "optimize")

  def on_chunk(step, x, terms, seconds):
    log.scalars(step, terms, time.perf_counter() - start)
    if x is not None:
      bar.set_postfix(total=f"{float(terms['total']):.4g}", refresh=False)
      if config.snapshot_every_steps and step % config.snapshot_every_steps == 0:
        images.save_image(os.path.join(workdir, "snapshots", f"step_{step:06d}.png"), transfer.image)
        log.image("snapshot", transfer.image, step)
    bar.update(step - bar.n)  # a stop point (also at a phase's start): the step's image and row are kept

  status = "failed"  # until the loop returns: an error or Ctrl-C leaves the run unfinished
  try:
    transfer.run(on_chunk)
    status = "halted" if transfer.halted_at is not None else "finished"
  except KeyboardInterrupt:
    status = "interrupted"
  finally:  # whatever happens, the latest good image is kept; only a finished run replaces result.png
    bar.close()
    if transfer.image is not None:
      result = transfer.result()
      image_path = os.path.join(workdir, "result.png" if status == "finished" else "partial.png")
      images.save_image(image_path, result)
      log.image("result", result, transfer.step)
    log.close()
  if transfer.image is None:  # stopped before the first phase began: nothing to report
    raise KeyboardInterrupt if status == "interrupted" else UserError("the run produced no image")
  stale = os.path.join(workdir, "partial.png")
  if status == "finished" and os.path.exists(stale):
    os.remove(stale)  # left by an earlier unfinished run

  runlog.plot_losses(log.rows, os.path.join(workdir, "losses.png"), transfer.boundaries[1:])
  summary = _summary(config, log.rows, transfer, time.perf_counter() - start, vgg)
  summary.update(status=status, image=os.path.basename(image_path), halted_at_step=transfer.halted_at,
                 converged_at_steps=transfer.converged_at,
                 masks=masks[2] if masks is not None else [])
  eps, radius = config.loss.matting_eps, config.loss.matting_radius
  final = images.to_uint8(result)
  summary["photorealism"] = {"affine_energy": metrics.affine_energy(final, transfer.content_at_scale, eps, radius),
                             "gradient_ssim": metrics.gradient_ssim(final, transfer.content_at_scale)}
  runlog.write_json(os.path.join(workdir, "summary.json"), summary)
  if status == "interrupted":
    raise KeyboardInterrupt
  if status == "halted":
    raise UserError(f"loss became NaN or Inf at step {transfer.halted_at}; kept the last good image "
                    f"(step {transfer.halted_at - 1}) in {image_path}")
  return summary


def _summary(config, rows, transfer, wall, vgg):
  """Facts about the run: time, speed (chunks after each phase's first, which compiles), losses, inputs."""
  warm = [chunk for phase in transfer.timing for chunk in phase[1:]]
  steps_per_s = sum(n for n, _ in warm) / sum(t for _, t in warm) if warm else None
  initial, final = (rows[0], rows[-1]) if rows else ({}, {})  # none: stopped before the first step was logged
  return {
      "wall_time_s": wall, "steps": final.get("step", 0), "steps_per_s_after_compile": steps_per_s,
      "initial_losses": {k: v for k, v in initial.items() if k != "step"},
      "final_losses": {k: v for k, v in final.items() if k != "step"},
      "style_loss_reduction": initial["style"] / final["style"] if final.get("style", 0) > 0 else None,
      "scales": transfer.scales, "content": os.path.abspath(settings.paths(config.content, "content")[0]),
      "styles": [os.path.abspath(p) for p in settings.style_inputs(config)[0]], "optimizer": config.optimizer,
      "schedule": config.get("schedule", "full"), "compute_dtype": config.compute_dtype, "vgg": vgg.arch,
      **runlog.environment(),
  }
