"""Helpers of the website tests: waiting, process checks, a site served by uvicorn in a thread, test pictures."""

import contextlib
import io
import threading
import time

import numpy as np
from PIL import Image

from stylejax.web import site as site_lib


def wait_for(condition, seconds, what):
  """condition()'s first true value within `seconds`, else an AssertionError naming `what`."""
  deadline = time.monotonic() + seconds
  while time.monotonic() < deadline:
    value = condition()
    if value:
      return value
    time.sleep(0.02)
  raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def alive(pid):
  """Whether process `pid` exists and is not a zombie."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except OSError:
    return False


@contextlib.contextmanager
def serving(app):
  """`app` (ASGI) served by uvicorn, configured as the site's server (site.server), on a free loopback port in a
  thread of this process; yields the port."""
  listening = site_lib.listen("127.0.0.1", 0)
  server = site_lib.server(app)  # as the site serves
  thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
  thread.start()
  try:
    wait_for(lambda: server.started, 30, "uvicorn to start")
    yield listening.getsockname()[1]
  finally:
    server.should_exit = True
    thread.join(30)
    listening.close()


def png(width=48, height=32, exif=None):
  """A random picture encoded as PNG (JPEG with `exif`)."""
  buffer = io.BytesIO()
  pixels = np.random.default_rng(width).integers(0, 255, (height, width, 3), np.uint8)
  Image.fromarray(pixels).save(buffer, "JPEG" if exif else "PNG", **({"exif": exif} if exif else {}))
  return buffer.getvalue()
