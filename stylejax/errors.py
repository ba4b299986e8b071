"""The one exception type for mistakes a user can fix (bad files, bad settings).

`run.py` prints such an error as a single line and exits non-zero; every other
exception is a bug and keeps its traceback.
"""


class UserError(Exception):
  """Bad input or configuration, reported to the user as one line."""
