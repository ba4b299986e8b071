"""Atomic writes: concurrent writers of one file never collide; a failed write leaves the old file."""

import errno
import multiprocessing
import os

import numpy as np
import pytest
from PIL import Image

from stylejax.io import atomic, images


def write_many(path, value, count):
  for _ in range(count):
    images.save_image(path, np.full((16, 16, 3), float(value)))


@pytest.mark.slow
def test_two_processes_writing_one_image_never_collide(tmp_path):
  path = str(tmp_path / "same.png")
  context = multiprocessing.get_context("spawn")
  writers = [context.Process(target=write_many, args=(path, value, 200)) for value in (10, 200)]
  for writer in writers:
    writer.start()
  for writer in writers:
    writer.join(120)
  assert [writer.exitcode for writer in writers] == [0, 0]
  assert np.unique(np.asarray(Image.open(path))).tolist() in ([10], [200])  # one writer's whole image
  assert os.listdir(tmp_path) == ["same.png"]  # no temporary file left behind


def test_a_failed_write_keeps_the_old_file_and_names_the_target(tmp_path):
  path = tmp_path / "result.json"
  path.write_text("old")
  with pytest.raises(OSError, match="No space left") as caught:
    with atomic.writing(str(path), "w") as f:
      f.write("half of the new")
      raise OSError(errno.ENOSPC, "No space left on device")
  assert caught.value.filename == str(path)
  assert path.read_text() == "old" and os.listdir(tmp_path) == ["result.json"]
  with pytest.raises(KeyboardInterrupt):
    with atomic.writing(str(path), "w") as f:
      raise KeyboardInterrupt
  assert path.read_text() == "old" and os.listdir(tmp_path) == ["result.json"]
