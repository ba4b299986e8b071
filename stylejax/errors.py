"""The one exception type for mistakes a user can fix (bad files, bad settings).

`run.py` prints such an error as a single line and exits non-zero, and so it
does for an OSError (a full or read-only disk, a path that cannot be made);
every other exception is a bug and keeps its traceback, except inside
`reading` (the parsing of a file we did not write, which may raise anything).
`whole_number` reads numbers typed as text.
"""

import contextlib


class UserError(Exception):
  """Bad input or configuration, reported to the user as one line."""


def describe_os_error(error):
  """One line for an OSError: the path(s) and the system's reason, e.g. 'runs/x: Read-only file system'."""
  paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
  reason = error.strerror or str(error) or type(error).__name__
  return f"{paths}: {reason}" if paths else reason


@contextlib.contextmanager
def reading(failure):
  """Runs the parsing of a file we did not write: any exception (a damaged or crafted file can make a parser raise
  EOFError, TypeError, MemoryError, ...) becomes one UserError, `failure` (a line naming the file) and the reason;
  a UserError passes as it is."""
  try:
    yield
  except UserError:
    raise
  except Exception as e:  # a crafted file can reach any exception of the parser
    reason = " ".join(str(e).split())[:200]
    raise UserError(f"{failure} ({type(e).__name__}{': ' + reason if reason else ''})") from None


def whole_number(text, what, most):
  """`text` as an int from 0 to `most`, written in ASCII digits 0-9 (str.isdigit also accepts '²', which int()
  does not read); else a UserError naming `what`."""
  text = text.strip()
  if not (text.isascii() and text.isdigit() and len(text) <= len(str(most)) and int(text) <= most):
    raise UserError(f"{what} must be a whole number from 0 to {most} (digits 0-9), got {text!r}")
  return int(text)
