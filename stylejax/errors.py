"""The one exception type for mistakes a user can fix (bad files, bad settings).

`run.py` prints such an error as a single line and exits non-zero, and so it
does for an OSError (a full or read-only disk, a path that cannot be made);
every other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
  """Bad input or configuration, reported to the user as one line."""


def describe_os_error(error):
  """One line for an OSError: the path(s) and the system's reason, e.g. 'runs/x: Read-only file system'."""
  paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
  reason = error.strerror or str(error) or type(error).__name__
  return f"{paths}: {reason}" if paths else reason
