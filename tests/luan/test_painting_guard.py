"""The photorealistic methods' painting guard (stylejax.core.texture): paintings are textured all over, photos are
not; the Luan job says so. The website's side is in tests/website/test_app.py."""

import numpy as np

from stylejax.core import texture
from stylejax.io import assets, images

PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "woman_with_a_hat.jpg")
PHOTOS = ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "grace_hopper.jpg", "rocket.jpg")


def test_the_bundled_paintings_are_textured_all_over_and_the_bundled_photos_are_not():
  for name in PAINTINGS:
    assert texture.smooth_share(images.read_rgb(assets.path(name))) < texture.PAINTED, name
  for name in PHOTOS:  # far from the threshold: at least four times it
    assert texture.smooth_share(images.read_rgb(assets.path(name))) > 4 * texture.PAINTED, name


def test_flat_pictures_are_smooth_noise_is_not_and_small_pictures_are_not_enlarged(rng):
  flat = np.full((300, 400, 3), 128, np.uint8)
  noise = rng.integers(0, 256, (300, 400, 3)).astype(np.uint8)
  assert texture.smooth_share(flat) == 1.0 and not texture.textured_all_over(flat)
  assert texture.smooth_share(noise) == 0.0 and texture.textured_all_over(noise)
  small_noise = noise[:60, :80]  # enlarged to 512 px, its blocks would be smooth
  assert texture.textured_all_over(small_noise)
