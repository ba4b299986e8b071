"""The universal photorealistic network on Luan's held-out pairs, scored beside Luan's published results.

  python run.py --config experiments/universal_vs_luan.py --workdir runs/universal_vs_luan \
      --config.models.universal=runs/universal_photos

Every pair of configs/photos.py's `held_out_pairs()` (never seen in
training by the `photos` preset) whose mask files the scorer reads (pair 59's
content mask has 7% of its pixels off Luan's palette and is refused, so 12
pairs of 13 are scored): the network stylises inN with tarN as its
style at long side 384 (the preset's size), and Luan's published result
(luan_resultN.png) is scored beside it with the same protocol, the style
distance masked with the pair's segmentation files. Writes contact_sheet.png
and score.md (stylejax.tools.compare_photo); the issue's targets are ratios of
the two means. The network also runs with the pair's masks ("universal
masked"), with `regions` automatic regions ("universal regions") and
refined for `refine_steps` steps with the pair's masks ("universal masked
refined").
`:tuning`: every third of configs/photos.py's `training_pairs()` (14 pairs)
instead, the pairs settings such as `regions` are chosen on. `:tiny`: two
held-out pairs at 64 px (tests).
"""

import os

import ml_collections

from configs import photos
from stylejax.core import masks
from stylejax.errors import UserError
from stylejax.io import mask_files


def pair_files(pairs, name):
  """Luan's files `name` ('in{}', 'tar{}_seg', ...) of the given pairs, comma-separated."""
  return ",".join(os.path.join(photos.PAIRS, name.format(n) + ".png") for n in pairs)


def masks_readable(pair):
  """Whether the scorer reads both mask files of `pair` (stylejax.core.masks.color_masks)."""
  try:
    masks.color_masks(*(mask_files.load_segmentation(os.path.join(photos.PAIRS, f"{side}{pair}_seg.png"))
                        for side in ("in", "tar")))
  except UserError:
    return False
  return True


def get_config(arg=None):
  if arg not in (None, "tiny", "tuning"):
    raise ValueError(f"unknown argument {arg!r}; experiments/universal_vs_luan.py takes tiny or tuning")
  held_out = arg != "tuning"  # tuning: every third training pair, the pairs settings are chosen on
  pairs = [pair for pair in (photos.held_out_pairs() if held_out else photos.training_pairs()) if masks_readable(pair)]
  pairs = pairs if held_out else pairs[::3]
  config = ml_collections.ConfigDict()
  config.job = "compare_photo"
  config.image_size = 384
  config.max_input_pixels = 100_000_000
  config.models = ml_collections.ConfigDict({"universal": ""})  # name -> train workdir
  config.slow = ml_collections.ConfigDict()  # Luan's published results take slow Luan's place
  config.regions = 6  # also run with up to 6 automatic regions (chosen on the `tuning` pairs: docs/fast_photo.md)
  config.refine_steps = 50  # also refined with the pair's masks (stylejax.methods.refine; chosen alike)
  if arg == "tiny":
    pairs, config.image_size = pairs[:2], 64
  config.photos = pair_files(pairs, "in{}")
  config.styles = pair_files(pairs, "tar{}")
  config.content_masks = pair_files(pairs, "in{}_seg")
  config.style_masks = pair_files(pairs, "tar{}_seg")
  config.published = pair_files(pairs, "luan_result{}")
  return config
