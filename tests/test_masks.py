"""Masks: Luan's colour PNGs, automatic masks, per-layer resizing, drawing."""

import warnings

import numpy as np
import pytest
from PIL import Image

from stylejax.core import masks
from stylejax.io import mask_files, weights
from stylejax.errors import UserError

BLUE, RED, GREEN = (0, 0, 255), (255, 0, 0), (0, 255, 0)


def segmentation(h, w, top, bottom, split=0.5):
  seg = np.zeros((h, w, 3), np.float32)
  seg[: int(h * split)] = top
  seg[int(h * split):] = bottom
  return seg


def test_colour_masks_keep_common_colours_and_warn_about_the_rest():
  content = segmentation(10, 8, BLUE, RED)
  style = segmentation(6, 12, BLUE, GREEN, split=0.3)
  style[5] = RED
  with pytest.warns(UserWarning, match="green appears only in the style"):
    c, s, names = masks.color_masks(content, style)
  assert names == ["blue", "red"]
  assert c.shape == (10, 8, 2) and s.shape == (6, 12, 2)
  np.testing.assert_array_equal(c[:5, :, 0], 1)
  np.testing.assert_array_equal(c[5:, :, 1], 1)
  assert s[..., 1].sum() == 12 and s[1:5].sum() == 0  # green rows belong to no channel


def test_near_colours_snap_and_unknown_colours_are_errors():
  seg = segmentation(10, 10, (250, 3, 2), (3, 3, 240))  # JPEG-ish near misses of red and blue
  seg[0, 0] = (128, 40, 200)  # one stray pixel: nearest colour
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    c, _, names = masks.color_masks(seg, seg)
  assert names == ["blue", "red"]
  bad = segmentation(10, 10, (200, 120, 30), BLUE)  # orange is no Luan colour
  with pytest.raises(UserError, match="match none of Luan's 9 colours.*#c8781e"):
    masks.color_masks(bad, bad, "bad.png", "bad.png")
  with pytest.raises(UserError, match="share no region"), pytest.warns(UserWarning, match="appears only"):
    masks.color_masks(segmentation(4, 4, BLUE, BLUE), segmentation(4, 4, RED, RED))


def test_mask_files_are_resized_nearest_but_aspect_must_match(tmp_path):
  Image.fromarray(segmentation(20, 40, BLUE, RED).astype(np.uint8)).save(tmp_path / "m.png")
  loaded = mask_files.load_segmentation(str(tmp_path / "m.png"))
  seg = mask_files.resize_nearest(loaded, 10, 20, "m.png")
  assert seg.shape == (10, 20, 3) and set(np.unique(seg)) == {0.0, 255.0}
  with pytest.raises(UserError, match="different aspect ratio"):
    mask_files.resize_nearest(loaded, 20, 20, "m.png")


def test_layer_masks_average_down():
  m = np.zeros((8, 8, 2), np.float32)
  m[:, :4, 0] = m[:, 4:, 1] = 1
  per_layer = masks.layer_masks(m, {"a": (4, 4), "b": (1, 2)})
  assert per_layer["a"].shape == (1, 4, 4, 2) and per_layer["b"].shape == (1, 1, 2, 2)
  np.testing.assert_allclose(np.asarray(per_layer["a"]).sum(-1), 1, atol=1e-6)
  assert per_layer["b"][0, 0, 0, 0] > 0.8 and per_layer["b"][0, 0, 1, 1] > 0.8  # left half, right half


def test_auto_masks_match_regions_across_images():
  """Two images made of the same two textures, arranged differently, get matching regions."""
  rng = np.random.default_rng(0)
  stripes = np.tile((np.arange(64) % 8 < 4)[None, :, None] * 255.0, (64, 1, 3))
  noise = rng.uniform(0, 255, (64, 64, 3))
  content = np.concatenate([stripes[:32], noise[:32]], 0).astype(np.float32)  # stripes on top
  style = np.concatenate([noise[32:], stripes[32:]], 0).astype(np.float32)  # stripes below
  c, s, names = masks.auto_masks(weights.load_vgg(), content, style, k=2, smooth_px=1.0)
  assert len(names) == 2
  top_region = c[:24].mean((0, 1)).argmax()
  assert c[:24, :, top_region].mean() > 0.9 and s[40:, :, top_region].mean() > 0.9
  assert c[40:, :, top_region].mean() < 0.1


def test_to_colour_image_uses_luans_colours():
  m = np.zeros((2, 2, 2), np.float32)
  m[0, :, 0] = m[1, :, 1] = 1
  np.testing.assert_array_equal(masks.to_color_image(m), [[[0, 0, 255]] * 2, [[0, 255, 0]] * 2])
  np.testing.assert_array_equal(masks.to_color_image(m, ["white", "red"]), [[[255] * 3] * 2, [[255, 0, 0]] * 2])


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
