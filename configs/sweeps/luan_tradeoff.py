"""The photorealism/style trade-off of Luan's objective: affine weight × style weight on one photo pair.

  python run.py --config configs/sweeps/luan_tradeoff.py --workdir runs/sweep_luan
  python run.py --config configs/sweeps/luan_tradeoff.py --workdir runs/sweep_luan \
      --config.base.content=in3.png --config.base.style=tar3.png            (any pair; masks as configs/luan.py)

configs/luan.py (the bundled portraits, automatic masks, 384 px) at each
(affine weight, style weight) of the grid; the table holds the style loss
reduction, the result's affine energy (lower: more photorealistic) and
gradient SSIM to the photo; plot.png draws the affine energy against the
affine weight, one line per style weight; contact_sheet.png shows the results.
experiments/luan_tradeoff.py scores the same grid beside Luan's published result
with the compare job. `:tiny`: 64 px, 10 steps.
"""

from configs import common, luan, sweep


def get_config(arg=None):
  tiny = "tiny" in common.arguments(arg, ("tiny",))
  blocks = [{"loss.affine_weight": (3e3, 1e4, 3e4), "loss.style_weight": (100.0, 400.0, 1600.0)}]
  return sweep.make(luan.get_config("tiny" if tiny else None), blocks,
                    metrics=("style_loss_reduction", "photorealism.affine_energy", "photorealism.gradient_ssim",
                             "wall_time_s"),
                    image="result.png", plot=("loss.affine_weight", "photorealism.affine_energy"))
