"""Atomic file writes: readers see the old file or the whole new one, never half of one.

Each writer writes to its own temporary file beside the target (a unique name,
so concurrent writers of one target never collide), then renames it over the
target; on any failure the temporary file is removed and the target is
untouched. Errors name the target.
"""

import contextlib
import os
import uuid


@contextlib.contextmanager
def naming(path, *aliases):
  """Re-raises an OSError that names no file (a failed write or flush), or one of `aliases`, as naming `path`."""
  try:
    yield
  except OSError as e:
    if e.filename is None or e.filename in aliases:
      raise OSError(e.errno, e.strerror or str(e), path) from e
    raise


@contextlib.contextmanager
def writing(path, mode="wb"):
  """Opens a temporary file beside `path` for writing and renames it to `path` when the block succeeds."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
  try:
    with naming(path, tmp):
      with open(tmp, mode.replace("w", "x")) as f:
        yield f
      os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise
