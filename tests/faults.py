"""Running run.py against a small or read-only filesystem.

Where the machine allows it (a private mount namespace: `unshare -rm`), a real
tmpfs of the given size is mounted at the folder for the command alone. Elsewhere
the command runs with a prelude that fails every write below the folder with the
same OSError the kernel would give.
"""

import errno
import functools
import os
import subprocess
import sys

from tests.helpers import ROOT

PRELUDE = """
import builtins, errno, os, runpy, sys
folder, code = sys.argv.pop(1), int(sys.argv.pop(1))
real_open, real_mkdir = builtins.open, os.mkdir
def inside(path):
  return os.path.abspath(os.fspath(path)).startswith(folder + os.sep)
def fail(path):
  raise OSError(code, os.strerror(code), os.fspath(path))
def open_(file, mode="r", *args, **kwargs):
  if isinstance(file, (str, bytes, os.PathLike)) and inside(file) and any(c in mode for c in "wxa+"):
    fail(file)
  return real_open(file, mode, *args, **kwargs)
def mkdir(path, *args, **kwargs):
  if inside(path) and code == errno.EROFS:
    fail(path)
  return real_mkdir(path, *args, **kwargs)
builtins.open, os.mkdir = open_, mkdir
sys.argv = sys.argv[1:]
runpy.run_path("run.py", run_name="__main__")
"""


@functools.cache
def can_mount():
  probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt || mount -t tmpfs tmpfs /tmp"],
                         capture_output=True)
  return probe.returncode == 0


def run_cli_on_filesystem(folder, args, size_kib=64, read_only=False, env=None):
  """run.py `args` with `folder` on a tmpfs of `size_kib` (read-only if asked): a CompletedProcess."""
  folder = os.path.abspath(folder)
  os.makedirs(folder, exist_ok=True)
  python = [sys.executable, "run.py", *args]
  if can_mount():
    remount = ' && mount -o remount,ro "$0"' if read_only else ""
    command = ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size={size_kib}k tmpfs "$0"{remount} && exec "$@"',
               folder, *python]
  else:
    code = errno.EROFS if read_only else errno.ENOSPC
    command = [sys.executable, "-c", PRELUDE, folder, str(code), *python[1:]]
  return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env={**os.environ, **(env or {})})
