"""The site's worker: one long-lived process that owns the accelerator and runs one job at a time.

    python -m stylejax.web.worker WORKDIR LIFELINE_FD      (the `web` job starts and supervises it)

It keeps VGG and the fast models in memory, claims jobs from the queue and
writes their progress and results, in two lanes: the main thread runs custom
jobs one at a time, and an online thread runs online requests as they come,
also while a custom job compiles or runs (the two share the CPU or
accelerator), so a photo never waits for a slow optimisation. A heartbeat
thread renews the leases of its jobs; if this process
dies, its job goes back to the queue (stylejax.web.queue) and runs again from
its start. A mail thread sends the outbox when a job ends and retries what the
SMTP server refused every `smtp.retry_seconds`, also while a long job runs.
Ctrl-C, SIGTERM or the end of the server that started it, at any moment, give
the running job back and end the process.

Memory: each photo shape and each custom job compile XLA programs of their
own, and each XLA:CPU program holds memory maps (about 57 per photo shape of a
bundled model, 240 per gatys:tiny job, 490 per luan:tiny job); a process
passing the kernel's `vm.max_map_count` (65530 by default, less on some
machines) fails to allocate inside a compile and crashes. So before compiling
for something new the worker drops every compiled program
(`jax.clear_caches`) when `worker.max_programs` distinct programs (photo
shapes per model, custom jobs) were compiled since the last drop, or when it
holds more than half of `vm.max_map_count` maps (counted in /proc/self/maps);
the next use of one compiles it again, from the persistent cache in
WORKDIR/xla_cache. Programs are dropped only while one job runs, never under
the other lane's running job (then the drop waits for the next chance).
"""

import logging
import math
import os
import signal
import sys
import threading
import time
import traceback

import jax

from stylejax import api, launch
from stylejax.core import xla
from stylejax.errors import UserError
from stylejax.io import compile_cache, configs, images, runlog, video
from stylejax.web import catalog, mail, queue as queue_lib, site_files

log = logging.getLogger("stylejax.web.worker")


