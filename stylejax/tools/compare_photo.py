"""The `compare_photo` job: slow and fast photorealistic transfer on the same held-out photos.

For every photo (experiments/fast_photo_vs_luan.py, universal_vs_luan.py):
each `slow` optimize config (e.g. Gatys and Luan) and each trained network of
`models` (any kind: the thesis's Johnson network, the bilateral-grid network,
the universal network), with the photo's style (`styles`, one per photo, for
networks that take a style; empty: the networks' trained style photo), at long
side image_size, and a `published` result of the photo where given (e.g.
Luan's own); every result scored with the fixed protocol
(stylejax.core.scoring: style distance, masked where `content_masks` and
`style_masks` give each photo's masks, content distance, colour, affine energy
under the photo's matting Laplacian, gradient SSIM) and timed (slow: the
optimisation's wall time; networks: one pass after compilation, the style's
encoding included; published: not timed, NaN). A network that takes region
masks (the universal network) also runs with the photo's masks, where given,
as "METHOD masked", with `regions` > 0 with that many automatic regions
(api.auto_regions) as "METHOD regions", and with `refine_steps` > 0 a network
that refines (stylejax.methods.refine) also as "METHOD masked refined" (or
"METHOD refined" for a photo without masks).
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
from stylejax.io import configs, images, mask_files, runlog
from stylejax.methods import refine
from stylejax.tools import compare, score as score_tool

KEYS = ("style", "content", "color", "affine_energy", "gradient_ssim", "seconds")


def _network_result(model, content, style, **given):
  """(stylised content, seconds of one pass after compilation, the style's encoding (and automatic regions)
  included); `given`: Model.stylize's mask files, `regions` or `refine_steps`. The warm-up that compiles
  refines for one chunk of steps only: the run's chunks reuse its programs."""
  warm_up = {**given, "refine_steps": min(given.get("refine_steps", 0), refine.CHUNK)}
  jax.block_until_ready(model.stylize(content, style, **warm_up))
  start = time.perf_counter()
  result = model.stylize(content, style, **given)
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


def _per_photo(config, key, count):
  """config.<key>: one file per photo, or [None] * count where it is empty."""
  files = settings.paths(config[key], key)
  if files and len(files) != count:
    raise UserError(f"{key} needs one file per photo ({count}), got {len(files)}")
  return files or [None] * count


def _styles(config, photos, models):
  """Each photo's style file: config.styles (for networks that take a style), else the networks' trained one."""
  styles = _per_photo(config, "styles", len(photos))
  for name, model in models.items():
    if styles[0] is None and model.net.takes_style:
      raise UserError(f"the {model.net.kind} network {name} takes a style: set --config.styles (one per photo)")
    if styles[0] is not None and not model.net.takes_style:
      raise UserError(f"the {model.net.kind} network {name} has its style trained in: leave config.styles empty")
  if styles[0] is not None:
    return styles
  trained = {name: settings.paths(model.config.style, "style")[0] for name, model in models.items()}
  if len(set(trained.values())) != 1:
    raise UserError(f"the models were trained for different styles: {trained}")
  return [next(iter(trained.values()))] * len(photos)


def run(config, workdir):
  photos = settings.paths(config.photos, "photos")
  models = {name: api.load_model(path) for name, path in config.models.items() if path}
  if not photos or not models:
    raise UserError("compare_photo needs --config.photos (comma-separated) and at least one of --config.models.NAME "
                    "(a train workdir)")
  styles = _styles(config, photos, models)
  content_masks, style_masks = (_per_photo(config, key, len(photos)) for key in ("content_masks", "style_masks"))
  published = _per_photo(config, "published", len(photos))
  scores, rows, per_method = {}, [], collections.defaultdict(list)
  for photo, style_path, content_mask, style_mask, published_path in zip(photos, styles, content_masks,
                                                                         style_masks, published):
    name = os.path.splitext(os.path.basename(photo))[0]
    content = images.read_rgb(photo, config.max_input_pixels)
    style = images.read_rgb(style_path, config.max_input_pixels)
    masks = {key: path and mask_files.load_segmentation(path, config.max_input_pixels)
             for key, path in (("content_mask", content_mask), ("style_mask", style_mask))}
    fitted = images.at_long_side(content, config.image_size)
    style_image = images.at_long_side(style, config.image_size)
    row = [compare.captioned(fitted, name), compare.captioned(style_image, "style")]
    results, seconds = {}, {}
    if published_path:
      results["published"], seconds["published"] = images.read_rgb(published_path), float("nan")
    for method, slow in config.slow.items():
      run_config = configs.override(slow, {"content": photo, "style": (style_path,), "image_size": config.image_size})
      summary, results[method] = _slow_result(run_config, os.path.join(workdir, name, method))
      seconds[method] = summary["wall_time_s"]
    for method, model in models.items():
      ways = {method: {}}  # a network that takes masks runs without them and, where the photo has them, with them
      if model.net.takes_masks and content_mask:
        ways[f"{method} masked"] = masks
      if model.net.takes_masks and config.regions:
        ways[f"{method} regions"] = {"regions": config.regions}
      if model.net.refines and config.refine_steps:  # refined with the photo's masks where it has them
        base = f"{method} masked" if f"{method} masked" in ways else method
        ways[f"{base} refined"] = {**ways[base], "refine_steps": config.refine_steps}
      for way, given in ways.items():
        results[way], seconds[way] = _network_result(model, fitted, style_image if model.net.takes_style else None,
                                                     **given)
        images.save_image(os.path.join(workdir, name, f"{way.replace(' ', '_')}.png"), results[way])
    for method, result in results.items():
      scores[f"{name} {method}"] = {**api.score(result, content, style, **masks), "seconds": seconds[method]}
      per_method[method].append(scores[f"{name} {method}"])
      row.append(compare.captioned(result, compare.caption(method, scores[f"{name} {method}"])))
    rows.append(row)
  means = {f"mean {method}": {key: float(np.mean([s[key] for s in method_scores])) for key in KEYS}
           for method, method_scores in per_method.items()}
  compare.contact_sheet(rows, os.path.join(workdir, "contact_sheet.png"))
  runlog.write_table(workdir, score_tool.markdown({**scores, **means}),
                     {"scores": scores, "means": means, "styles": styles, "image_size": config.image_size,
                      "models": {name: {"dir": os.path.abspath(path), "step": models[name].step}
                                 for name, path in config.models.items() if path}, **runlog.environment()},
                     name="score")
  return means
