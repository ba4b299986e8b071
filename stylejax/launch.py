"""Jobs and tools by name: the config's `job` field picks the module whose `run(config, workdir)` runs.

`start_process` holds the process-wide setup (multi-host initialisation); only
the entry point (run.py) calls it, so one long-lived process can run many jobs.
"""

import importlib

import jax

from stylejax.errors import UserError

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
    "export": "stylejax.jobs.export",
    "web": "stylejax.web.site",
}


def run(config, workdir):
  if config.job not in JOBS:
    raise UserError(f"unknown job {config.job!r}; jobs are {', '.join(sorted(JOBS))}")
  return importlib.import_module(JOBS[config.job]).run(config, workdir)


def start_process(config):
  """Process-wide setup for a config, once per process: jax.distributed for multi-host training."""
  if config.get("distributed"):
    given = {"coordinator_address": config.get("coordinator") or None, "num_processes": config.get("num_processes") or None,
             "process_id": config.process_id if config.get("process_id", -1) >= 0 else None}
    jax.distributed.initialize(**given)
