"""Luan's own schedule, 1000 L-BFGS steps at one scale, at 700 px: wall time and steps/s (a GPU check).

  python run.py --config configs/sweeps/luan_steps.py --workdir runs/luan_1000_700

configs/luan.py (the bundled portraits, automatic masks) with `total_steps`
L-BFGS steps at one scale and no early stop, at each image size of the sweep;
the table holds the wall time (compilation included), steps/s after
compilation and the style loss reduction. `:tiny`: 64 px, 10 steps.
"""

from configs import common, luan, sweep


def get_config(arg=None):
  tiny = "tiny" in common.arguments(arg, ("tiny",))
  base = luan.get_config("tiny" if tiny else None)
  base.num_scales, base.scale_steps, base.stop_tolerance = 1, (), 0.0
  base.optimizer, base.total_steps = "lbfgs", 10 if tiny else 1000
  blocks = [{"image_size": (64,) if tiny else (700,)}]
  return sweep.make(base, blocks, metrics=("wall_time_s", "steps_per_s_after_compile", "steps",
                                           "style_loss_reduction"), image="result.png")
