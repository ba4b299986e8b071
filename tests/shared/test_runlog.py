"""The run log: metrics.jsonl and TensorBoard event files, written synchronously; disk errors name the file."""

import glob
import json
import os

import ml_collections
import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from stylejax.io import runlog
from tests.shared import test_events


def read_events(workdir):
  """Every Event in the workdir's event file, each record's CRCs checked."""
  (path,) = glob.glob(str(workdir / "events.out.tfevents.*"))
  return test_events.read_events(path)


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
  (image,) = [(e.step, v.tag, v.image) for e in events for v in e.summary.value if v.HasField("image")]
  assert image[:2] == (5, "result") and (image[2].height, image[2].width, image[2].colorspace) == (6, 8, 3)
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


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_failed_write_names_the_file(tmp_path, monkeypatch):
  log = runlog.RunLog(str(tmp_path), ml_collections.ConfigDict())
  log._events._file.close()
  monkeypatch.setattr(log._events, "_file", open("/dev/full", "wb", buffering=0))  # every write: ENOSPC
  with pytest.raises(OSError, match="No space left") as caught:
    log.scalars(1, {"total": 1.0})
  log._events._file.close()
  assert caught.value.filename.startswith(str(tmp_path / "events.out.tfevents"))
