"""Image files in and out: validation, mode conversion, resizing, colour helpers.

Images inside stylejax are float32 arrays of shape (H, W, 3) with values in
0..255 (the thesis's pixel range), batched as NHWC where a network needs it.
"""

import contextlib
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stylejax import errors
from stylejax.errors import UserError
from stylejax.io import atomic

# Larger inputs are refused before decoding (decompression bombs included).
DEFAULT_MAX_PIXELS = 100_000_000

# RGB <-> YIQ (NTSC), used to keep the content's colours (Gatys et al. 2016,
# "Preserving color in neural artistic style transfer", luminance-only transfer).
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


class TooLarge(UserError):
  """An image over a pixel limit (or a decompression bomb) or, for uploads, over a byte limit."""


def fit_long_side(height, width, long_side):
  """(h, w) scaled so that max(h, w) == long_side, aspect kept, each >= 1."""
  scale = long_side / max(height, width)
  return max(1, round(height * scale)), max(1, round(width * scale))


def _to_rgb(img):
  """Any PIL mode to 8-bit RGB: 16-bit and float scaled, alpha over white."""
  if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
    values = np.asarray(img, np.float64)
    top = 255.0 if img.mode == "F" else (65535.0 if values.max() > 255 else 255.0)
    img = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
  if img.mode == "P":
    img = img.convert("RGBA")
  if img.mode in ("RGBA", "LA", "PA"):
    img = img.convert("RGBA")
    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
    img = Image.alpha_composite(background, img)
  return img.convert("RGB")


@contextlib.contextmanager
def opened(source, max_pixels=DEFAULT_MAX_PIXELS, name=None):
  """An open PIL image, its size checked against `max_pixels` before anything is decoded.

  Any failure in the `with` body (unreadable, corrupt or oversized file: a
  crafted one can make a decoder raise anything) is raised as a UserError
  naming `name` (default: the path); oversized ones as TooLarge.
  """
  name = name or os.fspath(source)
  with errors.reading(f"corrupt or unreadable image: {name}"):
    try:
      with warnings.catch_warnings():
        # Our own pixel limit below replaces Pillow's bomb warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(source) as img:
          width, height = img.size
          if width * height > max_pixels:
            raise TooLarge(f"image too large: {name} has {width}x{height} pixels, "
                           f"more than the limit of {max_pixels} (config max_input_pixels)")
          yield img
    except Image.DecompressionBombError as e:
      raise TooLarge(f"image too large: {name}: {e}") from None
    except UnidentifiedImageError:
      raise UserError(f"not a readable image: {name}") from None


def open_rgb(source, max_pixels=DEFAULT_MAX_PIXELS, name=None):
  """Decodes an image file or file object to an 8-bit RGB PIL image.

  EXIF orientation is honoured; grayscale, palette, alpha, 16-bit and CMYK
  images are converted. Raises UserError for unreadable, corrupt or oversized
  images (see `opened`).
  """
  with opened(source, max_pixels, name) as img:
    img.load()
    return _to_rgb(ImageOps.exif_transpose(img))


def read_rgb(path, max_pixels=DEFAULT_MAX_PIXELS):
  """Decodes an image file to an 8-bit RGB PIL image (see `open_rgb`); missing files and folders are refused."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise UserError(f"image not found: {path}")
  if os.path.isdir(path):
    raise UserError(f"expected an image file, got a directory: {path}")
  return open_rgb(path, max_pixels)


def at_long_side(img, long_side=None):
  """A decoded PIL image as float32 (H, W, 3) in 0..255, resized (Lanczos) to `long_side` if given."""
  if long_side is not None:
    height, width = fit_long_side(img.height, img.width, long_side)
    if (height, width) != (img.height, img.width):
      img = img.resize((width, height), Image.Resampling.LANCZOS)
  return np.asarray(img, np.float32)


def at_most(img, max_side):
  """A PIL image scaled down (Lanczos) so that its long side is at most `max_side`; smaller ones are kept."""
  if max(img.size) <= max_side:
    return img
  height, width = fit_long_side(img.height, img.width, max_side)
  return img.resize((width, height), Image.Resampling.LANCZOS)


def from_array(image):
  """An (H, W, 3) 0..255 array as an 8-bit RGB PIL image (rounded)."""
  return Image.fromarray(to_uint8(image)).convert("RGB")


def load_image(path, long_side=None, max_pixels=DEFAULT_MAX_PIXELS):
  """Reads an image file as float32 (H, W, 3) RGB in 0..255 (see `open_rgb`).

  `long_side` resizes (Lanczos) so that the longer side has that many pixels.
  Raises UserError for missing, unreadable, corrupt or oversized files.
  """
  return at_long_side(read_rgb(path, max_pixels), long_side)


def load_within(path, max_side=0, max_pixels=DEFAULT_MAX_PIXELS):
  """`load_image` at its own size, shrunk to a long side of `max_side` when larger (0: never)."""
  image = load_image(path, None, max_pixels)
  if max_side and max(image.shape[:2]) > max_side:
    image = resize(image, *fit_long_side(*image.shape[:2], max_side))
  return image


def decode_row(row, max_side=0, max_pixels=DEFAULT_MAX_PIXELS):
  """A table row's photo (`row["path"]`, see `load_within`) into `row["image"]`, or why it cannot be read
  into `row["error"]` ("" when it can). Light to import: the stylize job's Ray engine decodes with it in
  worker processes that never load JAX."""
  try:
    row["image"], row["error"] = load_within(row["path"], max_side, max_pixels), ""
  except UserError as e:
    row["image"], row["error"] = np.zeros((1, 1, 3), np.float32), str(e)
  return row


def to_uint8(image):
  """Float 0..255 image to uint8, clipped and rounded."""
  return np.clip(np.asarray(image, np.float32) + 0.5, 0, 255).astype(np.uint8)


def save_image(path, image, **options):
  """Writes a float 0..255 (H, W, 3) image; the format follows the extension,
  `options` go to Pillow (e.g. quality). Atomic (stylejax.io.atomic): a crash
  or a full disk never leaves a half-written image, and concurrent writers of
  one path do not collide."""
  image_format = Image.registered_extensions()[os.path.splitext(path)[1].lower()]
  with atomic.writing(path) as f:
    Image.fromarray(to_uint8(image)).save(f, image_format, **options)


def resize(image, height, width):
  """Lanczos resize of a float (H, W, 3) image, values kept in float."""
  channels = [Image.fromarray(np.ascontiguousarray(image[..., c], np.float32))
              .resize((width, height), Image.Resampling.LANCZOS) for c in range(3)]
  return np.stack([np.asarray(c) for c in channels], axis=-1)


def original_colors(stylised, content):
  """Luminance of `stylised`, chrominance (I, Q) of `content`; both (H, W, 3) 0..255.

  Gatys, Bethge, Hertzmann, Shechtman (2016), "Preserving color in neural
  artistic style transfer", luminance-only transfer in YIQ space.
  """
  y = np.asarray(stylised, np.float32) @ _RGB_TO_YIQ[0]
  yiq = np.asarray(content, np.float32) @ _RGB_TO_YIQ.T
  yiq[..., 0] = y
  return np.clip(yiq @ _YIQ_TO_RGB.T, 0, 255)
