"""Johnson's network with transposed-convolution or resize upsampling × zero or reflection padding.

  python run.py --config configs/sweeps/johnson_upsampling.py --workdir runs/sweep_johnson

Trains configs/johnson.py (Starry Night on the bundled samples; set
--config.base.data and --config.base.total_steps for a real run; the default
is 2000 steps at 256 px) once per (upsampling, padding); the table holds the final
losses and images/s; contact_sheet.png shows each network's last preview
(checkerboard artefacts of transposed convolutions are easiest to see there).
`:tiny`: the 64 px, 12-step preset (tests).
"""

from configs import common, johnson, sweep


def get_config(arg=None):
  tiny = "tiny" in common.arguments(arg, ("tiny",))
  base = johnson.get_config("tiny" if tiny else None)
  if not tiny:
    base.total_steps, base.sample_every_steps, base.checkpoint_every_steps = 2000, 500, 500
  blocks = [{"net.upsample": ("transpose", "resize"), "net.padding": ("zeros", "reflect")}]
  return sweep.make(base, blocks, metrics=("final_losses.total", "final_losses.style", "final_losses.content",
                                           "images_per_s"), image="samples/step_*.png")
