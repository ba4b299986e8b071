"""The site's worker: one long-lived process that owns the accelerator and runs one job at a time.

    python -m stylejax.web.worker WORKDIR      (the `web` job starts and supervises it)

It keeps VGG and the fast models in memory, claims jobs from the queue (online
first), writes their progress, results and mail. Online requests are also
served between the chunks of a running custom job, so a photo never waits for
a slow optimisation. A heartbeat thread renews the leases of its jobs; if this
process dies, its job goes back to the queue (stylejax.web.queue) and runs again
from its start. Ctrl-C, SIGTERM or the death of the server that started it give
the running job back and end the process cleanly.
"""

import logging
import os
import signal
import sys
import threading
import time
import traceback

from stylejax import api, launch
from stylejax.errors import UserError
from stylejax.io import compile_cache, configs, images, runlog
from stylejax.web import catalog, mail, queue as queue_lib, site_files

log = logging.getLogger("stylejax.web.worker")


class LostJob(Exception):
  """The job's lease ran out and another worker may run it: stop without reporting."""


class Stopped(Exception):
  """The server that started this worker is gone."""


class Worker:

  def __init__(self, config, workdir):
    self.config, self.workdir = config, workdir
    self.queue = queue_lib.JobQueue(site_files.database(workdir), config.worker.max_attempts)
    self.id = queue_lib.worker_name(os.getpid())
    self.parent = os.getppid()
    self.lease = config.worker.lease_seconds
    self.models = {}  # name -> (path, api.Model), loaded on first use, least recently used first

  def model(self, name):
    """The loaded fast model `name` from the catalog (reloaded if its folder changed)."""
    found = catalog.models(site_files.model_dirs(self.config, self.workdir)).get(name)
    if found is None:
      raise UserError(f"there is no model {name!r} on this site any more")
    if name not in self.models or self.models[name][0] != found.path:
      self.models[name] = (found.path, api.load_model(found.path))
      while len(self.models) > self.config.worker.max_models:
        del self.models[next(iter(self.models))]  # the least recently used
    self.models[name] = self.models.pop(name)  # now the most recently used
    return self.models[name][1]

  def online(self, job):
    """Stylises the uploaded photo with the chosen model at its own size."""
    folder = site_files.job_dir(self.workdir, job.token)
    photo = images.read_rgb(os.path.join(folder, site_files.INPUT))
    start = time.perf_counter()
    result = self.model(job.params["model"]).stylize(photo, strength=job.params["strength"])
    seconds = time.perf_counter() - start
    images.save_image(os.path.join(folder, site_files.RESULT), result, compress_level=1)
    return {"seconds": seconds}

  def custom(self, job):
    """The slow method (Gatys or Luan) on the uploaded pair through the optimize job, with progress."""
    folder = site_files.job_dir(self.workdir, job.token)
    config = api.preset(self.config.custom[job.params["method"]], content=os.path.join(folder, site_files.CONTENT),
                        style=(os.path.join(folder, site_files.STYLE),), image_size=job.params["size"],
                        seed=self.config.seed, log_every_steps=self.config.custom.log_every_steps)

    def on_progress(step, total):
      if not self.queue.progress(job.token, self.id, step, total, self.lease):
        raise LostJob
      self.serve_online()

    with runlog.observing(on_progress):
      summary = launch.run(config, folder)
    return {"seconds": summary["wall_time_s"]}

  def run_job(self, job):
    """Runs one claimed job to done or failed; gives it back on Ctrl-C or when the server is gone."""
    log.info("job %s (%s) claimed, attempt %d", job.token, job.kind, job.attempts)
    try:
      result = (self.online if job.kind == "online" else self.custom)(job)
    except LostJob:
      log.warning("job %s: lease lost; another worker may run it", job.token)
      return
    except (KeyboardInterrupt, Stopped):
      self.queue.release(job.token, self.id)
      raise
    except UserError as e:
      self.queue.fail(job.token, self.id, str(e))
    except Exception:  # a bug or a broken model: the job fails with a short message; the details go to the log
      log.error("job %s failed:\n%s", job.token, traceback.format_exc())
      self.queue.fail(job.token, self.id, "the job failed with an internal error (details in the worker log)")
    else:
      self.queue.finish(job.token, self.id, result)
    self.send_mail()

  def run_next(self):
    """Claims and runs the next job (online first); False if none was waiting."""
    job = self.queue.claim(self.id, self.lease)
    if job is not None:
      self.run_job(job)
    return job is not None

  def serve_online(self):
    """Runs every waiting online request (between chunks of a custom job too)."""
    self.check_parent()
    while (job := self.queue.claim(self.id, self.lease, kinds=("online",))) is not None:
      self.run_job(job)

  def check_parent(self):
    if os.getppid() != self.parent:
      raise Stopped

  def send_mail(self):
    """Sends the outbox: each finished job with an address gets one mail (kept for later if the server refuses)."""
    smtp = self.config.smtp
    for job in self.queue.unmailed():
      if not mail.enabled(smtp):
        self.queue.mailed(job.token)
        continue
      folder = site_files.job_dir(self.workdir, job.token)
      link = f"{site_files.base_url(self.config)}/jobs/{job.token}"
      if job.state == queue_lib.DONE:
        with open(os.path.join(folder, site_files.RESULT), "rb") as f:
          message = mail.message(smtp, job.email, "Your stylised image is ready",
                                 f"Your {job.params['method']} stylisation is attached.\n\nIts page: {link}\n",
                                 f.read())
      else:
        message = mail.message(smtp, job.email, "Your stylisation failed", f"{job.message}\n\nIts page: {link}\n")
      try:
        mail.send(smtp, message)
      except OSError as e:  # smtplib's errors are OSErrors
        log.warning("mail for job %s not sent (%s); retrying later", job.token, e)
        return
      self.queue.mailed(job.token)
      log.info("mail for job %s sent", job.token)

  def heartbeat(self, stop):
    while not stop.wait(self.lease / 4):
      self.queue.renew(self.id, self.lease)

  def run(self):
    """Claims and runs jobs until Ctrl-C, SIGTERM or the server's end."""
    stop = threading.Event()
    threading.Thread(target=self.heartbeat, args=(stop,), daemon=True).start()
    log.info("worker %s started", self.id)
    try:
      mail_due = 0.0
      while True:
        self.check_parent()
        if self.run_next():
          continue
        if time.monotonic() > mail_due:  # mail the SMTP server refused earlier is retried every minute
          self.send_mail()
          mail_due = time.monotonic() + 60
        time.sleep(self.config.worker.poll_seconds)
    except (KeyboardInterrupt, Stopped):
      log.info("worker %s stopped", self.id)
    finally:
      stop.set()


def _interrupt(signum, frame):
  raise KeyboardInterrupt


def main(workdir):
  signal.signal(signal.SIGTERM, _interrupt)
  logging.basicConfig(filename=os.path.join(workdir, "worker.log"), level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s", force=True)
  config = configs.read(os.path.join(workdir, "config.json"))
  # Compiled programs persist in the workdir, so a restarted worker answers photo sizes it has seen at once.
  compile_cache.use(os.path.join(workdir, "xla_cache"))
  Worker(config, workdir).run()


if __name__ == "__main__":
  main(sys.argv[1])
