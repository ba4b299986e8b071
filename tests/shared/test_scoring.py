"""The fixed scoring protocol on known cases."""

import numpy as np
import pytest
import skimage.transform

from stylejax.core import scoring
from stylejax.io import assets, images, weights


@pytest.fixture(scope="module")
def vgg():
  return weights.load_vgg("vgg16")


@pytest.fixture(scope="module")
def photos():
  content = images.load_image(assets.path("astronaut.jpg"), 96)
  style = images.load_image(assets.path("grace_hopper.jpg"), 96)
  return np.round(content), np.round(style)


def test_the_photo_itself_and_a_global_colour_shift_are_photorealistic_a_swirl_is_not(vgg, photos):
  content, style = photos
  itself = scoring.score(vgg, content, content, style)
  assert itself["content"] == 0 and itself["gradient_ssim"] == pytest.approx(1.0)
  assert itself["affine_energy"] < 1e-5
  shifted = scoring.score(vgg, content * np.array([0.8, 0.9, 0.7]) + 10, content, style)
  swirled = scoring.score(vgg, skimage.transform.swirl(content / 255.0, strength=6, radius=60) * 255, content, style)
  assert shifted["affine_energy"] < 1e-3 * swirled["affine_energy"]  # an affine map of the colours costs ~0
  assert swirled["gradient_ssim"] < shifted["gradient_ssim"] and swirled["content"] > shifted["content"]
  assert shifted["color"] != itself["color"]


def test_the_style_scores_zero_against_itself_and_one_region_equals_no_masks(vgg, photos):
  content, style = photos
  plain, _ = scoring.feature_distances(vgg, content, content, style)
  assert plain > 0 and scoring.color_distance(style, style) == 0
  assert scoring.feature_distances(vgg, style, style, style) == (0, 0)
  ones = lambda image: np.ones((*image.shape[:2], 1), np.float32)  # noqa: E731
  np.testing.assert_allclose(scoring.feature_distances(vgg, content, content, style, ones(content), ones(style))[0],
                             plain, rtol=1e-4)


def test_color_distance_is_the_mean_shift_of_the_channel_values():
  image = np.full((8, 8, 3), 100.0)
  np.testing.assert_allclose(scoring.color_distance(image, image + np.array([51.0, 0.0, 0.0])), 51 / 255 / 3)
