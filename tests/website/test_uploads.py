"""Untrusted uploads (decoded, limited, oriented, stripped) and the mail module (address checks, aiosmtpd)."""

import io

import numpy as np
import pytest
from ml_collections import ConfigDict
from PIL import Image

from stylejax.errors import UserError
from stylejax.web import mail, uploads

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 1_000_000}


def encoded(img, fmt, **options):
  buffer = io.BytesIO()
  img.save(buffer, fmt, **options)
  return buffer.getvalue()


def photo(width=40, height=30):
  return Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_decodes_by_content_not_by_name(fmt):
  img = uploads.decode(encoded(photo(), fmt), **LIMITS)
  assert img.mode == "RGB" and img.size == (40, 30)


@pytest.mark.parametrize("data, message", [
    (b"", "no file was sent"),
    (b"<?php echo 'hello'; ?>", "not a readable image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "not a readable image"),
    (b"%PDF-1.4 not a picture", "not a readable image"),
])
def test_refuses_what_is_not_an_image(data, message):
  with pytest.raises(UserError, match=message):
    uploads.decode(data, **LIMITS)


def test_refuses_too_many_bytes_and_pixels_and_decompression_bombs():
  with pytest.raises(UserError, match="limit is 0.0 MB"):
    uploads.decode(encoded(photo(), "PNG"), max_bytes=10, max_pixels=10**6)
  with pytest.raises(UserError, match=r"the photo is 16.0 MB; the limit is 15.0 MB"):  # the whole upload's size
    uploads.decode(b"\0" * (15_000_001), max_bytes=15_000_000, max_pixels=10**6, size=16_000_000)
  with pytest.raises(UserError, match=r"has 2000 × 1000 pixels \(2 MP\); the limit is 1 MP"):
    uploads.decode(encoded(photo(2000, 1000), "PNG"), max_bytes=10**8, max_pixels=10**6)
  bomb = encoded(Image.new("1", (30000, 30000)), "PNG")  # 900 megapixels in a few hundred kB
  assert len(bomb) < LIMITS["max_bytes"]
  with pytest.raises(UserError, match="too large"):
    uploads.decode(bomb, **LIMITS)


def test_honours_exif_orientation_and_converts_any_mode():
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90 degrees clockwise to view
  upright = uploads.decode(encoded(photo(40, 30), "JPEG", exif=exif), **LIMITS)
  assert upright.size == (30, 40)
  rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
  assert uploads.decode(encoded(rgba, "PNG"), **LIMITS).getpixel((0, 0)) == (255, 255, 255)  # alpha over white
  assert uploads.decode(encoded(Image.new("L", (8, 8), 7), "PNG"), **LIMITS).getpixel((0, 0)) == (7, 7, 7)


@pytest.mark.parametrize("address", ["a@example.org", " first.last+tag@sub.example.co.uk ", ""])
def test_accepts_plain_addresses(address):
  assert mail.check_address(address) == address.strip()


@pytest.mark.parametrize("address", [
    "no-at-sign", "a@b", "a b@example.org", "a@example.org\r\nBcc: victim@example.org",
    "a@example.org\nSubject: spam", "<a@example.org>", "a@-example.org", "x" * 250 + "@example.org",
    "a@example.org, b@example.org"])
def test_refuses_bad_addresses_and_header_injection(address):
  with pytest.raises(UserError, match="not valid"):
    mail.check_address(address)


def test_sends_the_result_as_an_attachment_through_smtp(inbox):
  smtp = ConfigDict({"host": "127.0.0.1", "port": inbox.port, "security": "none", "user": "",
                     "password": "", "sender": "site@example.org"})
  png = encoded(photo(), "PNG")
  mail.send(smtp, mail.message(smtp, "user@example.org", "Your result", "See attached.", png))
  (envelope,) = inbox.messages
  assert envelope.rcpt_tos == ["user@example.org"] and envelope.mail_from == "site@example.org"
  assert inbox.attachment(inbox.mails()[0]) == png


def test_unknown_security_is_refused():
  smtp = ConfigDict({"host": "127.0.0.1", "port": 1, "security": "tls13", "user": "", "password": "",
                     "sender": "s@example.org"})
  with pytest.raises(UserError, match="smtp.security"):
    mail.send(smtp, mail.message(smtp, "u@example.org", "s", "t"))
