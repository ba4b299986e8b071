"""Untrusted image uploads: decoded and checked before anything keeps them.

The type comes from decoding (never from the file name or the declared
content type), bytes and pixels are limited before decoding (decompression
bombs are refused from their header), EXIF orientation is applied, and what is
kept is re-encoded from the pixels under a generated name, so no metadata
(EXIF, GPS, ICC, text chunks) and no bytes of the upload survive.
"""

import io

from stylejax.errors import UserError
from stylejax.io import images

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")


def decode(data, max_bytes, max_pixels, what="the photo"):
  """An 8-bit RGB PIL image from uploaded bytes, or a UserError saying what is wrong (images.TooLarge for the
  byte and pixel limits)."""
  if not data:
    raise UserError(f"{what}: no file was sent")
  if len(data) > max_bytes:
    raise images.TooLarge(f"{what} is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
  with images.opened(io.BytesIO(data), max_pixels, what) as img:
    if img.format not in FORMATS:
      raise UserError(f"{what} is a {img.format} image; send JPEG, PNG, WebP, BMP, GIF or TIFF")
  return images.open_rgb(io.BytesIO(data), max_pixels, what)

