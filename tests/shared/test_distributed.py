"""Multi-host training through jax.distributed: two CPU processes on loopback, one device each."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from stylejax.io import runlog
from tests.helpers import ROOT, free_port

pytestmark = pytest.mark.slow  # run.py processes, jax.distributed, kill -9

TRAIN = [sys.executable, "run.py", "--config=configs/johnson.py:tiny", "--config.sample_every_steps=0",
         "--config.net.residual_blocks=1"]  # the tiny network: five processes compile it


def start_pair(workdir):
  """Two processes of one training job, a coordinator on a free loopback port."""
  port, env = free_port(), {**os.environ, "JAX_NUM_CPU_DEVICES": "1"}
  return [subprocess.Popen([*TRAIN, f"--workdir={workdir}", "--config.distributed=True",
                            f"--config.coordinator=127.0.0.1:{port}", "--config.num_processes=2",
                            f"--config.process_id={index}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True) for index in range(2)]


def finish(processes):
  for process in processes:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]


def losses(workdir):
  return np.array([[row["step"], row["total"], row["style"], row["content"]] for row in runlog.read_rows(workdir)])


def test_two_processes_train_as_one_process_with_two_devices_and_resume_after_a_kill(tmp_path):
  """A pair of processes, killed once a checkpoint is written and started again, logs the same losses as one
  process with two devices that was never stopped: the pair trains as one process before the kill and after the
  resume (five run.py processes in all)."""
  single = subprocess.run([*TRAIN, f"--workdir={tmp_path / 'single'}"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "JAX_NUM_CPU_DEVICES": "2"}, timeout=600)
  assert single.returncode == 0, single.stderr[-3000:]
  curve = losses(tmp_path / "single")
  assert curve[-1, 0] == 12

  # Kill one process once a checkpoint is written; the scheduler then stops the other and restarts the job.
  pair = tmp_path / "pair"
  killed = start_pair(pair)
  deadline = time.time() + 600
  while not (pair / "checkpoints" / "4").exists() and time.time() < deadline:
    assert all(p.poll() is None for p in killed), "a process ended before the kill"
    time.sleep(0.1)
  killed[1].send_signal(signal.SIGKILL)
  killed[1].wait()
  time.sleep(1.0)
  killed[0].send_signal(signal.SIGKILL)
  killed[0].wait()
  assert 4 <= losses(pair)[-1, 0] < 12
  finish(start_pair(pair))
  assert np.allclose(losses(pair), curve, rtol=1e-5)
  assert (pair / "model.json").exists() and (pair / "processes" / "1" / "model.json").exists()
