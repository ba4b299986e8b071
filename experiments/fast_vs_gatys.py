"""A trained fast network next to Gatys on the same photos, scored with the same loss.

  python run.py --config experiments/fast_vs_gatys.py --workdir runs/fast_vs_gatys \
      --config.checkpoint=runs/starry --config.photos=a.jpg,b.jpg

Writes contact_sheet.png (photo | style | fast | Gatys per row, losses and
times under the pictures) and compare_fast.json. Gatys runs config.gatys
(configs/gatys.py) with the network's style, layers and weights.
"""

import ml_collections

from configs import gatys


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "compare_fast"
  config.checkpoint = ""  # a configs/johnson.py workdir
  config.photos = ""  # comma-separated photo files
  config.image_size = 256  # long side of every picture
  config.max_input_pixels = 100_000_000
  config.gatys = gatys.get_config(arg)
  config.gatys.total_steps = 300 if arg != "tiny" else config.gatys.total_steps
  return config
