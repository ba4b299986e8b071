"""Mask maths: Luan's colours, automatic (k-means) masks, per-layer resizing, drawing."""

import warnings

import jax
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
  batch = masks.layer_masks(np.stack([m, m[:, ::-1]]), {"a": (4, 4)})["a"]  # a batch's, per example
  assert batch.shape == (2, 4, 4, 2)
  np.testing.assert_allclose(batch[0], per_layer["a"][0], atol=1e-6)
  np.testing.assert_allclose(batch[1], per_layer["a"][0, :, ::-1], atol=1e-6)


def _two_textures(size=64):
  """(content, style) (size, size, 3) 0..255 of the same two textures: stripes above noise, and noise above
  stripes."""
  rng = np.random.default_rng(0)
  stripes = np.tile((np.arange(size) % 8 < 4)[None, :, None] * 255.0, (size, 1, 3))
  noise = rng.uniform(0, 255, (size, size, 3))
  half = size // 2
  return (np.concatenate([stripes[:half], noise[:half]], 0).astype(np.float32),
          np.concatenate([noise[half:], stripes[half:]], 0).astype(np.float32))


def test_auto_masks_match_regions_across_images():
  """Two images made of the same two textures, arranged differently, get matching regions."""
  content, style = _two_textures()
  c, s, names = masks.auto_masks(weights.load_vgg(), content, style, k=2, smooth_px=1.0)
  assert len(names) == 2
  top_region = c[:24].mean((0, 1)).argmax()
  assert c[:24, :, top_region].mean() > 0.9 and s[40:, :, top_region].mean() > 0.9
  assert c[40:, :, top_region].mean() < 0.1


def test_batch_regions_match_the_same_textures_in_each_example_and_its_style_alone():
  """The training step's regions (batch_regions): per example, soft masks summing to one whose region covers the
  same texture in the content and in its style (the two examples arranged differently); the same key gives the
  same masks."""
  content, style = _two_textures(128)  # 16 × 16 points each (at 64², 8 × 8 mostly of the textures' border)
  contents, styles = np.stack([content, content[::-1]]), np.stack([style, style[:, ::-1]])
  found = jax.jit(lambda c, s, key: masks.batch_regions(weights.load_vgg(), c, s, 2, key))
  c, s = found(contents, styles, jax.random.key(0))
  assert c.shape == (2, 128, 128, 2) and s.shape == (2, 128, 128, 2)
  np.testing.assert_allclose(np.asarray(c).sum(-1), 1, atol=1e-5)
  top, bottom = slice(0, 48), slice(80, 128)
  for k, (stripes_in_content, noise_in_content) in enumerate([(top, bottom), (bottom, top)]):
    stripes = int(np.asarray(c[k, stripes_in_content]).mean((0, 1)).argmax())
    assert c[k, stripes_in_content, :, stripes].mean() > 0.9 and c[k, noise_in_content, :, stripes].mean() < 0.1
    assert s[k, bottom, :, stripes].mean() > 0.9 and s[k, top, :, stripes].mean() < 0.1
  again = found(contents, styles, jax.random.key(0))
  np.testing.assert_array_equal(np.asarray(again[0]), np.asarray(c))


def test_a_region_only_one_image_has_joins_the_nearest_shared_one():
  """shared_labels: the content's points first (split 3), then the style's; regions 1 (content only) and 3 (style
  only) go to the nearest region both have; with none shared, all are one region."""
  points = np.array([[0.0], [12.0], [20.0], [0.0], [20.0], [14.0]])
  centres = np.array([[0.0], [12.0], [20.0], [14.0]])
  labels = np.array([0, 1, 2, 0, 2, 3])
  np.testing.assert_array_equal(masks.shared_labels(points, labels, centres, 3), [0, 2, 2, 0, 2, 2])
  np.testing.assert_array_equal(masks.shared_labels(points, np.array([0, 0, 1, 2, 2, 3]), centres, 3), [0] * 6)


def test_to_colour_image_uses_luans_colours():
  m = np.zeros((2, 2, 2), np.float32)
  m[0, :, 0] = m[1, :, 1] = 1
  np.testing.assert_array_equal(masks.to_color_image(m), [[[0, 0, 255]] * 2, [[0, 255, 0]] * 2])
  np.testing.assert_array_equal(masks.to_color_image(m, ["white", "red"]), [[[255] * 3] * 2, [[255, 0, 0]] * 2])

