"""Mask files: Luan's colour PNGs resized nearest, label maps grouped by the bundled ADE20K table."""

import numpy as np
import pytest
from PIL import Image

from stylejax.core import masks
from stylejax.errors import UserError
from stylejax.io import mask_files
from tests.helpers import BLUE, RED, segmentation


def test_mask_files_are_resized_nearest_but_aspect_must_match(tmp_path):
  Image.fromarray(segmentation(20, 40, BLUE, RED).astype(np.uint8)).save(tmp_path / "m.png")
  loaded = mask_files.load_segmentation(str(tmp_path / "m.png"))
  seg = mask_files.resize_nearest(loaded, 10, 20, "m.png")
  assert seg.shape == (10, 20, 3) and set(np.unique(seg)) == {0.0, 255.0}
  with pytest.raises(UserError, match="different aspect ratio"):
    mask_files.resize_nearest(loaded, 20, 20, "m.png")


def test_label_maps_are_grouped_by_the_bundled_ade20k_table(tmp_path):
  content = np.zeros((6, 8), np.uint8)
  content[:3] = 3  # sky
  content[3:] = 2  # building
  content[5, :2] = 5  # tree (vegetation): content only
  style = np.full((9, 12), 26, np.uint8)  # house (building)
  style[:4] = 3
  Image.fromarray(content).save(tmp_path / "c.png")
  Image.fromarray(style).save(tmp_path / "s.png")
  with pytest.warns(UserWarning, match="vegetation appears only in the content"):
    c, s, names = masks.label_masks(mask_files.load_label_map(str(tmp_path / "c.png")),
                                    mask_files.load_label_map(str(tmp_path / "s.png")), *mask_files.read_groups())
  assert names == ["building", "sky"]  # table order
  assert c[:3, :, 1].all() and c[3:5, :, 0].all() and s[:4, :, 1].all() and s[4:, :, 0].all()
  groups, group_names = mask_files.read_groups()
  assert len(groups) == 150 and len(group_names) == 10 and groups[13] == "person"
  Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
  with pytest.raises(UserError, match="grayscale or palette"):
    mask_files.load_label_map(str(tmp_path / "rgb.png"))



@pytest.mark.parametrize("table, message", [
    ("label\tclass\tgroup\n1\twall\n", "line 2: expected"),
    ("label\tclass\tgroup\nsky\tsky\tsky\n", "line 2: the label must be a whole number"),
    ("label\tclass\tgroup\n1\twall\t\n", "line 2: expected"),
    ("label\tclass\tgroup\n# comment\n1\twall\tbuilding\n1\tfloor\tfloor\n", "line 4: label 1 is listed twice"),
    ("id,name\n1,wall\n", "expected a header"),
    ("", "expected a header"),
])
def test_malformed_label_group_tables_are_user_errors(tmp_path, table, message):
  path = tmp_path / "groups.tsv"
  path.write_text(table)
  with pytest.raises(UserError, match=message):
    mask_files.read_groups(str(path))
  path.write_bytes(b"\xff\xfe\x00binary")
  with pytest.raises(UserError, match="cannot read the label grouping table"):
    mask_files.read_groups(str(path))


def test_oversized_and_broken_label_maps_are_refused_before_decoding(tmp_path):
  Image.fromarray(np.zeros((300, 400), np.uint8)).save(tmp_path / "big.png")
  with pytest.raises(UserError, match="image too large.*300 pixels, more than the limit of 1000"):
    mask_files.load_label_map(str(tmp_path / "big.png"), max_pixels=1000)
  (tmp_path / "broken.png").write_bytes((tmp_path / "big.png").read_bytes()[:60])
  with pytest.raises(UserError, match="broken.png"):
    mask_files.load_label_map(str(tmp_path / "broken.png"))
  with pytest.raises(UserError, match="label map not found"):
    mask_files.load_label_map(str(tmp_path / "missing.png"))
