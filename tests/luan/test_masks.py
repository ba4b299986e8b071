"""Mask maths: Luan's colours, automatic (k-means) masks, per-layer resizing, drawing."""

import warnings

import numpy as np
import pytest

from stylejax.core import masks
from stylejax.errors import UserError
from stylejax.io import weights
from tests.helpers import BLUE, GREEN, RED, segmentation


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

