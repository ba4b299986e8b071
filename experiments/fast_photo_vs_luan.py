"""Slow and fast photorealistic transfer on the same held-out photos, scored alike.

  python run.py --config experiments/fast_photo_vs_luan.py --workdir runs/fast_photo_vs_luan \
      --config.models.thesis=runs/thesis_photo --config.models.bilateral=runs/photo_style

Gatys (Luan's schedule and weights without the matting term and masks, i.e.
neural-style), slow Luan (configs/luan.py), and the trained networks, with the
networks' style photo, on photos that are not in their training data (the
`samples`): two of the shared content photos and one of Luan's, 384 px.
Writes contact_sheet.png and score.md (stylejax.tools.compare_photo).
`:tiny` is a 64 px smoke run of the same job.
"""

import ml_collections

from configs import luan

PHOTOS = ("../shared/data/content/golden_gate.jpg", "../shared/data/content/tubingen.jpg",
          "../shared/data/photo/in53.png")


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "compare_photo"
  config.photos = PHOTOS
  config.styles = ""  # the networks' trained style photo
  config.content_masks = config.style_masks = ""  # unmasked style distance
  config.published = ""
  config.regions = config.refine_steps = 0  # no network here takes region masks or refines
  config.image_size = 384
  config.max_input_pixels = 100_000_000
  config.models = ml_collections.ConfigDict({"thesis": "", "bilateral": ""})  # name -> train workdir
  slow_luan = luan.get_config(arg)
  gatys = luan.get_config(arg)
  gatys.loss.affine_weight = 0.0
  gatys.masks.source = "none"
  config.slow = ml_collections.ConfigDict({"gatys": gatys, "luan": slow_luan})
  if arg == "tiny":
    config.image_size = 64
  return config
