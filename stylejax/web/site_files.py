"""Where the site keeps things inside its workdir; names are generated, never taken from a request."""

import os

from stylejax.io import video
from stylejax.web import catalog

DATABASE = "site.db"
WORKER_PID = "worker.pid"  # written by the supervisor at each worker start
LOCK = "site.lock"  # locked (fcntl.flock) by the running site: one site per workdir
INPUT, RESULT = "input.png", "result.png"  # online jobs
CONTENT, STYLE = "content.png", "style.png"  # custom jobs (their runs add result.png, losses.png, ...); STYLE also
# holds the style photo of an online job whose model takes one
CLIPS = tuple(f"clip{extension}" for extension in video.EXTENSIONS)  # a video job's upload, in its own container
SHRUNK = "shrunk.mp4"  # a video job's clip shrunk to video.max_side, where it was larger
PUBLIC = (INPUT, RESULT, CONTENT, STYLE, "losses.png", *CLIPS,  # the files a job page may serve
          *(f"result{extension}" for extension in video.EXTENSIONS))
MEDIA_TYPES = {".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4", ".m4v": "video/mp4",
               ".mov": "video/quicktime", ".mkv": "video/x-matroska", ".webm": "video/webm", ".avi": "video/x-msvideo"}


def result_video(clip):
  """The file name of a video job's result, for its upload's file name `clip` (one of CLIPS)."""
  return "result" + video.output_extension(clip)


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
