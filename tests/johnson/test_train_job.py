"""The train job with Johnson's network: model directory, resume, crash safety."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from stylejax.errors import UserError
from stylejax.jobs import train
from tests.helpers import OVERRIDES, ROOT, assert_bitwise_equal, final_params, tiny_config


pytestmark = pytest.mark.slow  # every test trains (a run.py process killed with -9 in one)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
  """An uninterrupted 6-step run."""
  workdir = str(tmp_path_factory.mktemp("straight"))
  model = train.run(tiny_config(), workdir)
  return workdir, model


def test_run_writes_a_self_describing_model_directory(straight_run):
  workdir, model = straight_run
  for name in ("config.json", "metrics.jsonl", "losses.png", "style.jpg", "model.json"):
    assert os.path.isfile(os.path.join(workdir, name)), name
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4", "6"][-3:]
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == ["step_0000003.png", "step_0000006.png"]
  rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in rows] == [2, 4, 6]
  assert all(np.isfinite(r[k]) for r in rows for k in ("content", "style", "tv", "total"))
  assert model["steps"] == 6 and model["final_losses"]["step"] == 6
  assert model["parameters"] == sum(p.size for p in jax.tree.leaves(final_params(workdir)))
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["net"]["residual_blocks"] == 1


def test_resuming_a_finished_run_with_more_steps_equals_a_longer_run(straight_run, tmp_path):
  workdir = str(tmp_path)
  train.run(tiny_config(total_steps=4), workdir)
  train.run(tiny_config(total_steps=6), workdir)  # same command, more steps: resumes at 4
  assert_bitwise_equal(final_params(workdir), final_params(straight_run[0]))
  rows = [json.loads(line)["step"] for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert rows == [2, 4, 6]


def test_resume_refuses_a_changed_config(straight_run, tmp_path):
  workdir = str(tmp_path)
  train.run(tiny_config(total_steps=2), workdir)
  config = tiny_config(total_steps=4)
  config.loss.style_weight = 3.0
  with pytest.raises(UserError, match="loss.style_weight"):
    train.run(config, workdir)


def test_kill_9_then_same_command_ends_with_the_same_parameters(tmp_path):
  workdir = str(tmp_path / "killed")
  flags = [f"--config.{k}={v}" for k, v in {**OVERRIDES, "net.residual_blocks": 1, "total_steps": 20,
                                            "checkpoint_every_steps": 4, "sample_every_steps": 0}.items()]
  command = [sys.executable, "run.py", "--config", "configs/johnson.py:tiny", "--workdir", workdir, *flags]
  process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  checkpoints = os.path.join(workdir, "checkpoints")
  deadline = time.time() + 300
  while not (os.path.isdir(checkpoints) and any(d.isdigit() and int(d) >= 8 for d in os.listdir(checkpoints))):
    assert process.poll() is None, "training ended before it could be killed"
    assert time.time() < deadline
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  killed_at = max(int(d) for d in os.listdir(checkpoints) if d.isdigit())
  assert killed_at < 20
  subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  reference = str(tmp_path / "reference")
  train.run(tiny_config(total_steps=20, checkpoint_every_steps=4, sample_every_steps=0), reference)
  assert_bitwise_equal(final_params(workdir), final_params(reference))
