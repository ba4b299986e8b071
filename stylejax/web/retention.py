"""Disk retention: what the site keeps of finished jobs and gallery items is bounded by `retention` in the config.

    keeper = Retention(config.retention, workdir)
    keeper.sweep()                  # once (the server: at its start, before it serves)
    keeper.start(stopping)          # then every retention.every_seconds in a thread, until `stopping` is set

A finished job (done or failed) is removed, page, files and result together,
`keep_days` after it ended; and while all job folders together hold more than
`max_job_bytes`, the finished jobs go oldest first. A job that is reserved,
queued or running is never removed (its row is deleted only in the finished
states, in one statement, before its folder goes), so the quota may be passed
by pending jobs, which the queue limits bound. Job folders whose job is gone
(a server stopped between the two steps) are removed too. The gallery keeps
at most `max_gallery_items` items and `max_gallery_bytes`; the oldest go.
Between two sweeps the site may pass a limit by what arrives meanwhile.
"""

import contextlib
import logging
import os
import shutil
import threading
import time
import traceback

from stylejax.web import gallery as gallery_lib, queue as queue_lib, site_files

log = logging.getLogger("stylejax.web")
DAY = 86_400.0


def disk_bytes(*paths):
  """The bytes of the files at or under `paths` (missing ones, and files removed meanwhile, count 0)."""
  total = 0
  for path in paths:
    files = ([os.path.join(parent, name) for parent, _, names in os.walk(path) for name in names]
             if os.path.isdir(path) else [path])
    for file in files:
      with contextlib.suppress(OSError):
        total += os.path.getsize(file)
  return total


def oldest_to_drop(entries, total_bytes, max_bytes, max_count=float("inf"), cutoff=float("-inf")):
  """The keys to remove from `entries` [(key, time, bytes)], oldest first: every one older than `cutoff`, then
  the oldest until the remaining ones hold at most `max_bytes` and number at most `max_count`. `total_bytes`
  counts everything the quota covers (also what may not be removed, which is not in `entries`)."""
  count, dropped = len(entries), []
  for key, when, size in entries:
    if when >= cutoff and total_bytes <= max_bytes and count <= max_count:
      break
    dropped.append(key)
    total_bytes, count = total_bytes - size, count - 1
  return dropped


class Retention:
  """Enforces the `retention` settings (configs/web.py) on one site's workdir."""

  def __init__(self, limits, workdir):
    self.limits, self.workdir = limits, workdir
    self.jobs = queue_lib.JobQueue(site_files.database(workdir))
    self.album = gallery_lib.Gallery(site_files.database(workdir), site_files.gallery_dir(workdir))

  def sweep(self):
    """Removes what the limits say must go (stray folders first: they count toward no job); returns
    {"stray folders": n, "jobs": n, "gallery items": n}."""
    removed = {"stray folders": self._strays(), "jobs": self._jobs(), "gallery items": self._gallery()}
    if any(removed.values()):
      log.info("retention removed %s", ", ".join(f"{n} {what}" for what, n in removed.items()))
    return removed

  def _jobs(self):
    folders = os.path.join(self.workdir, "jobs")
    sizes = {entry.name: disk_bytes(entry.path) for entry in os.scandir(folders)} if os.path.isdir(folders) else {}
    finished = [(token, ended, sizes.get(token, 0)) for token, ended in self.jobs.finished()]
    chosen = oldest_to_drop(finished, sum(sizes.values()), self.limits.max_job_bytes,
                            cutoff=time.time() - self.limits.keep_days * DAY)
    removed = self.jobs.remove_finished(chosen)
    for token in removed:  # its row is gone first: no page can show a job whose files are going
      shutil.rmtree(site_files.job_dir(self.workdir, token), ignore_errors=True)
    return len(removed)

  def _gallery(self):
    items = [(item_id, added, disk_bytes(*self.album.files(item_id))) for item_id, added in self.album.oldest_first()]
    chosen = oldest_to_drop(items, sum(size for _, _, size in items), self.limits.max_gallery_bytes,
                            self.limits.max_gallery_items)
    for item_id in chosen:
      self.album.remove(item_id)
    return len(chosen)

  def _strays(self):
    """Removes job folders whose job is no longer in the table. A job's row is inserted before its folder is
    made, so a folder listed here whose token is not known afterwards belongs to no job."""
    folders = os.path.join(self.workdir, "jobs")
    listed = {entry.name for entry in os.scandir(folders) if entry.is_dir()} if os.path.isdir(folders) else set()
    strays = listed - self.jobs.known(listed)
    for token in strays:
      shutil.rmtree(site_files.job_dir(self.workdir, token), ignore_errors=True)
    return len(strays)

  def start(self, stopping):
    """Sweeps every `every_seconds` in a daemon thread until `stopping` (a threading.Event) is set."""

    def keep():
      while not stopping.wait(self.limits.every_seconds):
        try:
          self.sweep()
        except Exception:  # a bug or a disk error must not end the thread: the next sweep tries again
          log.error("retention sweep failed:\n%s", traceback.format_exc())

    threading.Thread(target=keep, daemon=True).start()
