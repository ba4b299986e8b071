"""Image loading: conversions, EXIF, limits, and one-line errors for bad files."""

import numpy as np
import pytest
from PIL import Image

from stylejax.errors import UserError
from stylejax.io import images


def gradient_rgb(h=20, w=30):
  y, x = np.mgrid[0:h, 0:w]
  return np.stack([x * 8, y * 12, (x + y) * 4], -1).astype(np.uint8)


def test_rgb_round_trip_and_resize(tmp_path):
  path = tmp_path / "a.png"
  Image.fromarray(gradient_rgb()).save(path)
  image = images.load_image(path)
  assert image.dtype == np.float32 and image.shape == (20, 30, 3)
  np.testing.assert_array_equal(image, gradient_rgb())
  assert images.load_image(path, long_side=60).shape == (40, 60, 3)
  images.save_image(str(tmp_path / "out" / "b.png"), image)
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "b.png")), gradient_rgb())


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "I", "F", "1"])
def test_every_mode_becomes_rgb(tmp_path, mode):
  source = Image.fromarray(gradient_rgb())
  if mode == "I;16":
    img = Image.fromarray((np.asarray(source.convert("L"), np.uint16) * 257))
  else:
    img = source.convert(mode)
  path = tmp_path / ("x.tif" if mode in ("CMYK", "I", "F") else "x.png")
  img.save(path)
  image = images.load_image(path)
  assert image.shape == (20, 30, 3) and image.dtype == np.float32
  assert 0 <= image.min() and image.max() <= 255
  if mode in ("L", "I;16"):  # gray levels survive the conversion
    np.testing.assert_allclose(image[..., 0], np.asarray(source.convert("L")), atol=1)


def test_alpha_is_composited_on_white(tmp_path):
  rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
  Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
  np.testing.assert_array_equal(images.load_image(tmp_path / "t.png"), 255)


def test_exif_orientation_is_honoured(tmp_path):
  img = Image.fromarray(gradient_rgb(20, 30))
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90° clockwise to display
  img.save(tmp_path / "r.jpg", exif=exif, quality=95)
  assert images.load_image(tmp_path / "r.jpg").shape == (30, 20, 3)


def test_missing_corrupt_and_oversized_files_are_user_errors(tmp_path):
  with pytest.raises(UserError, match="not found"):
    images.load_image(tmp_path / "missing.jpg")
  with pytest.raises(UserError, match="directory"):
    images.load_image(tmp_path)
  (tmp_path / "text.jpg").write_text("this is not an image")
  with pytest.raises(UserError, match="not a readable image"):
    images.load_image(tmp_path / "text.jpg")
  Image.fromarray(gradient_rgb(200, 200)).save(tmp_path / "full.jpg")
  data = (tmp_path / "full.jpg").read_bytes()
  (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
  with pytest.raises(UserError, match="corrupt"):
    images.load_image(tmp_path / "cut.jpg")
  with pytest.raises(UserError, match="too large.*max_input_pixels"):
    images.load_image(tmp_path / "full.jpg", max_pixels=1000)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
  bomb = tmp_path / "bomb.png"
  Image.new("1", (20000, 20000)).save(bomb)  # 400 Mpx, a few kB on disk
  assert bomb.stat().st_size < 200_000
  with pytest.raises(UserError, match="too large"):
    images.load_image(bomb)


def test_original_colors_keeps_content_chroma_and_stylised_luminance(rng):
  stylised = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
  content = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
  out = images.original_colors(stylised, content)
  luma = np.array([0.299, 0.587, 0.114])
  inside = (out > 0.5).all(-1) & (out < 254.5).all(-1)  # not clipped
  np.testing.assert_allclose((out @ luma)[inside], (stylised @ luma)[inside], atol=1e-3)
  gray = np.repeat((content @ luma)[..., None], 3, -1)
  np.testing.assert_allclose(images.original_colors(gray, content), content, atol=1e-2)
