"""TensorBoard event files written by hand (stylejax.io.events), read back with independent readers:
tensorboardX's protobuf classes (event_pb2) and CRC-32C, and a record reader that checks every CRC."""

import os
import pathlib
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from tensorboardX import summary
from tensorboardX.crc32c import crc32c as tensorboardx_crc32c
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c as tensorboardx_masked_crc32c

from stylejax.io import events
from tests.helpers import ROOT


def read_records(path):
  """The records of a file in TensorFlow's record format, each CRC checked with tensorboardX's CRC-32C."""
  data, records, offset = pathlib.Path(path).read_bytes(), [], 0
  while offset < len(data):
    header, (header_crc,) = data[offset:offset + 8], struct.unpack("<I", data[offset + 8:offset + 12])
    (length,) = struct.unpack("<Q", header)
    body = data[offset + 12:offset + 12 + length]
    (body_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
    assert (header_crc, body_crc) == (tensorboardx_masked_crc32c(header), tensorboardx_masked_crc32c(body))
    records.append(body)
    offset += 16 + length
  return records


def read_events(path):
  """Every Event of an event file, parsed by protobuf."""
  return [event_pb2.Event.FromString(record) for record in read_records(path)]


def test_crc32c_check_value_and_tensorboardx_agree():
  assert events.crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value of CRC-32C
  assert events.crc32c(b"") == 0
  data = np.random.default_rng(0).bytes(5000)
  assert events.crc32c(data) == tensorboardx_crc32c(data)
  assert events.masked_crc32c(data) == tensorboardx_masked_crc32c(data)


@pytest.mark.parametrize("value", [0.0, 1.5, -3.25, 1e-42, 3.4028235e38, 1e39, -1e39, float("inf"), float("nan")])
def test_a_scalar_is_the_bytes_protobuf_writes(value):
  ours = events.event(1700000000.25, 7, summary=events.scalar("loss/total", value))
  theirs = event_pb2.Event(wall_time=1700000000.25, step=7, summary=summary.scalar("loss/total", value))
  assert ours == theirs.SerializeToString()


@pytest.mark.parametrize("step", [0, 1, 127, 128, 300, 2**40, -1])
def test_steps_are_int64_varints(step):
  ours = events.event(1.5, step, session_start=True)
  start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
  assert ours == event_pb2.Event(wall_time=1.5, step=step, session_log=start).SerializeToString()


def test_the_version_event_and_an_image_are_the_bytes_protobuf_writes():
  assert events.event(2.0, file_version="brain.Event:2") == event_pb2.Event(
      wall_time=2.0, file_version="brain.Event:2").SerializeToString()
  pixels = np.random.default_rng(1).integers(0, 256, (6, 8, 3), dtype=np.uint8)
  # tensorboardX cleans tags alike: characters outside [-/\w.] become _, leading slashes go
  assert events.image("/sample/my photo", pixels) == summary.image(
      "/sample/my photo", pixels, dataformats="HWC").SerializeToString()


def test_a_written_file_reads_back(tmp_path):
  writer = events.EventWriter(str(tmp_path))
  writer.write(3, summary=events.scalar("loss/style", 2.5))
  assert len(read_records(writer.path)) == 2  # each event reaches the file before write returns
  pixels = np.zeros((5, 4, 4), np.uint8)
  pixels[..., 3] = 255
  writer.write(3, summary=events.image("result", pixels))
  writer.write(2, session_start=True)
  writer.close()
  assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\..+", os.path.basename(writer.path))
  version, scalar, image, purge = read_events(writer.path)
  assert version.file_version == "brain.Event:2" and version.wall_time > 1.6e9
  assert (scalar.step, scalar.summary.value[0].tag, scalar.summary.value[0].simple_value) == (3, "loss/style", 2.5)
  picture = image.summary.value[0].image
  assert (picture.height, picture.width, picture.colorspace) == (5, 4, 4)
  assert picture.encoded_image_string.startswith(b"\x89PNG\r\n\x1a\n")
  assert purge.step == 2 and purge.session_log.status == event_pb2.SessionLog.START


@pytest.mark.slow  # a fresh interpreter
def test_importing_the_launcher_imports_neither_torch_nor_matplotlib():
  code = "import stylejax.launch, sys; print(sorted({'torch', 'tensorboardX', 'matplotlib'} & set(sys.modules)))"
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.stdout.strip() == "[]", result.stderr[-2000:]
