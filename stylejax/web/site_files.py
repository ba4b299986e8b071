"""Where the site keeps things inside its workdir; names are generated, never taken from a request."""

import os

from stylejax.web import catalog

DATABASE = "site.db"
WORKER_PID = "worker.pid"  # written by the supervisor at each worker start
LOCK = "site.lock"  # locked (fcntl.flock) by the running site: one site per workdir
INPUT, RESULT = "input.png", "result.png"  # online jobs
CONTENT, STYLE = "content.png", "style.png"  # custom jobs (their runs add result.png, losses.png, ...); STYLE also
# holds the style photo of an online job whose model takes one
PUBLIC = (INPUT, RESULT, CONTENT, STYLE, "losses.png")  # the files a job page may serve


def database(workdir):
  return os.path.join(workdir, DATABASE)


def job_dir(workdir, token):
  return os.path.join(workdir, "jobs", token)


def gallery_dir(workdir):
  return os.path.join(workdir, "gallery")


def model_dirs(config, workdir):
  """The bundled models first, then config.models_dir (default WORKDIR/models), whose names win."""
  return [catalog.bundled_dir(), config.models_dir or os.path.join(workdir, "models")]


def worker_pid(workdir):
  """The pid of the site's worker process if it is running, else None."""
  try:
    with open(os.path.join(workdir, WORKER_PID)) as f:
      pid = int(f.read())
    os.kill(pid, 0)
  except (OSError, ValueError):
    return None
  return pid


def base_url(config):
  return (config.base_url or f"http://{config.host}:{config.port}").rstrip("/")
