"""The photorealism/style trade-off of Luan's objective: style weight × affine weight on one photo pair.

  python run.py --config experiments/luan_tradeoff.py --workdir runs/tradeoff
  python run.py --config experiments/luan_tradeoff.py:tiny --workdir runs/tradeoff_tiny

Each point is configs/luan.py with one (style_weight, affine_weight) pair, at a
reduced budget (256 px, two scales) so the grid runs in minutes per point on a
CPU; the compare job scores every point with the fixed protocol
(stylejax.core.scoring) beside Luan's published result and plots style
distance against affine energy (tradeoff.png). The pair defaults to Luan's
example 3 in ../shared/data/photo; set `pair` to another folder and number,
e.g. --config.runs.s100_a1e4.content=... (every run takes the same keys).
"""

import os

import ml_collections

from configs import luan

PHOTO = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "photo")
STYLE_WEIGHTS = (25.0, 100.0, 400.0)
AFFINE_WEIGHTS = (1e3, 1e4, 1e5)


def get_config(arg=None):
  """arg: '' (pair 3 of the development data), 'N' (pair N), or 'tiny' (the bundled pair, 64 px)."""
  config = ml_collections.ConfigDict()
  config.job = "compare"
  config.runs = ml_collections.ConfigDict()
  config.references = ml_collections.ConfigDict()
  pair = None if arg == "tiny" else (arg or "3")
  if pair is not None:
    config.references.luan = os.path.join(PHOTO, f"luan_result{pair}.png")
  for style_weight in STYLE_WEIGHTS:
    for affine_weight in AFFINE_WEIGHTS:
      run = luan.get_config("tiny" if arg == "tiny" else None)
      run.loss.style_weight, run.loss.affine_weight = style_weight, affine_weight
      if pair is not None:
        run.content, run.style = (os.path.join(PHOTO, f"{kind}{pair}.png") for kind in ("in", "tar"))
        run.masks.source = "files"
        run.masks.content, run.masks.style = (os.path.join(PHOTO, f"{kind}{pair}_seg.png") for kind in ("in", "tar"))
        run.image_size, run.scale_steps = 256, (300, 100)
      config.runs[f"s{style_weight:g}_a{affine_weight:g}"] = run
  return config
