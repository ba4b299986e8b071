"""The run log: metrics.jsonl and TensorBoard event files, written synchronously; disk errors name the file."""

import errno
import glob
import json
import os
import struct

import ml_collections
import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from stylejax.io import runlog


def read_events(workdir):
  """Every Event in the workdir's event file (TFRecord framing: length, crc, data, crc)."""
  (path,) = glob.glob(str(workdir / "events.out.tfevents.*"))
  data, events, offset = open(path, "rb").read(), [], 0
  while offset < len(data):
    (length,) = struct.unpack("<Q", data[offset:offset + 8])
    events.append(event_pb2.Event.FromString(data[offset + 12:offset + 12 + length]))
    offset += 12 + length + 4
  return events


def test_scalars_and_images_reach_the_event_file_and_metrics(tmp_path):
  log = runlog.RunLog(str(tmp_path), ml_collections.ConfigDict({"seed": 1}))
  log.scalars(0, {"total": 3.0, "style": 2.0})
  log.scalars(5, {"total": 1.5, "style": 1.0})
  log.image("result", np.full((6, 8, 3), 200.0), 5)
  log.close()
  events = read_events(tmp_path)
  assert events[0].file_version == "brain.Event:2"
  scalars = [(e.step, v.tag, v.simple_value) for e in events for v in e.summary.value if v.HasField("simple_value")]
  assert scalars == [(0, "loss/total", 3.0), (0, "loss/style", 2.0), (5, "loss/total", 1.5), (5, "loss/style", 1.0)]
  (image,) = [v.image for e in events for v in e.summary.value if v.HasField("image")]
  assert (image.height, image.width) == (6, 8)
  assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [0, 5]
  assert json.loads((tmp_path / "config.json").read_text()) == {"seed": 1}


def test_resuming_drops_later_rows_and_tells_tensorboard_to_purge(tmp_path):
  log = runlog.RunLog(str(tmp_path), ml_collections.ConfigDict())
  for step in (0, 2, 4):
    log.scalars(step, {"total": float(step)})
  log.close()
  for path in glob.glob(str(tmp_path / "events.*")):
    os.remove(path)
  log = runlog.RunLog(str(tmp_path), ml_collections.ConfigDict(), resume_step=2)
  log.close()
  assert [row["step"] for row in log.rows] == [0, 2]
  (purge,) = [e for e in read_events(tmp_path) if e.HasField("session_log")]
  assert purge.step == 3 and purge.session_log.status == event_pb2.SessionLog.START


def test_a_failed_write_names_the_file(tmp_path, monkeypatch):
  log = runlog.RunLog(str(tmp_path), ml_collections.ConfigDict())

  def full(*args):
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(log._events, "write_event", full)
  with pytest.raises(OSError, match="No space left") as caught:
    log.scalars(1, {"total": 1.0})
  assert caught.value.filename.startswith(str(tmp_path / "events.out.tfevents"))
