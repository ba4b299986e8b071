"""The user's persistent compile cache: every run.py process (launch.start_process) keeps its compiled programs
in $STYLEJAX_HOME/xla, bounded; a folder named by JAX_COMPILATION_CACHE_DIR wins, unbounded."""

import os
import subprocess
import sys

import pytest

from stylejax.io import compile_cache

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROCESS = """
import jax, ml_collections
from stylejax import launch
launch.start_process(ml_collections.ConfigDict({"job": "optimize"}))
jax.jit(lambda x: x * 3.0 + 1.0)(2.0).block_until_ready()
print(jax.config.jax_compilation_cache_max_size)
"""


def start_process(home, cache=None):
  """A new process's launch.start_process, then one compiled program; returns the cache's size limit it set."""
  env = {k: v for k, v in os.environ.items() if k != compile_cache.FOLDER_VARIABLE}
  env.update(STYLEJAX_HOME=str(home), **({compile_cache.FOLDER_VARIABLE: str(cache)} if cache else {}))
  done = subprocess.run([sys.executable, "-c", PROCESS], cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
  return int(done.stdout.split()[-1])


@pytest.mark.parametrize("named", [False, True])
def test_every_process_caches_its_programs_in_the_users_folder_or_the_named_one(tmp_path, named):
  home, named_folder = tmp_path / "home", tmp_path / "named"
  limit = start_process(home, named_folder if named else None)
  used = named_folder if named else home / "xla"
  assert [name for name in os.listdir(used) if not name.startswith(".")], "no compiled program was cached"
  assert not (home / "xla").exists() if named else not named_folder.exists()
  assert limit == (-1 if named else compile_cache.USER_CACHE_BYTES)
