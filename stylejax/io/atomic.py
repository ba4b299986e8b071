"""Atomic file writes: readers see the old file or the whole new one, never half of one.

Each writer writes to its own temporary file beside the target (a unique name,
.NAME.<32 hex digits>.tmp, so concurrent writers of one target never collide),
then renames it over the target; on any failure the temporary file is removed
and the target is untouched. Errors name the target.

A writer that dies (kill -9, a power cut) leaves its temporary file behind.
The writer holds an exclusive lock (flock) on its temporary file until the
rename, which the system drops when the writer dies; the first write of a
process into a folder removes the temporary files there that no writer holds
and that are older than the process (`remove_stale`). So the next run that
writes into a folder removes what an earlier, killed run left there, and never
a file another process is writing.
"""

import contextlib
import fcntl
import os
import re
import threading
import time
import uuid

TEMPORARY = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")  # the names `writing` gives its temporary files
_STARTED = time.time()  # temporary files older than this process that no writer holds are stale
_checked = set()  # folders whose stale temporary files this process has removed
_checked_lock = threading.Lock()


@contextlib.contextmanager
def naming(path, *aliases):
  """Re-raises an OSError that names no file (a failed write or flush), or one of `aliases`, as naming `path`."""
  try:
    yield
  except OSError as e:
    if e.filename is None or e.filename in aliases:
      raise OSError(e.errno, e.strerror or str(e), path) from e
    raise


def _remove_unless_held(path):
  """Removes the temporary file `path` unless a writer holds its lock (BlockingIOError); where its lock cannot
  be taken (unreadable, or a filesystem without locks) it raises OSError too, and the file stays."""
  with open(path, "rb") as f:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.remove(path)


def remove_stale(folder, before=None):
  """Removes the temporary files of dead writers from `folder`: names as `writing` gives them, last changed
  before `before` (default: this process's start) and held by no writer. Returns the names removed."""
  before = _STARTED if before is None else before
  removed = []
  with contextlib.suppress(OSError), os.scandir(folder) as entries:
    for entry in entries:
      if TEMPORARY.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
        with contextlib.suppress(OSError):  # held, gone meanwhile, or not ours to remove: left as it is
          if entry.stat(follow_symlinks=False).st_mtime < before:
            _remove_unless_held(entry.path)
            removed.append(entry.name)
  return removed


def _first_write_into(folder):
  """Removes the stale temporary files of `folder` once per process, before its first write there."""
  with _checked_lock:
    if folder in _checked:
      return
    _checked.add(folder)
  remove_stale(folder)


@contextlib.contextmanager
def writing(path, mode="wb"):
  """Opens a temporary file beside `path` for writing and renames it to `path` when the block succeeds."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  _first_write_into(folder)
  tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
  try:
    with naming(path, tmp):
      with open(tmp, mode.replace("w", "x")) as f:
        with contextlib.suppress(OSError):  # held until closed, after the rename (none where locks fail)
          fcntl.flock(f, fcntl.LOCK_EX)
        yield f
        f.flush()
        os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise
