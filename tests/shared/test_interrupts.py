"""Ctrl-C (SIGINT) and SIGTERM (timeout, docker stop, systemd, schedulers) stop every job alike: the job stops at
its next stop point, keeps its latest result, writes its summary, and run.py exits 130 or 143 with one line."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from configs import gatys
from stylejax import launch
from stylejax.io import checkpoints, runlog
from stylejax.jobs import optimize, train
from stylejax.methods import pixels
from tests.helpers import OVERRIDES, ROOT, assert_bitwise_equal, final_params, tiny_config

CODES = {signal.SIGINT: (130, "error: interrupted"), signal.SIGTERM: (143, "error: stopped by SIGTERM")}


def test_the_first_signal_waits_for_a_stop_point_and_a_second_stops_at_once():
  previous = signal.getsignal(signal.SIGTERM)
  with launch.stopping_on_signals():
    with pytest.raises(KeyboardInterrupt):  # no job in its steps: at once, as Python's Ctrl-C
      signal.raise_signal(signal.SIGTERM)
    assert launch.stop_signal() == signal.SIGTERM
  with launch.stopping_on_signals():
    with runlog.progress(10, "steps") as bar:
      signal.raise_signal(signal.SIGTERM)  # in the steps: noted, nothing raised inside whatever runs now
      assert launch.stop_signal() == signal.SIGTERM
      with pytest.raises(KeyboardInterrupt):  # the next stop point stops the job
        bar.update(1)
      with pytest.raises(KeyboardInterrupt):  # a second signal: at once
        signal.raise_signal(signal.SIGINT)
  assert signal.getsignal(signal.SIGTERM) is previous and not runlog.in_steps()


def run_cli(args, **kwargs):
  return subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kwargs)


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


def wait_for_text(process, text, timeout_s=300):
  """Reads the process's stderr until `text` appears (a progress bar's name: the job is in its steps)."""
  seen, deadline = "", time.monotonic() + timeout_s
  while text not in seen:
    assert time.monotonic() < deadline and process.poll() is None, seen[-2000:]
    seen += process.stderr.read(1)
  return seen


def assert_stopped(process, signum, seen=""):
  """The process ended by itself after `signum`: its code (130, 143) and one last line, no traceback or crash."""
  stderr = seen + process.communicate(timeout=300)[1]
  code, line = CODES[signum]
  assert process.returncode == code, stderr[-3000:]
  assert stderr.strip().splitlines()[-1] == line and "Traceback" not in stderr and "Fatal" not in stderr, stderr[-3000:]
  return stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_pixel_optimisation_keeps_the_image_and_the_finished_result(tmp_path, signum):
  workdir = tmp_path / "run"
  base = ["--config=configs/gatys.py:tiny", f"--workdir={workdir}"]
  subprocess.run([sys.executable, "run.py", *base, "--config.total_steps=5"], cwd=ROOT, check=True,
                 capture_output=True, timeout=600)
  finished = (workdir / "result.png").read_bytes()
  process = run_cli([*base, "--config.total_steps=100000", "--config.log_every_steps=5"])
  wait_for_row(workdir / "metrics.jsonl", 10, process)
  process.send_signal(signum)
  assert_stopped(process, signum)
  summary = json.loads((workdir / "summary.json").read_text())
  assert summary["status"] == "interrupted" and summary["image"] == "partial.png" and summary["steps"] >= 10
  assert np.asarray(Image.open(workdir / "partial.png")).shape == (43, 64, 3)
  assert (workdir / "result.png").read_bytes() == finished


@pytest.mark.slow
def test_a_stop_during_the_first_compilation_keeps_the_first_image(tmp_path):
  """The signal arrives while the first programs compile: no IndexError, no crash at exit (a KeyboardInterrupt
  raised there left XLA's compiling thread running into the interpreter's end: SIGSEGV)."""
  process = run_cli(["--config=configs/gatys.py:tiny", f"--workdir={tmp_path}", "--config.total_steps=100000"])
  seen = wait_for_text(process, "optimize:")
  process.send_signal(signal.SIGINT)
  assert_stopped(process, signal.SIGINT, seen)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["status"] == "interrupted" and (tmp_path / "partial.png").exists()


@pytest.mark.slow
def test_a_stop_before_any_logged_step_still_writes_the_summary(tmp_path, monkeypatch):
  """A second Ctrl-C stops at once, even before the first step is logged: the summary holds no losses."""
  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt
  monkeypatch.setattr(pixels, "evaluate", interrupted)
  with pytest.raises(KeyboardInterrupt):
    optimize.run(gatys.get_config("tiny"), str(tmp_path))
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["status"] == "interrupted" and summary["steps"] == 0 and summary["final_losses"] == {}
  assert (tmp_path / "partial.png").exists() and not (tmp_path / "result.png").exists()


def train_flags(total_steps):
  settings = {**OVERRIDES, "net.residual_blocks": 1, "total_steps": total_steps, "log_every_steps": 1,
              "checkpoint_every_steps": 1000, "sample_every_steps": 0}
  return ["--config=configs/johnson.py:tiny", *(f"--config.{k}={v}" for k, v in settings.items())]


@pytest.mark.slow
def test_sigterm_ends_training_with_a_checkpoint_of_its_last_step_and_the_run_resumes(tmp_path):
  workdir = tmp_path / "stopped"
  process = run_cli([*train_flags(1000), f"--workdir={workdir}"])
  wait_for_row(workdir / "metrics.jsonl", 3, process)
  process.send_signal(signal.SIGTERM)
  assert_stopped(process, signal.SIGTERM)
  model = json.loads((workdir / "model.json").read_text())
  manager = checkpoints.manager(str(workdir))
  stopped_at = manager.latest_step()
  manager.close()
  assert model["status"] == "interrupted" and stopped_at == model["steps"] >= 3  # none was due before: 1000
  resumed = subprocess.run([sys.executable, "run.py", *train_flags(stopped_at + 2), f"--workdir={workdir}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert json.loads((workdir / "model.json").read_text())["status"] == "finished"
  reference = str(tmp_path / "straight")
  train.run(tiny_config(total_steps=stopped_at + 2, log_every_steps=1, checkpoint_every_steps=1000,
                        sample_every_steps=0), reference)
  assert_bitwise_equal(final_params(str(workdir)), final_params(reference))


@pytest.mark.slow
def test_sigterm_stops_stylize_after_the_batch_it_is_writing(model_dir, tmp_path):
  photos = tmp_path / "photos"
  photos.mkdir()
  rng = np.random.default_rng(0)
  for k in range(12):
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(photos / f"p{k:02d}.png")
  args = ["--config=configs/stylize.py", f"--config.checkpoint={model_dir}", f"--config.input={photos}",
          f"--config.output={tmp_path / 'out'}", "--config.output_format=png", "--config.batch_size=1",
          f"--workdir={tmp_path / 'work'}"]
  process = run_cli(args)
  seen = wait_for_text(process, "stylize:")
  process.send_signal(signal.SIGTERM)
  assert_stopped(process, signal.SIGTERM, seen)
  summary = json.loads((tmp_path / "work" / "stylize.json").read_text())
  written = sorted(os.listdir(tmp_path / "out"))
  assert summary["status"] == "interrupted" and summary["stylised"] == len(written) == 4  # one window: 4 x batch
  assert all(Image.open(tmp_path / "out" / name).size == (40, 32) for name in written)
  finished = subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert finished.returncode == 0, finished.stderr[-2000:]
  summary = json.loads((tmp_path / "work" / "stylize.json").read_text())
  assert (summary["status"], summary["stylised"], summary["skipped_existing"]) == ("finished", 8, 4)
