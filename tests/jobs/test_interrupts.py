"""Ctrl-C (SIGINT) to a real run.py process after its first logged step: nothing is lost, exit 130."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # a real run.py process, interrupted


def wait_for_row(metrics, step, process, timeout_s=300):
  """Waits until metrics.jsonl holds a row at or after `step` (the run is past compilation)."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    assert process.poll() is None, process.communicate()[1][-2000:]
    if metrics.exists():
      rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
      if rows and rows[-1]["step"] >= step:
        return
    time.sleep(0.2)
  raise AssertionError(f"no logged step {step} within {timeout_s} s")


def test_sigint_during_pixel_optimisation_keeps_the_image_and_the_finished_result(tmp_path):
  workdir = tmp_path / "run"
  base = [sys.executable, "run.py", "--config=configs/gatys.py:tiny", f"--workdir={workdir}"]
  subprocess.run([*base, "--config.total_steps=5"], cwd=ROOT, check=True, capture_output=True, timeout=600)
  finished = (workdir / "result.png").read_bytes()
  process = subprocess.Popen([*base, "--config.total_steps=100000", "--config.log_every_steps=5"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  wait_for_row(workdir / "metrics.jsonl", 10, process)
  process.send_signal(signal.SIGINT)
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 130, stderr[-2000:]
  assert stderr.strip().splitlines()[-1] == "error: interrupted" and "Traceback" not in stderr
  summary = json.loads((workdir / "summary.json").read_text())
  assert summary["status"] == "interrupted" and summary["image"] == "partial.png" and summary["steps"] >= 10
  assert np.asarray(Image.open(workdir / "partial.png")).shape == (43, 64, 3)
  assert (workdir / "result.png").read_bytes() == finished
