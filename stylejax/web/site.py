"""The `web` job (configs/web.py): the website's HTTP server and its supervised worker process.

The worker (stylejax.web.worker) runs in a child process with its own session,
so a terminal's Ctrl-C reaches only this process; this process serves HTTP
(uvicorn) and watches the worker: when it dies, its running job goes back to the
queue at once and a new worker starts (after a pause that grows while workers
keep dying young). Ctrl-C or SIGTERM stops the server, then the worker, which
gives its job back; the next start continues it. The worker also ends by itself
whenever this process ends, even by kill -9 (it watches a pipe whose write end
only this process holds).

A start that is refused changes nothing: the config's numbers are checked
against their ranges, the port is bound, WORKDIR/site.lock is locked (one site
per workdir) and site.db is opened before config.json is written or a worker
starts.

Disk use is bounded by `retention` (stylejax.web.retention): swept at the start
and then every `retention.every_seconds` in a thread of this process.
"""

import contextlib
import fcntl
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import uvicorn

from stylejax import api, settings
from stylejax.errors import UserError
from stylejax.io import atomic, runlog
from stylejax.web import app as app_lib, mail, queue as queue_lib, retention, site_files

log = logging.getLogger("stylejax.web")
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# The range of every number in the site's config (inclusive); one outside is refused before anything starts.
RANGES = {
    "seed": (0, 2**32 - 1),
    "port": (1, 65535),
    "online.max_side": (16, 16384),
    "online.max_pending": (1, 10_000),
    "online.regions": (1, 16),
    "custom.sizes": (16, 8192),  # each of them
    "custom.log_every_steps": (1, 1_000_000),
    "custom.refine_steps": (1, 100_000),
    "video.max_seconds": (0.1, 3600),
    "video.max_side": (16, 16384),
    "video.chunk": (1, 100_000),
    "video.batch_size": (1, 1024),
    "limits.max_upload_bytes": (1, 10**9),
    "limits.max_upload_pixels": (1, 10**9),
    "limits.submissions_per_minute": (1, 1_000_000),
    "limits.max_queue": (1, 1_000_000),
    "limits.gallery_page_size": (1, 1000),
    "retention.keep_days": (0.001, 36_500),
    "retention.max_job_bytes": (1, 10**15),
    "retention.max_gallery_items": (1, 10**7),
    "retention.max_gallery_bytes": (1, 10**15),
    "retention.every_seconds": (1, 86_400),
    "smtp.port": (1, 65535),
    "smtp.retry_seconds": (0.1, 86_400),
    "worker.lease_seconds": (1, 86_400),
    "worker.max_attempts": (1, 100),
    "worker.poll_seconds": (0.001, 60),
    "worker.max_models": (1, 1000),
    "worker.max_programs": (1, 100_000),
}


def check(config):
  """Refuses a site config that cannot work, before anything starts."""
  for method in ("gatys", "luan"):
    api.preset(config.custom[method])  # an unknown preset is a UserError
  mail.check_security(config.smtp)
  app_lib.trusted_networks(config.trusted_proxies)  # each an address or network, else a UserError
  if not config.custom.sizes:
    raise UserError("custom.sizes must list at least one long side")
  for key, (low, high) in RANGES.items():
    section, _, name = key.rpartition(".")
    value = (config[section] if section else config)[name]
    for number in value if key == "custom.sizes" else (value,):
      settings.in_range(number, key, low, high)  # NaN is refused too


def listen(host, port):
  """A socket bound to host:port, so a port in use is a one-line error before anything starts."""
  try:
    listening = socket.create_server((host, port))
  except OSError as e:
    raise UserError(f"cannot serve on {host}:{port}: {e.strerror} (choose another --config.port)") from None
  return listening


@contextlib.contextmanager
def only_site(workdir):
  """Holds WORKDIR/site.lock (fcntl.flock) for the block, or refuses: one site per workdir."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, site_files.LOCK)
  with open(path, "a") as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise UserError(f"another site is running on {workdir} (it holds {path}); stop it, or choose another "
                      f"--workdir") from None
    yield


class Supervisor:
  """Keeps one worker process running for `workdir` until `stop`."""

  def __init__(self, workdir, queue):
    self.workdir, self.queue = workdir, queue
    self.stopping = threading.Event()
    self.process = None
    # Each worker gets the read end; only this process holds the write end, so a worker reads EOF once this
    # process is gone, however it ended, and then ends too (stylejax.web.worker.watch_server).
    self.lifeline, self.held = os.pipe()

  def _spawn(self):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
    self.process = subprocess.Popen([sys.executable, "-m", "stylejax.web.worker", self.workdir, str(self.lifeline)],
                                    env=env, start_new_session=True, pass_fds=(self.lifeline,))
    with atomic.writing(os.path.join(self.workdir, site_files.WORKER_PID), "w") as f:
      f.write(str(self.process.pid))
    return time.monotonic()

  def running(self):
    """Whether a worker process runs now (not between a death and the next start)."""
    process = self.process
    return process is not None and process.poll() is None

  def start(self):
    started = self._spawn()
    threading.Thread(target=self._watch, args=(started,), daemon=True).start()
    return self

  def _watch(self, started):
    pause = 1.0
    while not self.stopping.wait(0.2):
      code = self.process.poll()
      if code is None:
        continue
      given_back = self.queue.requeue_worker(queue_lib.worker_name(self.process.pid))
      log.warning("worker %d stopped (exit code %s); %d job(s) back in the queue", self.process.pid, code, given_back)
      pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 60.0)
      if self.stopping.wait(pause):
        return
      started = self._spawn()

  def stop(self):
    self.stopping.set()
    if self.process is not None and self.process.poll() is None:
      self.process.terminate()  # the worker gives its job back and exits
      try:
        self.process.wait(30)
      except subprocess.TimeoutExpired:
        self.process.kill()
        self.process.wait()
    os.close(self.lifeline)
    os.close(self.held)


def server(app):
  """The uvicorn server of `app`. uvicorn's own X-Forwarded-For handling is off (by default it believes the header
  from 127.0.0.1, so any local client could pick its address): the app believes only config.trusted_proxies."""
  return uvicorn.Server(uvicorn.Config(app, log_level="warning", server_header=False, proxy_headers=False))


def run(config, workdir):
  check(config)
  with listen(config.host, config.port) as listening, only_site(workdir):
    queue = queue_lib.JobQueue(site_files.database(workdir), config.worker.max_attempts)
    supervisor = Supervisor(workdir, queue)
    app = app_lib.create_app(config, workdir, supervisor.running)  # a damaged site.db was refused by now
    for token in queue.drop_reservations():  # uploads a stopped server was receiving
      shutil.rmtree(site_files.job_dir(workdir, token), ignore_errors=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    keeper = retention.Retention(config.retention, workdir)
    keeper.sweep()
    runlog.write_json(os.path.join(workdir, "config.json"), config.to_dict())  # the worker reads it
    supervisor.start()
    keeper.start(supervisor.stopping)
    print(f"serving {site_files.base_url(config)} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
      server(app).run(sockets=[listening])
    finally:
      supervisor.stop()
  return {"url": site_files.base_url(config)}
