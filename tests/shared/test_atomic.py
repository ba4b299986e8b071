"""Atomic writes: concurrent writers of one file never collide; a failed write leaves the old file; the temporary
files of dead writers go with the next process that writes there, and no other file does."""

import errno
import fcntl
import multiprocessing
import os
import time

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


def test_the_next_write_removes_only_the_stale_temporary_files_of_dead_writers(tmp_path):
  hour_ago = time.time() - 3600
  names = {"dead": f".result.png.{'a' * 32}.tmp", "held": f".summary.json.{'b' * 32}.tmp",
           "new": f".losses.png.{'c' * 32}.tmp", "other": "notes.tmp", "almost": f".result.png.{'d' * 31}.tmp"}
  for key, name in names.items():
    (tmp_path / name).write_bytes(b"half")
    if key != "new":  # new: written since this process started, perhaps by a writer starting now
      os.utime(tmp_path / name, (hour_ago, hour_ago))
  with open(tmp_path / names["held"], "rb") as held:  # a live writer (another process) holds its file's lock
    fcntl.flock(held, fcntl.LOCK_EX)
    images.save_image(str(tmp_path / "result.png"), np.zeros((8, 8, 3)))
    assert sorted(os.listdir(tmp_path)) == sorted({*names.values(), "result.png"} - {names["dead"]})
    assert atomic.remove_stale(str(tmp_path), before=time.time() + 1) == [names["new"]]  # held: still kept
