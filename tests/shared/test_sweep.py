"""The sweep job: points from blocks, one name per point, checked keys, resumable after a kill or a stop, failures
recorded, one table."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from configs import gatys, sweep as sweep_config
from stylejax import launch
from stylejax.errors import UserError
from stylejax.io import configs
from stylejax.tools import sweep
from tests.helpers import ROOT

THREE_POINTS = """
from configs import gatys, sweep
def get_config(arg=None):
  base = gatys.get_config("tiny")
  base.total_steps, base.image_size = 5, 40
  return sweep.make(base, [{"loss.style_weight": (10.0, 20.0, 40.0)}],
                    metrics=("final_losses.total", "style_loss_reduction"), image="result.png",
                    plot=("loss.style_weight", "final_losses.total"))
"""


def test_blocks_give_the_product_within_and_the_union_across():
  points = sweep.expand([{"image_size": (64, 128), "compute_dtype": ("float32", "bfloat16")},
                         {"image_size": 64, "compute_dtype": "float32"}, {"optimizer": ["lbfgs"]}, {}])
  assert list(points) == ["image_size=64_compute_dtype=float32", "image_size=64_compute_dtype=bfloat16",
                          "image_size=128_compute_dtype=float32", "image_size=128_compute_dtype=bfloat16",
                          "optimizer=lbfgs", "base"]
  assert points["optimizer=lbfgs"] == {"optimizer": "lbfgs"}
  assert sweep.short_names(["loss.style_weight", "masks.style", "image_size"]) == {
      "loss.style_weight": "style_weight", "masks.style": "style", "image_size": "image_size"}


def test_different_points_never_share_a_name_and_a_sweep_that_would_is_refused(tmp_path):
  points = sweep.expand([{"loss.content_weight": (1.0, 1.0000001, 0.001, 1e-5)}, {"loss.content_weight": [1]}])
  assert list(points) == ["content_weight=1", "content_weight=1.0000001", "content_weight=0.001",
                          "content_weight=1e-05"]  # %g where it reads back as the same number; 1 and 1.0: one point
  config = sweep_config.make(gatys.get_config("tiny"), [{"style": ("a/b.jpg", "a-b.jpg")}], metrics=())
  with pytest.raises(UserError, match="would both be named 'style=a-b.jpg'"):
    launch.run(config, str(tmp_path))
  assert not (tmp_path / "points").exists()


def test_a_stopped_sweep_writes_its_tables_then_goes_on_from_there(tmp_path, monkeypatch):
  """Ctrl-C or SIGTERM during a point (its job raises KeyboardInterrupt at its stop point)."""
  def points_stopping_at(size):
    def run_point(config, folder):
      if config.image_size == size:
        raise KeyboardInterrupt
      return {"status": "done", "error": None, "summary": {"steps": config.image_size}, "seconds": 1.0,
              "config_sha256": configs.fingerprint(config)}
    return run_point

  config = sweep_config.make(gatys.get_config("tiny"), [{"image_size": (40, 48, 56)}], metrics=("steps",))
  monkeypatch.setattr(sweep, "run_point", points_stopping_at(48))
  with pytest.raises(KeyboardInterrupt):
    launch.run(config, str(tmp_path))
  rows = json.loads((tmp_path / "results.json").read_text())["rows"]
  assert [(row["point"], row["status"], row["steps"]) for row in rows] == [
      ("image_size=40", "done", 40), ("image_size=48", "interrupted", None), ("image_size=56", "not run", None)]
  monkeypatch.setattr(sweep, "run_point", points_stopping_at(None))
  rows = launch.run(config, str(tmp_path))["rows"]
  assert [(row["status"], row["steps"]) for row in rows] == [("done", 40), ("done", 48), ("done", 56)]


@pytest.mark.parametrize("block, message", [
    ({"loss.stlye_weight": (1.0,)}, "'loss.stlye_weight' is not a key"), ({"imagesize": (64,)}, "not a key"),
    ({"image_size.x": (64,)}, "not a key"), ({"image_size": ("big",)}, "does not fit 'image_size'")])
def test_a_bad_key_or_value_stops_the_sweep_before_any_point_runs(tmp_path, block, message):
  config = sweep_config.make(gatys.get_config("tiny"), [{"image_size": (48,)}, block], metrics=())
  with pytest.raises(UserError, match=message):
    launch.run(config, str(tmp_path))
  assert not (tmp_path / "points").exists()


def test_sweep_settings_are_checked(tmp_path):
  config = sweep_config.make(gatys.get_config("tiny"), [{"image_size": (48,)}], metrics=(), plot=("seed", "x"))
  with pytest.raises(UserError, match="must be swept keys"):
    launch.run(config, str(tmp_path))
  config = sweep_config.make(config, [{"image_size": (48,)}], metrics=())
  with pytest.raises(UserError, match="other than sweep"):
    launch.run(config, str(tmp_path))


@pytest.mark.slow
def test_a_failed_point_is_recorded_and_the_others_still_run(tmp_path):
  base = gatys.get_config("tiny")
  base.total_steps = 5
  config = sweep_config.make(base, [{"image_size": (8, 40)}], metrics=("final_losses.total",))
  with pytest.raises(UserError, match="1 of 2 points failed .image_size=8."):
    launch.run(config, str(tmp_path))
  failed = json.loads((tmp_path / "points" / "image_size=8" / "point.json").read_text())
  assert failed["status"] == "failed" and "image_size" in failed["error"]
  assert "Traceback" in (tmp_path / "points" / "image_size=8" / "error.txt").read_text()
  rows = json.loads((tmp_path / "results.json").read_text())["rows"]
  assert [(r["point"], r["status"]) for r in rows] == [("image_size=8", "failed"), ("image_size=40", "done")]
  assert rows[1]["final_losses.total"] > 0 and (tmp_path / "points" / "image_size=40" / "result.png").exists()


def results_without_times(workdir):
  return [{k: v for k, v in row.items() if k != "seconds"}
          for row in json.loads((workdir / "results.json").read_text())["rows"]]


@pytest.mark.slow
def test_a_sweep_killed_after_two_points_resumes_to_the_same_table(tmp_path):
  preset = tmp_path / "three_points.py"
  preset.write_text(THREE_POINTS)
  command = [sys.executable, "run.py", f"--config={preset}", f"--workdir={tmp_path / 'killed'}"]
  process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  points = tmp_path / "killed" / "points"
  deadline = time.time() + 600
  while len(list(points.glob("*/point.json"))) < 2 and process.poll() is None and time.time() < deadline:
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  finished = {p.parent.name: p.stat().st_mtime_ns for p in points.glob("*/point.json")}
  assert len(finished) == 2 and not (tmp_path / "killed" / "results.json").exists()

  resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert {name: (points / name / "point.json").stat().st_mtime_ns for name in finished} == finished  # skipped
  for name in ("results.csv", "results.md", "contact_sheet.png", "plot.png", "config.json"):
    assert os.path.getsize(tmp_path / "killed" / name) > 0

  sys.path.insert(0, str(tmp_path))
  try:
    import three_points
  finally:
    sys.path.remove(str(tmp_path))
  launch.run(three_points.get_config(), str(tmp_path / "straight"))
  table = results_without_times(tmp_path / "killed")
  assert len(table) == 3 and {row["status"] for row in table} == {"done"}
  assert table == results_without_times(tmp_path / "straight")


@pytest.mark.slow
def test_a_point_reruns_when_the_base_config_changed(tmp_path):
  base = gatys.get_config("tiny")
  base.total_steps = 5
  config = sweep_config.make(base, [{"image_size": (40,)}], metrics=("steps",))
  launch.run(config, str(tmp_path))
  record = tmp_path / "points" / "image_size=40" / "point.json"
  first = record.stat().st_mtime_ns
  launch.run(config, str(tmp_path))  # unchanged: skipped
  assert record.stat().st_mtime_ns == first
  config.base.total_steps = 10
  rows = launch.run(config, str(tmp_path))["rows"]  # changed: run again, with the new setting
  assert record.stat().st_mtime_ns != first and rows[0]["steps"] == 10
