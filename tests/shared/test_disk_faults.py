"""Disk and path faults end in one `error:` line naming the path and the reason, never a traceback; what a
killed writer leaves behind goes with the next run."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.faults import run_cli_on_filesystem
from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # every test runs run.py in its own process

TINY = ["--config=configs/gatys.py:tiny", "--config.total_steps=5"]


def assert_one_error_line(result, *fragments):
  lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
  assert result.returncode == 1, result.stderr[-2000:]
  assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr, result.stderr[-2000:]
  for fragment in fragments:
    assert fragment in lines[-1], lines[-1]


def run_cli(*args):
  return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_workdir_that_is_a_file_or_too_long_a_name(tmp_path):
  (tmp_path / "file").write_text("not a folder")
  assert_one_error_line(run_cli(*TINY, f"--workdir={tmp_path / 'file'}"), str(tmp_path / "file"), "File exists")
  long_name = tmp_path / ("x" * 300)
  assert_one_error_line(run_cli(*TINY, f"--workdir={long_name}"), "File name too long")


def test_a_read_only_filesystem(tmp_path):
  result = run_cli_on_filesystem(tmp_path / "ro", [*TINY, f"--workdir={tmp_path / 'ro' / 'run'}"], read_only=True)
  assert_one_error_line(result, str(tmp_path / "ro"), "Read-only file system")


def test_a_full_disk_during_the_run_leaves_no_partial_files(tmp_path):
  result = run_cli_on_filesystem(tmp_path / "full", [*TINY, f"--workdir={tmp_path / 'full' / 'run'}"], size_kib=16)
  assert_one_error_line(result, str(tmp_path / "full"), "No space left on device")
  assert not [n for n in os.listdir(tmp_path / "full") if n.endswith(".tmp")]  # the tmpfs is gone; nothing leaked


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
  folder = tmp_path_factory.mktemp("photos")
  rng = np.random.default_rng(0)
  for k in range(6):
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"p{k}.png")
  return folder


def stylize_args(model_dir, photos, output, workdir):
  return ["--config=configs/stylize.py", f"--config.checkpoint={model_dir}", f"--config.input={photos}",
          f"--config.output={output}", "--config.output_format=png", f"--workdir={workdir}"]


def test_stylize_output_that_is_a_file_read_only_or_full(model_dir, photos, tmp_path):
  (tmp_path / "taken").write_text("a file")
  assert_one_error_line(run_cli(*stylize_args(model_dir, photos, tmp_path / "taken", tmp_path / "w1")),
                        str(tmp_path / "taken"))
  result = run_cli_on_filesystem(tmp_path / "ro", stylize_args(model_dir, photos, tmp_path / "ro" / "out",
                                                               tmp_path / "w2"), read_only=True)
  assert_one_error_line(result, str(tmp_path / "ro"), "Read-only file system")
  result = run_cli_on_filesystem(tmp_path / "full", stylize_args(model_dir, photos, tmp_path / "full" / "out",
                                                                 tmp_path / "w3"), size_kib=24)
  assert_one_error_line(result, str(tmp_path / "full"), "No space left on device")


KILLED_WHILE_WRITING = """
import os, runpy, signal, sys
from PIL import Image
save = Image.Image.save
def save_then_die(self, fp, *args, **kwargs):
  if os.path.basename(getattr(fp, "name", "")).startswith(".p3.png."):  # the temporary file of out/p3.png
    fp.write(b"half an image")
    fp.flush()
    os.kill(os.getpid(), signal.SIGKILL)
  return save(self, fp, *args, **kwargs)
Image.Image.save = save_then_die
runpy.run_path("run.py", run_name="__main__")
"""


def test_the_temporary_file_of_a_write_killed_with_9_goes_with_the_next_run(model_dir, photos, tmp_path):
  args = stylize_args(model_dir, photos, tmp_path / "out", tmp_path / "work")
  killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
  assert killed.returncode == -9, killed.stderr[-2000:]
  assert [n for n in os.listdir(tmp_path / "out") if n.startswith(".p3.png.") and n.endswith(".tmp")]
  result = run_cli(*args)
  assert result.returncode == 0, result.stderr[-2000:]
  left = [os.path.join(d, n) for d, _, names in os.walk(tmp_path) for n in names if n.endswith(".tmp")]
  assert not left and sorted(os.listdir(tmp_path / "out")) == [f"p{k}.png" for k in range(6)]
