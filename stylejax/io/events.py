"""TensorBoard event files, written without TensorFlow, tensorboardX or protobuf.

An event file (`events.out.tfevents.<unix seconds>.<host>`, the name TensorFlow's and tensorboardX's writers
give it) is a sequence of records in TensorFlow's record format (tensorflow/core/lib/io/record_writer.cc):

  uint64 length | uint32 masked_crc32c(length) | data (length bytes) | uint32 masked_crc32c(data)

all little-endian, where masked_crc32c(x) = ((c >> 15 | c << 17) + 0xa282ead8) mod 2^32 with c = CRC-32C(x)
(tensorflow/core/lib/hash/crc32c.h: a stored CRC is masked so that CRCs of data holding CRCs stay robust).

Each record's data is one `Event` protobuf (tensorflow/core/util/event.proto), written here by hand in the
protobuf wire format (https://protobuf.dev/programming-guides/encoding/): a field is a key varint
(field number << 3 | wire type) then its value: a varint (type 0), 8 little-endian bytes (type 1, double),
a length varint and the bytes (type 2: strings, bytes, nested messages) or 4 little-endian bytes (type 5,
float). Fields are written in field-number order and, as proto3 does, a scalar outside a oneof is left out
when it is zero. Only what stylejax.io.runlog writes is encoded:

  Event        wall_time = 1 (double), step = 2 (int64), and one of: file_version = 3 (string),
               summary = 5 (Summary), session_log = 7 (SessionLog)
  SessionLog   status = 1 (enum; START = 1: TensorBoard drops the run's events at later steps)
  Summary      value = 1 (repeated Value)            (tensorflow/core/framework/summary.proto)
  Value        tag = 1 (string), and one of: simple_value = 2 (float), image = 4 (Image)
  Image        height = 1, width = 2, colorspace = 3 (channels: 1 grey, 3 RGB, 4 RGBA; int32),
               encoded_image_string = 4 (PNG bytes)

The first event of a file names its version, "brain.Event:2". Writes are synchronous: each event is written
and flushed before `write` returns, so an error of the disk is raised by the write that met it.
"""

import io
import math
import os
import re
import socket
import struct
import time

from PIL import Image

FILE_VERSION = "brain.Event:2"
_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")  # TensorBoard's tag characters (as tensorboardX cleans tags)


def _crc_table(polynomial=0x82F63B78):
  """The byte table of a reflected CRC-32: entry b is the CRC register after shifting byte b through it.

  0x82F63B78 is the Castagnoli polynomial 0x1EDC6F41 bit-reversed (CRC-32C, RFC 3720 section 12.1)."""
  table = []
  for byte in range(256):
    crc = byte
    for _ in range(8):
      crc = (crc >> 1) ^ (polynomial if crc & 1 else 0)
    table.append(crc)
  return tuple(table)


_CRC_TABLE = _crc_table()


def crc32c(data):
  """CRC-32C (Castagnoli) of `data`: initial register and final xor 0xFFFFFFFF, one table lookup per byte.
  crc32c(b"123456789") == 0xE3069283 (the check value of the CRC catalogue)."""
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
  """TensorFlow's stored CRC: CRC-32C rotated right by 15 bits plus 0xa282ead8, modulo 2^32."""
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
  """`data` framed as one record: length, its masked CRC, the data, its masked CRC."""
  length = struct.pack("<Q", len(data))
  return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def _varint(value):
  """Base-128 varint, low groups first; a negative int64 as its 64-bit two's complement (10 bytes)."""
  value &= 0xFFFFFFFFFFFFFFFF
  out = bytearray()
  while value > 0x7F:
    out.append(value & 0x7F | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _int(field, value):
  return _varint(field << 3) + _varint(value)


def _double(field, value):
  return _varint(field << 3 | 1) + struct.pack("<d", value)


def _float(field, value):
  """A float field; values beyond float32's range become infinities, as protobuf stores them."""
  try:
    packed = struct.pack("<f", value)
  except OverflowError:
    packed = struct.pack("<f", math.copysign(math.inf, value))
  return _varint(field << 3 | 5) + packed


def _bytes(field, value):
  """A length-delimited field: bytes, a string (UTF-8) or a nested message."""
  value = value.encode() if isinstance(value, str) else value
  return _varint(field << 3 | 2) + _varint(len(value)) + value


def event(wall_time, step=0, file_version=None, summary=None, session_start=False):
  """One serialised Event with one of: a file version, a summary (serialised Summary) or a session START."""
  out = _double(1, wall_time) + (_int(2, step) if step else b"")
  if file_version is not None:
    out += _bytes(3, file_version)
  if summary is not None:
    out += _bytes(5, summary)
  if session_start:
    out += _bytes(7, _int(1, 1))
  return out


def _summary(tag, value_field):
  """A serialised Summary of one Value: the cleaned tag and its value field."""
  tag = _INVALID_TAG_CHARACTERS.sub("_", tag).lstrip("/")
  return _bytes(1, _bytes(1, tag) + value_field)


def scalar(tag, value):
  """A serialised Summary of one scalar (simple_value, float32)."""
  return _summary(tag, _float(2, value))


def image(tag, pixels):
  """A serialised Summary of one image: `pixels`, uint8 (H, W, C) with C 3 (RGB) or 4 (RGBA), as PNG."""
  height, width, channels = pixels.shape
  png = io.BytesIO()
  Image.fromarray(pixels).save(png, format="PNG")
  return _summary(tag, _bytes(4, _int(1, height) + _int(2, width) + _int(3, channels) + _bytes(4, png.getvalue())))


class EventWriter:
  """An event file in `folder`, opened (and its version event written) on construction.

  `write` frames and flushes each event at once; `close` also syncs the file to disk. Errors are the OSErrors
  of the file (a full disk raises at the write that met it)."""

  def __init__(self, folder):
    self.path = os.path.join(folder, f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}")
    self._file = open(self.path, "wb")
    self.write(file_version=FILE_VERSION)

  def write(self, step=0, **what):
    """Writes one event at `step`, stamped with the wall time; `what`: see `event`."""
    self._file.write(record(event(time.time(), step, **what)))
    self._file.flush()

  def close(self):
    try:
      self._file.flush()
      os.fsync(self._file.fileno())
    finally:
      self._file.close()
