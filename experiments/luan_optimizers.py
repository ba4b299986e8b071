"""Luan's objective under three optimisers on one pair: Adam, Torch's fixed-step L-BFGS, optax's line-search L-BFGS.

  python run.py --config experiments/luan_optimizers.py --workdir runs/optimizers \\
      --config.runs.lbfgs.image_size=256 ...   (each run is a configs/luan.py config)
  python run.py --config experiments/luan_optimizers.py:tiny --workdir runs/optimizers_tiny

Writes loss_vs_time.png (total loss against wall time, compilation included),
contact_sheet.png and compare.json. Set the pair on every run, e.g.
--config.runs.adam.content=... (or edit `pair` below).
"""

import ml_collections

from configs import luan

OPTIMIZERS = {"adam": 1.0, "lbfgs": 1.0, "lbfgs_linesearch": 0.0}  # name -> learning rate


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "compare"
  config.runs = ml_collections.ConfigDict()
  for name, learning_rate in OPTIMIZERS.items():
    run = luan.get_config(arg)
    run.optimizer, run.learning_rate, run.stop_tolerance = name, learning_rate, 0.0
    if not arg:
      run.image_size, run.total_steps = 256, 100
    config.runs[name] = run
  return config
