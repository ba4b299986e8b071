"""Jobs and tools by name: the config's `job` field picks the module whose `run(config, workdir)` runs.

`start_process` holds the process-wide setup (multi-host initialisation) and
`stopping_on_signals` the handling of SIGINT and SIGTERM; only the entry point
(run.py) uses them, so one long-lived process can run many jobs.
"""

import contextlib
import importlib
import os
import signal

import jax

from stylejax.errors import UserError
from stylejax.io import compile_cache, runlog, weights

JOBS = {
    "optimize": "stylejax.jobs.optimize",
    "compare": "stylejax.tools.compare",
    "bench": "stylejax.tools.bench",
    "sweep": "stylejax.tools.sweep",
    "weights": "stylejax.jobs.weights",
    "train": "stylejax.jobs.train",
    "stylize": "stylejax.jobs.stylize",
    "compare_fast": "stylejax.tools.compare_fast",
    "compare_photo": "stylejax.tools.compare_photo",
    "score": "stylejax.tools.score",
    "video_score": "stylejax.tools.video_score",
    "export": "stylejax.jobs.export",
    "web": "stylejax.web.site",
}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C; timeout, docker stop, systemd, cluster schedulers
_received = []  # the stop signals received inside `stopping_on_signals`, in order


def run(config, workdir):
  if config.job not in JOBS:
    raise UserError(f"unknown job {config.job!r}; jobs are {', '.join(sorted(JOBS))}")
  return importlib.import_module(JOBS[config.job]).run(config, workdir)


def start_process(config):
  """Process-wide setup for a config, once per process: the user's persistent compile cache
  (`compile_cache.for_user` in $STYLEJAX_HOME, default ~/.cache/stylejax) and jax.distributed for multi-host
  training."""
  if config.get("distributed"):
    given = {"coordinator_address": config.get("coordinator") or None, "num_processes": config.get("num_processes") or None,
             "process_id": config.process_id if config.get("process_id", -1) >= 0 else None}
    jax.distributed.initialize(**given)
  compile_cache.for_user(weights.home())


def _on_signal(signum, frame):
  """SIGINT and SIGTERM alike: a job in its steps stops at the next one (`_stop_point`); before its steps, in a job
  without steps, or at a second signal, KeyboardInterrupt is raised at once, as Python does for Ctrl-C.

  The first signal is not raised inside a job's steps because a KeyboardInterrupt can land anywhere: inside jax
  waiting for a compilation (the compiling thread then outlives the interpreter and crashes it at exit), or inside
  a garbage-collection callback, which swallows it (the run went on)."""
  del frame
  _received.append(signum)
  if len(_received) > 1 or not runlog.in_steps():
    raise KeyboardInterrupt
  name = signal.Signals(signum).name
  os.write(2, f"\n{name}: stopping after the current step; send it again to stop at once\n".encode())


def _stop_point(done, total):
  """Observer of every progress bar (runlog.observing): a job's stop point raises once a stop was asked for."""
  del done, total
  if _received:
    raise KeyboardInterrupt


def stop_signal():
  """The first stop signal received inside `stopping_on_signals` (signal.SIGINT or SIGTERM), or None."""
  return _received[0] if _received else None


@contextlib.contextmanager
def stopping_on_signals():
  """Within the block (the main thread's), SIGTERM stops a job as Ctrl-C does: each job keeps its latest result
  and writes its summary (see `_on_signal`); the job then raises KeyboardInterrupt, and `stop_signal` says which
  signal it was."""
  _received.clear()
  previous = {signum: signal.signal(signum, _on_signal) for signum in STOP_SIGNALS}
  try:
    with runlog.observing(_stop_point):
      yield
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
