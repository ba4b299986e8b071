"""Gatys's transfer at several sizes and compute dtypes, plus one L-BFGS point: quality and speed in one table.

  python run.py --config configs/sweeps/gatys_sizes.py --workdir runs/sweep_gatys

configs/gatys.py (the bundled cat and Starry Night, 500 Adam steps) at 256
and 512 px in float32 and bfloat16, and L-BFGS at 256 px; the table holds the
style loss reduction, the final total loss, steps/s after compilation and the
wall time; plot.png draws steps/s against the size, one line per dtype and optimiser.
`:tiny`: 48 and 64 px, 10 steps (tests).
"""

from configs import common, gatys, sweep


def get_config(arg=None):
  tiny = "tiny" in common.arguments(arg, ("tiny",))
  base = gatys.get_config("tiny" if tiny else None)
  base.schedule = "full"  # 500 Adam steps on a CPU too (configs/gatys.py)
  sizes = (48, 64) if tiny else (256, 512)
  if tiny:
    base.total_steps = 10
  blocks = [{"image_size": sizes, "compute_dtype": ("float32", "bfloat16")},
            {"image_size": sizes[:1], "optimizer": ("lbfgs",)}]
  return sweep.make(base, blocks, metrics=("style_loss_reduction", "final_losses.total",
                                           "steps_per_s_after_compile", "wall_time_s"),
                    image="result.png", plot=("image_size", "steps_per_s_after_compile"))
