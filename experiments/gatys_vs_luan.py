"""Gatys and Luan on the same photo pair, with a contact sheet and photorealism metrics.

  python run.py --config experiments/gatys_vs_luan.py --workdir runs/gatys_vs_luan
  python run.py --config experiments/gatys_vs_luan.py:tiny --workdir runs/compare_tiny

Overrides reach each run: --config.runs.luan.total_steps=500. Writes
contact_sheet.png (content | style | masks | Gatys | Luan) and compare.json.
"""

import ml_collections

from configs import gatys, luan


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "compare"
  config.runs = ml_collections.ConfigDict()
  config.runs.luan = luan.get_config(arg)
  config.runs.gatys = gatys.get_config(arg)
  for key in ("content", "style", "image_size", "init", "seed", "optimizer", "learning_rate", "total_steps",
              "log_every_steps"):
    config.runs.gatys[key] = config.runs.luan[key]  # same pair, same budget
  return config