def coarse_to_fine(config, size):
  """Overrides of an optimize preset's `config` for an output of long side `size`. Below twice the preset's own
  image_size (the size its schedule was chosen at) it runs as it is, at `size`. From twice on it gets
  floor(log2(size / image_size)) more scales, so its own schedule runs at sizes from its own to twice its own:
  with guided upsampling (Luan) the result is carried to the new scales as local affine colour transforms in 0
  steps (a full-size photo costs little more than the preset's size); otherwise each new scale takes a fifth of
  the preset's steps (Gatys)."""
  extra = math.floor(math.log2(max(size / config.image_size, 1.0)))
  if extra == 0:
    return {"image_size": size}
  steps = tuple(config.scale_steps) or (config.total_steps,) * config.num_scales
  more = 0 if config.upsample == "guided" else max(config.total_steps // 5, 1)
  return {"image_size": size, "num_scales": config.num_scales + extra, "scale_steps": steps + (more,) * extra}


def timings(start, first, end, total):
  """{prepare_seconds, step_seconds} of a job that started at `start`, first reported (time, step) `first` and
  ended at `end` after `total` steps: what the job pages' estimates come from. Empty without two reports."""
  if first is None or first[1] >= total:
    return {}
  step_seconds = (end - first[0]) / (total - first[1])
  return {"prepare_seconds": max(first[0] - start - first[1] * step_seconds, 0.0), "step_seconds": step_seconds}


class LostJob(Exception):
  """The job's lease ran out and another worker may run it: stop without reporting."""


class Worker:

  def __init__(self, config, workdir):
    self.config, self.workdir = config, workdir
    self.queue = queue_lib.JobQueue(site_files.database(workdir), config.worker.max_attempts)
    self.id = queue_lib.worker_name(os.getpid())
    self.lease = config.worker.lease_seconds
    self.models = {}  # path -> api.Model, loaded on first use, least recently used first
    self.programs = set()  # what compiled programs since the last jax.clear_caches (see `compiling`)
    self.running = 0  # jobs running now, in both lanes
    self.lock = threading.Lock()  # guards `programs` and `running`
    self.mail_now = threading.Event()  # wakes the mail thread

  def model(self, name, for_video=False):
    """The loaded fast model `name` from the catalog (reloaded if its folder changed); `for_video`: the bundled
    model's fine-tune for video (stylejax/assets/models/video/NAME, trained with the temporal term: it flickers
    less) where the site's model `name` is the bundled one and has such a fine-tune."""
    found = catalog.models(site_files.model_dirs(self.config, self.workdir)).get(name)
    if found is None:
      raise UserError(f"there is no model {name!r} on this site any more")
    path = found.path
    steady = os.path.join(catalog.bundled_dir(), "video", name)
    if for_video and path == os.path.join(catalog.bundled_dir(), name) and os.path.isdir(steady):
      path = steady
    if path not in self.models:
      self.models[path] = api.load_model(path)
      while len(self.models) > self.config.worker.max_models:
        del self.models[next(iter(self.models))]  # the least recently used
    self.models[path] = self.models.pop(path)  # now the most recently used
    return self.models[path]

  def compiling(self, key):
    """Notes that the next work may compile the programs of `key` (a model and photo shape, or a custom job);
    first drops every compiled program if `worker.max_programs` distinct keys were noted since the last drop, or
    if this process holds more than half of the kernel's memory map limit, unless the other lane runs a job."""
    with self.lock:
      if key not in self.programs and self.programs and self.running <= 1:  # no job of the other lane runs
        maps, limit = xla.memory_maps()
        if len(self.programs) >= self.config.worker.max_programs or maps > xla.MAP_SHARE * limit:
          log.info("dropping the programs compiled for %d photo shapes and jobs (%d of %d memory maps)",
                   len(self.programs), maps, limit)
          jax.clear_caches()
          self.programs.clear()
      self.programs.add(key)

  def online(self, job):
    """Stylises the uploaded photo with the chosen model at its own size (with the uploaded style photo, for a
    model that takes one)."""
    folder = site_files.job_dir(self.workdir, job.token)
    photo = images.read_rgb(os.path.join(folder, site_files.INPUT))
    model = self.model(job.params["model"])
    style = images.read_rgb(os.path.join(folder, site_files.STYLE)) if model.net.takes_style else None
    regions = job.params.get("regions", 0)  # jobs queued before the option have none
    self.compiling((job.params["model"], photo.size, None if style is None else style.size, regions))
    start = time.perf_counter()
    result = model.stylize(photo, style, strength=job.params["strength"], regions=regions)
    seconds = time.perf_counter() - start
    images.save_image(os.path.join(folder, site_files.RESULT), result, compress_level=1)
    return {"seconds": seconds}

  def observed(self, job, work):
    """Runs work() with every progress bar it opens reported as the job's progress (LostJob once its lease is
    gone); returns (what work returned, (time, step) of the first report or None)."""
    first = None

    def on_progress(step, total):
      nonlocal first
      first = first or (time.perf_counter(), step)
      if not self.queue.progress(job.token, self.id, step, total, self.lease):
        raise LostJob

    with runlog.observing(on_progress):
      return work(), first

  def custom(self, job):
    """The slow method (Gatys or Luan) on the uploaded pair through the optimize job, with progress; sizes above
    the preset's own are reached coarse to fine (`coarse_to_fine`). The quick photorealistic method: `refined`."""
    if job.params["method"] == "refined":
      return self.refined(job)
    folder = site_files.job_dir(self.workdir, job.token)
    config = api.preset(self.config.custom[job.params["method"]], content=os.path.join(folder, site_files.CONTENT),
                        style=(os.path.join(folder, site_files.STYLE),), seed=self.config.seed,
                        log_every_steps=self.config.custom.log_every_steps)
    config = configs.override(config, coarse_to_fine(config, job.params["size"]))
    self.compiling(job.token)  # each run compiles programs of its own (the optimiser is a static argument)
    start = time.perf_counter()
    summary, first = self.observed(job, lambda: launch.run(config, folder))
    return {"seconds": summary["wall_time_s"], **timings(start, first, time.perf_counter(), summary["steps"])}

  def refined(self, job):
    """The quick photorealistic method: the job's universal model on the uploaded pair, the photo at the job's
    size (long side), with up to online.regions automatic regions, its grid refined for custom.refine_steps steps
    of slow Luan's objective (stylejax.methods.refine), with progress."""
    folder = site_files.job_dir(self.workdir, job.token)
    model = self.model(job.params["model"])
    content, style = (images.read_rgb(os.path.join(folder, name)) for name in (site_files.CONTENT, site_files.STYLE))
    content = api.fit(content, job.params["size"])
    steps, regions = self.config.custom.refine_steps, self.config.online.regions
    self.compiling((job.params["model"], "refined", content.shape, style.size))
    start = time.perf_counter()
    result, first = self.observed(job, lambda: model.stylize(content, style, regions=regions, refine_steps=steps))
    images.save_image(os.path.join(folder, site_files.RESULT), result)
    return {"seconds": time.perf_counter() - start, **timings(start, first, time.perf_counter(), steps)}

  def video(self, job):
    """Stylises the uploaded clip with the chosen model (its video fine-tune where there is one), shrunk first to
    video.max_side, its state carried across frames, the audio kept; progress in frames. Finished segments of
    video.chunk frames are kept in the job's folder, so a job restarted after a crash resumes after them."""
    folder = site_files.job_dir(self.workdir, job.token)
    model = self.model(job.params["model"], for_video=True)
    style = images.read_rgb(os.path.join(folder, site_files.STYLE)) if model.net.takes_style else None
    shrunk = os.path.join(folder, site_files.SHRUNK)  # kept from an earlier attempt (written atomically): the
    # same file, so the segments that attempt finished are taken up again
    clip = video.probe(shrunk) if os.path.isfile(shrunk) else video.shrunk(
        video.probe(os.path.join(folder, job.params["clip"])), shrunk, self.config.video.max_side)
    self.compiling((job.params["model"], "video", clip.width, clip.height))
    start, first, done = time.perf_counter(), None, 0

    def on_frames(count):
      nonlocal first, done
      done += count
      first = first or (time.perf_counter(), done)
      if not self.queue.progress(job.token, self.id, done, clip.frames, self.lease):
        raise LostJob

    model.stylize_video(clip.path, os.path.join(folder, site_files.result_video(job.params["clip"])), style,
                        api.StylizeOptions(self.config.video.batch_size, job.params["strength"]),
                        parts=os.path.join(folder, "parts"),
                        chunk=self.config.video.chunk, progress=on_frames)
    return {"seconds": time.perf_counter() - start, **timings(start, first, time.perf_counter(), clip.frames)}

  def run_job(self, job):
    """Runs one claimed job to done or failed; gives it back on Ctrl-C or when the server is gone."""
    log.info("job %s (%s) claimed, attempt %d", job.token, job.kind, job.attempts)
    with self.lock:
      self.running += 1
    try:
      result = {"online": self.online, "custom": self.custom, "video": self.video}[job.kind](job)
    except LostJob:
      log.warning("job %s: lease lost; another worker may run it", job.token)
      return
    except KeyboardInterrupt:
      self.queue.release(job.token, self.id)
      raise
    except UserError as e:
      self.queue.fail(job.token, self.id, str(e))
    except Exception:  # a bug or a broken model: the job fails with a short message; the details go to the log
      log.error("job %s failed:\n%s", job.token, traceback.format_exc())
      self.queue.fail(job.token, self.id, "the job failed with an internal error (details in the worker log)")
    else:
      self.queue.finish(job.token, self.id, result)
    finally:
      with self.lock:
        self.running -= 1
    self.mail_now.set()

  def run_next(self, kinds=tuple(queue_lib.PRIORITY)):
    """Claims and runs the next job of `kinds` (online first); False if none was waiting."""
    job = self.queue.claim(self.id, self.lease, kinds)
    if job is not None:
      self.run_job(job)
    return job is not None

  def online_lane(self, stop):
    """The online thread: runs online requests as they come until `stop` is set."""
    while not stop.is_set():
      try:
        if not self.run_next(("online",)):
          stop.wait(self.config.worker.poll_seconds)
      except Exception:  # e.g. the database briefly unusable: the lane must go on
        log.error("the online lane failed:\n%s", traceback.format_exc())
        stop.wait(1.0)

  def send_mail(self):
    """Sends the outbox: each finished job with an address gets one mail (kept for later if the server refuses).
    Only the mail thread calls it while the worker runs, so no mail goes twice."""
    smtp = self.config.smtp
    for job in self.queue.unmailed():
      if not mail.enabled(smtp):
        self.queue.mailed(job.token)
        continue
      folder = site_files.job_dir(self.workdir, job.token)
      link = f"{site_files.base_url(self.config)}/jobs/{job.token}"
      if job.state == queue_lib.DONE and job.kind == "video":  # a clip is too large to attach: its page's link
        message = mail.message(smtp, job.email, "Your stylised video is ready",
                               f"Your video is ready to watch and download on its page: {link}\n")
      elif job.state == queue_lib.DONE:
        with open(os.path.join(folder, site_files.RESULT), "rb") as f:
          message = mail.message(smtp, job.email, "Your stylised image is ready",
                                 f"Your stylisation is attached: {catalog.how_made(job)}.\n\nIts page: {link}\n",
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

  def mailer(self, stop):
    """The mail thread: sends the outbox when a job ends and every smtp.retry_seconds (mail the SMTP server
    refused), whatever the main thread runs."""
    while not stop.is_set():
      try:
        self.send_mail()
      except Exception:  # a bug must not end the thread: the outbox keeps the mail for the next try
        log.error("sending mail failed:\n%s", traceback.format_exc())
      self.mail_now.wait(self.config.smtp.retry_seconds)
      self.mail_now.clear()

  def run(self):
    """Claims and runs jobs until Ctrl-C, SIGTERM or the server's end."""
    stop = threading.Event()
    mailer = threading.Thread(target=self.mailer, args=(stop,), daemon=True)
    lane = threading.Thread(target=self.online_lane, args=(stop,), daemon=True)
    for thread in (threading.Thread(target=self.heartbeat, args=(stop,), daemon=True), mailer, lane):
      thread.start()
    log.info("worker %s started", self.id)
    try:
      while True:
        if not self.run_next(("custom", "video")):
          time.sleep(self.config.worker.poll_seconds)
    except KeyboardInterrupt:
      log.info("worker %s stopped", self.id)
    finally:
      stop.set()
      self.mail_now.set()
      lane.join(10)  # the online request it runs (about a second) finishes
      mailer.join(10)  # a mail being sent is marked sent


def _interrupt(signum, frame):
  raise KeyboardInterrupt


def watch_server(lifeline, grace=10.0):
  """Ends this process when the server that started it ends, whenever and however (kill -9 too): the server holds
  the only write end of the `lifeline` pipe, so reading it returns EOF once the server is gone (also if it went
  before this thread started). Then SIGTERM gives the running job back; a process still alive `grace` seconds
  later (stuck in a long native call) exits at once, and its job's lease runs out."""

  def watch():
    while os.read(lifeline, 1):
      pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(1)

  threading.Thread(target=watch, daemon=True).start()


def main(workdir, lifeline):
  signal.signal(signal.SIGTERM, _interrupt)
  try:
    watch_server(lifeline)
    logging.basicConfig(filename=os.path.join(workdir, "worker.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", force=True)
    config = configs.read(os.path.join(workdir, "config.json"))
    # Compiled programs persist in the workdir, so a restarted worker answers photo sizes it has seen at once.
    compile_cache.use(os.path.join(workdir, "xla_cache"))
    Worker(config, workdir).run()
  except KeyboardInterrupt:  # stopped while starting
    pass


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]))
