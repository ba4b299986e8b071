"""The `score` job (configs/score.py): score output images against one content/style pair.

The protocol (stylejax.core.scoring) is fixed, so the numbers compare across
runs, methods and published results. Writes score.json and score.md.
"""

import os

from stylejax import api, settings
from stylejax.core import scoring
from stylejax.errors import UserError
from stylejax.io import images, mask_files, runlog


def markdown(scores):
  """The scores table; with a seconds column where the scores carry `seconds` (time per image)."""
  timed = any("seconds" in s for s in scores.values())
  lines = [f"Scores (stylejax.core.scoring: VGG16, long side {scoring.SIZE} px)", "",
           "| output | style | content | color | affine energy | gradient SSIM |" + " s/image |" * timed,
           "|---|---|---|---|---|---|" + "---|" * timed]
  for name, s in scores.items():
    seconds = f" {s['seconds']:.3g} |" if "seconds" in s else " |" * timed
    lines.append(f"| {name} | {s['style']:.3g} | {s['content']:.3g} | {s['color']:.4f} | {s['affine_energy']:.3g} "
                 f"| {s['gradient_ssim']:.3f} |" + seconds)
  return "\n".join(lines) + "\n"


def run(config, workdir):
  outputs = settings.paths(config.outputs, "outputs")
  if not outputs:
    raise UserError("set --config.outputs: the images to score (comma-separated)")
  if bool(config.content_mask) != bool(config.style_mask):
    raise UserError("masked scoring needs both --config.content_mask and --config.style_mask")
  content = images.read_rgb(settings.paths(config.content, "content")[0], config.max_input_pixels)
  style = images.read_rgb(settings.paths(config.style, "style")[0], config.max_input_pixels)
  masks = [None, None]
  if config.content_mask:
    masks = [mask_files.load_segmentation(path, config.max_input_pixels)
             for path in (config.content_mask, config.style_mask)]
  unique_names = len(set(map(os.path.basename, outputs))) == len(outputs)
  scores = {}
  for path in outputs:  # rows named by file name, or by relative path where two names clash
    name = os.path.basename(path) if unique_names else os.path.relpath(path)
    scores[name] = api.score(images.read_rgb(path, config.max_input_pixels), content, style, *masks)
  runlog.write_table(workdir, markdown(scores), {"scores": scores, "masked": bool(config.content_mask),
                                                 "size": scoring.SIZE, "content": config.content,
                                                 "style": config.style, **runlog.environment()}, name="score")
  return scores
