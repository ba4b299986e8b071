"""Untrusted image uploads: decoded and checked before anything keeps them.

The type comes from decoding (never from the file name or the declared
content type), bytes and pixels are limited before decoding (decompression
bombs are refused from their header), EXIF orientation is applied, and what is
kept is re-encoded from the pixels under a generated name, so no metadata
(EXIF, GPS, ICC, text chunks) and no bytes of the upload survive.
"""

import io
import os
import re

from stylejax.errors import UserError
from stylejax.io import images

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")


def check_received(data, max_bytes, what="the photo", size=None):
  """A UserError in the sender's terms for an empty upload, images.TooLarge (with the file's real size) for one
  over `max_bytes`. `size`: the upload's whole size in bytes, where `data` holds only its first max_bytes + 1."""
  if not data:
    raise UserError(f"{what}: no file was sent")
  size = max(size or 0, len(data))
  if size > max_bytes:
    raise images.TooLarge(f"{what} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB per file: "
                          f"send a smaller or more compressed version")


def decode(data, max_bytes, max_pixels, what="the photo", size=None):
  """An 8-bit RGB PIL image from uploaded bytes, or a UserError in the sender's terms (check_received; and
  images.TooLarge for the pixel limit, with the file's real numbers)."""
  check_received(data, max_bytes, what, size)
  with images.opened(io.BytesIO(data), float("inf"), what) as img:
    if img.format not in FORMATS:
      raise UserError(f"{what} is a {img.format} image; send JPEG, PNG, WebP, BMP, GIF or TIFF")
    width, height = img.size
  if width * height > max_pixels:
    raise images.TooLarge(f"{what} has {width} × {height} pixels ({width * height / 1e6:.3g} MP); the limit is "
                          f"{max_pixels / 1e6:.3g} MP: send a smaller version")
  return images.open_rgb(io.BytesIO(data), max_pixels, what)



def title_from_name(filename):
  """A title from an uploaded file's name ("the-starry_night.1889.jpg" -> "The starry night 1889"), or ''."""
  stem = os.path.splitext(os.path.basename(filename or ""))[0]
  return " ".join(re.sub(r"[\W_]+", " ", stem).split())[:60].capitalize()
