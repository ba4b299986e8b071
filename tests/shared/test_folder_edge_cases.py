"""Folders as users have them: symlink loops, links to the same photo, output inside or around the
input, names that differ only in extension or case; shared by stylize and the `folder:` training data."""

import os
import signal

import numpy as np
import pytest
from PIL import Image

from configs import stylize as stylize_config
from stylejax.errors import UserError
from stylejax.io import data
from stylejax.jobs import stylize


def photo(path, value=100):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(path)


@pytest.fixture
def looped(tmp_path):
  """in/a.png, in/sub/b.jpg, a link loop in/sub/back -> in, a second link to a.png, a broken link."""
  root = tmp_path / "in"
  photo(root / "a.png")
  photo(root / "sub" / "b.jpg", 150)
  os.symlink(root, root / "sub" / "back")
  os.symlink(root / "a.png", root / "also_a.png")
  os.symlink(root / "gone.png", root / "broken.png")
  return root


def config_for(model_dir, source, output, **overrides):
  config = stylize_config.get_config()
  config.update({"checkpoint": model_dir, "input": str(source), "output": str(output), "output_format": "png",
                 "num_threads": 1, **overrides})
  return config


def no_hang(seconds=60):
  """Fails a listing that loops instead of waiting forever."""
  def expire(*_):
    raise AssertionError(f"still listing after {seconds} s")
  signal.signal(signal.SIGALRM, expire)
  signal.alarm(seconds)


def test_each_real_file_is_listed_once_and_link_loops_end(looped):
  no_hang()
  try:
    assert data.image_files(str(looped)) == [str(looped / "a.png"), str(looped / "sub" / "b.jpg")]
    assert [rel for _, rel in stylize.input_files(str(looped))] == ["a.png", os.path.join("sub", "b.jpg")]
    assert len(stylize.input_files(str(looped / "**" / "*.*"))) == 2
  finally:
    signal.alarm(0)


def test_stylize_writes_one_output_per_real_photo(model_dir, looped, tmp_path):
  summary = stylize.run(config_for(model_dir, looped, tmp_path / "out"), str(tmp_path / "w"))
  outputs = sorted(os.path.relpath(os.path.join(d, f), tmp_path / "out") for d, _, fs in os.walk(tmp_path / "out")
                   for f in fs)
  assert outputs == ["a.png", os.path.join("sub", "b.png")] and summary["stylised"] == 2


@pytest.mark.parametrize("output", ["in", "."])
def test_an_output_folder_that_is_or_holds_the_input_is_refused(model_dir, looped, tmp_path, output):
  with pytest.raises(UserError, match="is or holds the input folder"):
    stylize.run(config_for(model_dir, looped, tmp_path / output), str(tmp_path / "w"))


@pytest.mark.parametrize("names", [("cat.jpg", "cat.png"), ("cat.jpg", "cat.JPG"), ("Cat.jpg", "cat.png")])
def test_two_inputs_that_would_write_one_output_are_refused_before_any_work(model_dir, tmp_path, names):
  for k, name in enumerate(names):
    photo(tmp_path / "in" / name, 50 + 100 * k)
  with pytest.raises(UserError, match=r"would both be written to .*cat\.png; rename one"):
    stylize.run(config_for(model_dir, tmp_path / "in", tmp_path / "out"), str(tmp_path / "w"))
  assert not (tmp_path / "out").exists()
