"""Mask files: Luan's colour-coded PNGs, integer label maps and the label-grouping table.

Each is read into arrays at its image's size; the region maths is in
stylejax.core.masks.
"""

import os

import numpy as np

from stylejax import errors
from stylejax.errors import UserError
from stylejax.io import assets, images

GROUPS_TABLE = assets.path("ade20k_groups.tsv")
MAX_LABEL = 65535  # the largest label a 16-bit label map holds


def resize_nearest(array, height, width, path):
  """Nearest-neighbour resize of an (H, W, ...) mask to (height, width); same aspect ratio required."""
  mask_h, mask_w = array.shape[:2]
  if abs(mask_h / mask_w - height / width) > 0.02:
    raise UserError(f"{path} is {mask_w}x{mask_h} but its image is {width}x{height}: different aspect ratio")
  rows = np.minimum((np.arange(height) + 0.5) * mask_h / height, mask_h - 1).astype(int)
  cols = np.minimum((np.arange(width) + 0.5) * mask_w / width, mask_w - 1).astype(int)
  return array[rows][:, cols]


def load_segmentation(path, max_pixels=images.DEFAULT_MAX_PIXELS):
  """A colour-coded mask file as (H, W, 3) 0..255 (resize with `resize_nearest`)."""
  return images.load_image(path, None, max_pixels)


def load_label_map(path, max_pixels=images.DEFAULT_MAX_PIXELS):
  """An integer label map (8- or 16-bit grayscale or palette PNG) as (H, W) int64 (resize with `resize_nearest`)."""
  if not os.path.isfile(path):
    raise UserError(f"label map not found: {path}")
  with images.opened(path, max_pixels) as img:
    if img.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
      raise UserError(f"{path}: a label map must be a grayscale or palette image of class indices, not {img.mode}")
    return np.asarray(img).astype(np.int64)


def read_groups(path=None):
  """(group of each label, group names in table order) from a tab-separated `label class group` table.

  The bundled table groups ADE20K's 150 classes into the thesis's 10 groups;
  labels missing from the table belong to 'other'. Labels are whole numbers
  from 0 to MAX_LABEL.
  """
  path = path or GROUPS_TABLE
  try:
    with open(path, encoding="utf-8") as f:
      lines = [(number, line.rstrip("\n")) for number, line in enumerate(f, 1)
               if line.strip() and not line.startswith("#")]
  except (OSError, UnicodeDecodeError) as e:
    raise UserError(f"cannot read the label grouping table {path}: {e}") from None
  if not lines or lines[0][1].split("\t") != ["label", "class", "group"]:
    raise UserError(f"{path}: expected a header 'label<TAB>class<TAB>group'")
  groups = {}
  for number, line in lines[1:]:
    fields = line.split("\t")
    if len(fields) != 3 or not fields[2].strip():
      raise UserError(f"{path}, line {number}: expected 'label<TAB>class<TAB>group' with an integer label "
                      f"and a group name, got {line!r}")
    label = errors.whole_number(fields[0], f"{path}, line {number}: the label", MAX_LABEL)
    if label in groups:
      raise UserError(f"{path}, line {number}: label {label} is listed twice")
    groups[label] = fields[2].strip()
  return groups, list(dict.fromkeys([*groups.values(), "other"]))
