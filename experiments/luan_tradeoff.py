"""The photorealism/style trade-off of Luan's objective: style weight × affine weight on one photo pair.

  python run.py --config experiments/luan_tradeoff.py:3 --workdir runs/tradeoff3   (pairs 3, 29, 53)
  python run.py --config experiments/luan_tradeoff.py:tiny --workdir runs/tradeoff_tiny

Each point is configs/luan.py with one (style_weight, affine_weight) pair, at
384 px (the scorer's size; 2-3 minutes per point on a 2-core CPU), on one of
Luan's example pairs with its mask files (experiments/luan_published.py); the
compare job scores every point with the fixed protocol (stylejax.core.scoring)
beside Luan's published result and the photo and plots style distance against
affine energy (tradeoff.png). `:tiny` runs the grid on the bundled pair at 64 px.
"""

import ml_collections

from configs import luan
from experiments import luan_published

STYLE_WEIGHTS = (100.0, 400.0, 1600.0)
AFFINE_WEIGHTS = (3e3, 1e4, 3e4)


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "compare"
  config.runs = ml_collections.ConfigDict()
  tiny = arg == "tiny"
  config.references = ml_collections.ConfigDict() if tiny else luan_published.references(arg or "3")
  for style_weight in STYLE_WEIGHTS:
    for affine_weight in AFFINE_WEIGHTS:
      run = luan.get_config("tiny" if tiny else None)
      run.loss.style_weight, run.loss.affine_weight = style_weight, affine_weight
      if not tiny:
        run = luan_published.pair_run(arg or "3", run)
        run.image_size = 384
      config.runs[f"s{style_weight:g}_a{affine_weight:g}"] = run
  return config
