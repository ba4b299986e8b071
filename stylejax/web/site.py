"""The `web` job (configs/web.py): the website's HTTP server and its supervised worker process.

The worker (stylejax.web.worker) runs in a child process with its own session,
so a terminal's Ctrl-C reaches only this process; this process serves HTTP
(uvicorn) and watches the worker: when it dies, its running job goes back to the
queue at once and a new worker starts (after a pause that grows while workers
keep dying young). Ctrl-C or SIGTERM stops the server, then the worker, which
gives its job back; the next start continues it.
"""

import logging
import os
import socket
import subprocess
import sys
import threading
import time

import uvicorn

from stylejax import api
from stylejax.errors import UserError
from stylejax.io import atomic, runlog
from stylejax.web import app as app_lib, mail, queue as queue_lib, site_files

log = logging.getLogger("stylejax.web")
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def check(config):
  """Refuses a site config that cannot work, before anything starts."""
  for method in ("gatys", "luan"):
    api.preset(config.custom[method])  # an unknown preset is a UserError
  mail.check_security(config.smtp)
  if not config.custom.sizes or min(config.custom.sizes) < 16:
    raise UserError("custom.sizes must list long sides of at least 16 px")
  numbers = {"port": config.port, "online.max_side": config.online.max_side,
             "online.max_pending": config.online.max_pending, "worker.lease_seconds": config.worker.lease_seconds,
             "worker.max_models": config.worker.max_models,
             **{f"limits.{key}": value for key, value in config.limits.items()}}
  for key, value in numbers.items():
    if value <= 0:
      raise UserError(f"{key} must be > 0, got {value}")


def listen(host, port):
  """A socket bound to host:port, so a port in use is a one-line error before anything starts."""
  try:
    listening = socket.create_server((host, port))
  except OSError as e:
    raise UserError(f"cannot serve on {host}:{port}: {e.strerror} (choose another --config.port)") from None
  return listening


class Supervisor:
  """Keeps one worker process running for `workdir` until `stop`."""

  def __init__(self, workdir, queue):
    self.workdir, self.queue = workdir, queue
    self.stopping = threading.Event()
    self.process = None

  def _spawn(self):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
    self.process = subprocess.Popen([sys.executable, "-m", "stylejax.web.worker", self.workdir], env=env,
                                    start_new_session=True)
    with atomic.writing(os.path.join(self.workdir, site_files.WORKER_PID), "w") as f:
      f.write(str(self.process.pid))
    return time.monotonic()

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
    if self.process.poll() is None:
      self.process.terminate()  # the worker gives its job back and exits
      try:
        self.process.wait(30)
      except subprocess.TimeoutExpired:
        self.process.kill()
        self.process.wait()


def run(config, workdir):
  check(config)
  os.makedirs(workdir, exist_ok=True)
  runlog.write_json(os.path.join(workdir, "config.json"), config.to_dict())
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
  queue = queue_lib.JobQueue(site_files.database(workdir), config.worker.max_attempts)
  listening = listen(config.host, config.port)
  server = uvicorn.Server(uvicorn.Config(app_lib.create_app(config, workdir), log_level="warning",
                                         server_header=False))
  supervisor = Supervisor(workdir, queue).start()
  print(f"serving {site_files.base_url(config)} (Ctrl-C stops)", file=sys.stderr, flush=True)
  try:
    server.run(sockets=[listening])
  finally:
    supervisor.stop()
  return {"url": site_files.base_url(config)}
