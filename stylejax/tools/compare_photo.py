"""The `compare_photo` job: slow and fast photorealistic transfer on the same held-out photos.

For every photo (experiments/fast_photo_vs_luan.py): each `slow` optimize
config (e.g. Gatys and Luan) and each trained network of `models` (any kind:
the thesis's Johnson network, the bilateral-grid network), all with the
networks' style photo, at long side image_size; every result scored with the
fixed protocol (stylejax.core.scoring: style and content distance, colour,
affine energy under the photo's matting Laplacian, gradient SSIM) and timed
(slow: the optimisation's wall time; networks: one pass after compilation).
Writes contact_sheet.png (a row per photo: photo | style | each method),
score.md / score.json (every result, then each method's mean over the photos)
and the results under PHOTO/METHOD(.png). A slow run that finished in an
earlier call with the same config is read back, not run again, so adding a
model to the comparison costs only that model's passes.
"""

import collections
import json
import os
import time

import jax
import numpy as np

from stylejax import api, launch, settings
from stylejax.errors import UserError
from stylejax.io import configs, images, runlog
from stylejax.tools import compare, score as score_tool

KEYS = ("style", "content", "color", "affine_energy", "gradient_ssim", "seconds")


def _network_result(model, content):
  """(stylised content, seconds of one pass after compilation)."""
  jax.block_until_ready(model.stylize(content))
  start = time.perf_counter()
  result = model.stylize(content)
  return result, time.perf_counter() - start


def _slow_result(run_config, workdir):
  """(summary, result) of an optimize run: read back if `workdir` holds a finished run of this config."""
  try:
    with open(os.path.join(workdir, "summary.json")) as f:
      summary = json.load(f)
    ran = settings.resolve_schedule(run_config, jax.default_backend())  # as the optimize job saves it
    same = not configs.differences(configs.read(os.path.join(workdir, "config.json")), ran)
    if same and summary.get("status") == "finished":
      return summary, images.load_image(os.path.join(workdir, "result.png"))
  except (OSError, ValueError, UserError):
    pass  # no finished run there: run it
  summary = launch.run(run_config, workdir)
  return summary, images.load_image(os.path.join(workdir, summary["image"]))


def run(config, workdir):
  photos = settings.paths(config.photos, "photos")
  models = {name: api.load_model(path) for name, path in config.models.items() if path}
  if not photos or not models:
    raise UserError("compare_photo needs --config.photos (comma-separated) and at least one of --config.models.NAME "
                    "(a train workdir)")
  styles = {name: settings.paths(model.config.style, "style")[0] for name, model in models.items()}
  if len(set(styles.values())) != 1:
    raise UserError(f"the models were trained for different styles: {styles}")
  style_path = next(iter(styles.values()))
  style = images.read_rgb(style_path, config.max_input_pixels)
  scores, rows, per_method = {}, [], collections.defaultdict(list)
  for photo in photos:
    name = os.path.splitext(os.path.basename(photo))[0]
    content = images.read_rgb(photo, config.max_input_pixels)
    fitted = images.at_long_side(content, config.image_size)
    row = [compare.captioned(fitted, name), compare.captioned(images.at_long_side(style, config.image_size), "style")]
    results = {}
    for method, slow in config.slow.items():
      run_config = configs.override(slow, {"content": photo, "style": (style_path,), "image_size": config.image_size})
      summary, results[method] = _slow_result(run_config, os.path.join(workdir, name, method))
      scores[f"{name} {method}"] = {**api.score(results[method], content, style), "seconds": summary["wall_time_s"]}
    for method, model in models.items():
      results[method], seconds = _network_result(model, fitted)
      images.save_image(os.path.join(workdir, name, f"{method}.png"), results[method])
      scores[f"{name} {method}"] = {**api.score(results[method], content, style), "seconds": seconds}
    for method in results:
      per_method[method].append(scores[f"{name} {method}"])
      row.append(compare.captioned(results[method], compare.caption(method, scores[f"{name} {method}"])))
    rows.append(row)
  means = {f"mean {method}": {key: float(np.mean([s[key] for s in method_scores])) for key in KEYS}
           for method, method_scores in per_method.items()}
  compare.contact_sheet(rows, os.path.join(workdir, "contact_sheet.png"))
  runlog.write_table(workdir, score_tool.markdown({**scores, **means}),
                     {"scores": scores, "means": means, "style": style_path, "image_size": config.image_size,
                      "models": {name: {"dir": os.path.abspath(path), "step": models[name].step}
                                 for name, path in config.models.items() if path}, **runlog.environment()},
                     name="score")
  return means
