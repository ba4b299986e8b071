"""Fault injection against the website, one test per class of fault: oversized chunked uploads, parallel requests
at the queue limits, damaged state and out-of-range numbers, refused starts, a server killed while its worker
starts, a dead worker behind /health, refused mail during a long job, compiled programs piling up in the worker,
a disk filled past the retention quota, X-Forwarded-For sent by a client instead of a trusted proxy.

Sites here use only the bundled models (no training) and uvicorn in a thread, except one real `run.py`.
"""

import asyncio
import concurrent.futures
import fcntl
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx2 as httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from configs import web
from stylejax.core import xla
from stylejax.errors import UserError
from stylejax.io import images, runlog
from stylejax.web import app as app_lib, gallery as gallery_lib, queue as queue_lib, site as site_lib, site_files
from stylejax.web import catalog, worker as worker_lib
from tests.helpers import ROOT, free_port
from tests.website.support import alive, png, serving, wait_for

FORM = {"headers": {"Cookie": f"{app_lib.CSRF_COOKIE}=t"}, "data": {"csrf": "t"}}  # a CSRF token and its cookie


@pytest.fixture
def config():
  config = web.get_config("tiny")
  config.port = free_port()
  config.models_dir = "/nonexistent"  # the bundled models only
  return config


@pytest.fixture
def workdir(tmp_path):
  folder = str(tmp_path / "site")
  os.makedirs(folder)
  return folder


def test_a_chunked_upload_is_refused_once_its_bytes_pass_the_limit(config, workdir):
  config.limits.max_upload_bytes = 100_000
  limit = 2 * 100_000 + 100_000  # a request's body: two uploads and the form's fields
  app, read = app_lib.create_app(config, workdir), []

  async def counting(scope, receive, send):  # what the site takes from the server
    async def counted():
      message = await receive()
      read.append(len(message.get("body", b"")))
      return message
    await app(scope, counted, send)

  body, piece = 300 * 10**6, 64 * 1024
  with serving(counting) as port, socket.create_connection(("127.0.0.1", port), timeout=30) as client:
    answer, closed = bytearray(), threading.Event()

    def listen():
      try:
        while data := client.recv(65536):
          answer.extend(data)
      except OSError:
        pass
      closed.set()

    threading.Thread(target=listen, daemon=True).start()
    client.sendall(f"POST /gallery HTTP/1.1\r\nHost: site\r\nTransfer-Encoding: chunked\r\nAccept: text/html\r\n"
                   f"Content-Type: multipart/form-data; boundary=b\r\nCookie: {app_lib.CSRF_COOKIE}=t\r\n\r\n".encode())
    sent = 0
    try:
      head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n\r\n'
      client.sendall(b"%x\r\n%s\r\n" % (len(head), head))
      while sent < body and not closed.is_set():
        client.sendall(b"%x\r\n%s\r\n" % (piece, b"\0" * piece))
        sent += piece
    except OSError:  # the server closed the connection
      pass
    assert closed.wait(30), "the server kept the connection open"
  assert answer.startswith(b"HTTP/1.1 413") and b"the upload is too large" in answer
  # the site stopped at the first message that passed the limit (uvicorn may merge pieces into larger messages)
  over = next(k for k, total in enumerate(itertools.accumulate(read)) if total > limit)
  assert not any(read[over + 1:]) and sum(read) < limit + 1_000_000
  assert sent < 40 * 10**6  # and so did the server: the client was cut off (socket buffers hold a few MB)



@pytest.mark.parametrize("declared", ["300001", "9" * 19, "1" * 5000])
def test_a_declared_length_past_the_limit_is_refused_before_any_byte_is_read(declared):
  refused = []

  async def site(scope, receive, send):
    try:
      await receive()
    except Exception as e:  # the site sees the refusal as its form parser would
      refused.append(getattr(e, "status_code", e))

  async def receive():
    raise AssertionError("a body byte was read")

  scope = {"type": "http", "headers": [(b"content-length", declared.encode())]}
  asyncio.run(app_lib.BodyLimit(site, 300_000, "too large")(scope, receive, None))
  assert refused == [413]

def test_parallel_requests_never_pass_the_queue_limits(config, workdir):
  config.online.max_pending, config.limits.max_queue = 4, 2
  config.limits.submissions_per_minute = 100
  jobs = queue_lib.JobQueue(site_files.database(workdir))
  photo = png(64, 48)
  with serving(app_lib.create_app(config, workdir)) as port:

    def post(path, files, **fields):
      return httpx.post(f"http://127.0.0.1:{port}{path}", files=files, data={**FORM["data"], **fields},
                        headers=FORM["headers"], timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
      online = list(pool.map(lambda _: post("/stylize", {"photo": ("p.png", photo)}, model="starry_night"),
                             range(12)))
      custom = list(pool.map(lambda _: post("/custom", {"content": ("c.png", photo), "style": ("s.png", photo)},
                                            method="gatys", size="64"), range(8)))
  assert sorted(online) == [303] * 4 + [503] * 8 and jobs.pending("online") == 4
  assert sorted(custom) == [303] * 2 + [503] * 6 and jobs.pending("custom") == 2


def previous_site(config, workdir):
  """A workdir as a stopped site leaves it: its config, lock file, database (with a job) and gallery."""
  jobs = queue_lib.JobQueue(site_files.database(workdir))
  jobs.submit(jobs.reserve("custom", 10, "127.0.0.1"), {"method": "gatys", "size": 64})
  gallery_lib.Gallery(site_files.database(workdir), site_files.gallery_dir(workdir))
  runlog.write_json(os.path.join(workdir, "config.json"), config.to_dict())
  open(os.path.join(workdir, site_files.LOCK), "w").close()


def snapshot(folder):
  """{relative path: bytes, or None for a folder} of everything under `folder`."""
  found = {}
  for parent, folders, files in os.walk(folder):
    for name in folders + files:
      path = os.path.join(parent, name)
      found[os.path.relpath(path, folder)] = None if os.path.isdir(path) else open(path, "rb").read()
  return found


@pytest.mark.parametrize("fault, message", [
    ("port in use", "choose another --config.port"),
    ("a site runs there", "another site is running on"),
    ("garbage site.db", "site.db is not a usable site database"),
    ("site.db is a folder", "site.db is not a usable site database"),
    ("another program's site.db", "site.db is not a usable site database"),
    ("port 70000", "port must be from 1 to 65,535, got 70000"),
    ("NaN lease", "worker.lease_seconds must be from 1 to 86,400, got nan"),
    ("a custom size of 10**9", "custom.sizes must be from 16 to 8,192"),
])
def test_a_refused_start_is_one_error_and_changes_nothing(config, workdir, fault, message):
  previous_site(web.get_config("tiny"), workdir)
  database = site_files.database(workdir)
  taken = site_lib.listen("127.0.0.1", config.port) if fault == "port in use" else None
  lock = open(os.path.join(workdir, site_files.LOCK), "a")
  if fault == "a site runs there":
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
  if "site.db" in fault:
    for suffix in ("", "-wal", "-shm"):
      if os.path.exists(database + suffix):
        os.remove(database + suffix)
  if fault == "garbage site.db":
    with open(database, "wb") as f:
      f.write(os.urandom(8192))
  elif fault == "site.db is a folder":
    os.makedirs(database)
  elif fault == "another program's site.db":
    with queue_lib.connect(database) as db:
      db.execute("CREATE TABLE jobs (id INTEGER, name TEXT)")
  config.port = 70000 if fault == "port 70000" else config.port
  config.worker.lease_seconds = float("nan") if fault == "NaN lease" else config.worker.lease_seconds
  config.custom.sizes = (10**9,) if "custom size" in fault else config.custom.sizes
  before = snapshot(workdir)
  with pytest.raises(UserError, match=message) as refused:
    site_lib.run(config, workdir)
  assert "\n" not in str(refused.value) and snapshot(workdir) == before
  lock.close()
  if taken:
    taken.close()


def test_numbers_in_requests_have_ranges_and_pages_past_the_last_say_so(config, workdir):
  client = TestClient(app_lib.create_app(config, workdir))
  for page in ("9" * 25, "0", "-1", "two", "1e3"):
    response = client.get(f"/gallery?page={page}", headers={"Accept": "text/html"})
    assert response.status_code == 422 and "page (" in response.text and "Traceback" not in response.text, page
  past = client.get("/gallery?page=2", headers={"Accept": "text/html"})
  assert past.status_code == 404 and "there is no page 2: the gallery has 1 page" in past.text
  assert client.get("/gallery?page=1").status_code == 200
  for strength in ("nan", "inf", "1e400"):
    response = client.post("/stylize", files={"photo": ("p.png", png())}, headers=FORM["headers"],
                           data={**FORM["data"], "model": "starry_night", "strength": strength})
    assert response.status_code == 422, strength


def test_health_is_503_while_the_worker_is_down_and_shows_no_process_ids(config, workdir):
  running = [False]
  client = TestClient(app_lib.create_app(config, workdir, lambda: running[0]))
  down = client.get("/health")
  assert down.status_code == 503 and down.json()["worker"] == "stopped" and not down.json()["ok"]
  running[0] = True
  up = client.get("/health")
  assert up.status_code == 200 and up.json() == {"ok": True, "worker": "running", "online_pending": 0,
                                                 "custom_pending": 0, "video_pending": 0,
                                                 "models": len(catalog.models([catalog.bundled_dir()]))}  # bundled
  os.remove(site_files.database(workdir))
  os.makedirs(site_files.database(workdir))  # the database is gone
  assert client.get("/health").status_code == 503


def test_refused_mail_is_retried_on_a_timer_while_a_long_job_runs(config, workdir, inbox):
  config.smtp.update(host="127.0.0.1", port=free_port(), security="none", retry_seconds=0.2)  # nothing listens
  worker = worker_lib.Worker(config, workdir)
  done = worker.queue.reserve("custom", 10, "127.0.0.1", "user@example.org")
  worker.queue.submit(done, {"method": "gatys", "size": 64})
  os.makedirs(site_files.job_dir(workdir, done))
  images.save_image(os.path.join(site_files.job_dir(workdir, done), site_files.RESULT), np.zeros((8, 8, 3)))
  worker.queue.claim(worker.id, 60)
  worker.queue.finish(done, worker.id, {"seconds": 1.0})
  worker.queue.submit(worker.queue.reserve("custom", 10, "127.0.0.1"), {"method": "gatys", "size": 64})
  seen = {}

  def long_job(job):
    time.sleep(0.5)  # the outbox's mail is refused meanwhile
    seen["refused"] = not inbox.messages
    config.smtp.port = inbox.port  # the SMTP server is back
    deadline = time.monotonic() + 10
    while not inbox.messages and time.monotonic() < deadline:
      time.sleep(0.02)
    seen["sent while running"] = bool(inbox.messages)
    raise KeyboardInterrupt  # stops the worker (as Ctrl-C would) before this job ends

  worker.custom = long_job
  worker.run()
  assert seen == {"refused": True, "sent while running": True}
  (mail,) = inbox.mails()
  assert mail["To"] == "user@example.org" and mail["Date"] and mail["Message-ID"].endswith("@localhost>")
  assert worker.queue.unmailed() == []


def test_the_worker_drops_its_compiled_programs_past_max_programs_or_half_the_map_limit(config, workdir, monkeypatch):
  config.worker.max_programs = 2
  worker, drops = worker_lib.Worker(config, workdir), []
  clear_caches = worker_lib.jax.clear_caches
  monkeypatch.setattr(worker_lib.jax, "clear_caches", lambda: (drops.append(set(worker.programs)), clear_caches()))
  shapes = [(16, 16), (16, 24), (16, 16), (24, 16)]
  for height, width in shapes:
    token = worker.queue.reserve("online", 10, "127.0.0.1")
    images.save_image(os.path.join(site_files.job_dir(workdir, token), site_files.INPUT),
                      np.full((height, width, 3), 128.0))
    worker.queue.submit(token, {"model": "starry_night", "strength": 1.0}, total=1)
    assert worker.run_next() and worker.queue.get(token).state == queue_lib.DONE
  assert drops == [{("starry_night", (16, 16), None, 0), ("starry_night", (24, 16), None, 0)}]  # before the third
  assert worker.programs == {("starry_night", (16, 24), None, 0)}  # (width, height), no style photo, no regions

  maps, limit = xla.memory_maps()  # this process's own, read from /proc
  with open("/proc/sys/vm/max_map_count") as f:
    assert 0 < maps < limit == int(f.read())
  # A machine whose vm.max_map_count is low (16000 on the soak's; custom jobs add hundreds of maps each):
  monkeypatch.setattr(worker_lib.xla, "memory_maps", lambda: (8001, 16000))
  worker.compiling(("starry_night", (16, 24), None, 0))  # compiled already: nothing new to compile, nothing dropped
  worker.compiling("a custom job")
  assert drops[1:] == [{("starry_night", (16, 24), None, 0)}] and worker.programs == {"a custom job"}
  worker.running = 2  # a job in each lane: no drop under the other lane's job; it waits for the next chance
  worker.compiling("another custom job")
  assert len(drops) == 2 and worker.programs == {"a custom job", "another custom job"}


@pytest.mark.slow
def test_the_worker_ends_when_its_server_is_killed_while_the_worker_starts(config, workdir):
  with open(workdir + ".log", "w") as log:
    server = subprocess.Popen([sys.executable, "run.py", "--config", "configs/web.py:tiny", "--workdir", workdir,
                               f"--config.port={config.port}"], cwd=ROOT, stdout=log, stderr=log)
  worker = wait_for(lambda: site_files.worker_pid(workdir), 120, "the worker to be started")
  server.send_signal(signal.SIGKILL)  # the worker is still importing jax
  server.wait()
  killed = time.monotonic()
  try:
    wait_for(lambda: not alive(worker), 60, "the worker to end")
  finally:
    if alive(worker):
      os.kill(worker, signal.SIGKILL)
  print(f"the worker ended {time.monotonic() - killed:.1f} s after its server was killed")


@pytest.mark.parametrize("trusted", [(), ("127.0.0.1",)], ids=["no trusted proxy", "loopback is a trusted proxy"])
def test_only_a_trusted_proxy_chooses_the_client_address_of_the_rate_limit(config, workdir, trusted):
  config.limits.submissions_per_minute, config.trusted_proxies = 2, trusted
  with serving(app_lib.create_app(config, workdir)) as port:

    def submit(forwarded):  # refused as not a picture (415) after the rate limit counted it, or 429
      return httpx.post(f"http://127.0.0.1:{port}/gallery", files={"image": ("x.png", b"not a picture")},
                        data=FORM["data"], headers={**FORM["headers"], "X-Forwarded-For": forwarded},
                        timeout=30).status_code

    spoofed = [submit(f"198.51.100.{i}") for i in range(4)]  # a new address each time
    if not trusted:
      assert spoofed == [415, 415, 429, 429]  # the header is ignored: one peer, one limit
      return
    assert spoofed == [415] * 4  # each forwarded address has its own limit
    assert [submit("203.0.113.7") for _ in range(3)] == [415, 415, 429]
    assert [submit("203.0.113.8") for _ in range(3)] == [415, 415, 429]  # limited apart from .7
    # A client behind the proxy forges the left part; the proxy appends the address it saw, which counts.
    assert [submit(f"192.0.2.{i}, 203.0.113.9") for i in range(4)] == [415, 415, 429, 429]


def test_a_file_removed_after_its_job_or_item_was_found_is_a_404(config, workdir):
  client = TestClient(app_lib.create_app(config, workdir), raise_server_exceptions=False)
  album = gallery_lib.Gallery(site_files.database(workdir), site_files.gallery_dir(workdir))
  picture = images.at_most(images.read_rgb(os.path.join(ROOT, "stylejax", "assets", "chelsea.jpg")), 32)
  item, _ = album.add(picture, "item", before=picture, style=picture)
  job = fake_job(queue_lib.JobQueue(site_files.database(workdir)), workdir, 10, 0)
  # As retention or a delete does between finding the row and sending the file:
  for path in (*album.files(item), os.path.join(site_files.job_dir(workdir, job), site_files.CONTENT)):
    os.remove(path)
  for url in (*(f"/gallery/{item}/{name}" for name in ("thumb", "image", "before", "style")),
              f"/jobs/{job}/files/{site_files.CONTENT}"):
    response = client.get(url)
    assert response.status_code == 404 and "no such" in response.json()["error"], url


def answers(url):
  """Whether GET `url` answers 200 now."""
  try:
    return httpx.get(url, timeout=5).status_code == 200
  except httpx.HTTPError:
    return False


def fake_job(jobs, workdir, size, ended_hours_ago=None):
  """A custom job whose folder holds `size` bytes: finished `ended_hours_ago`, else running under a worker of
  another host with a long lease (the site's own worker leaves it alone)."""
  token = jobs.reserve("custom", 1000, "127.0.0.1")
  os.makedirs(site_files.job_dir(workdir, token))
  with open(os.path.join(site_files.job_dir(workdir, token), site_files.CONTENT), "wb") as f:
    f.write(os.urandom(size))
  jobs.submit(token, {"method": "gatys", "size": 64})
  assert jobs.claim("elsewhere-1", 3600).token == token
  if ended_hours_ago is not None:
    jobs.finish(token, "elsewhere-1", {"seconds": 1.0})
    with queue_lib.connect(jobs.path) as db:
      db.execute("UPDATE jobs SET finished = ? WHERE token = ?", (time.time() - 3600 * ended_hours_ago, token))
  return token


@pytest.mark.slow
def test_retention_removes_the_oldest_finished_jobs_past_the_quota_and_keeps_running_ones(config, workdir):
  jobs = queue_lib.JobQueue(site_files.database(workdir))
  album = gallery_lib.Gallery(site_files.database(workdir), site_files.gallery_dir(workdir))
  kb = 1000
  # 1000 kB allowed; 6 finished jobs of 200 kB (the oldest 40 days ago, past keep_days) and 2 running of 300 kB.
  finished = [fake_job(jobs, workdir, 200 * kb, hours) for hours in (40 * 24, 6, 5, 4, 3, 2)]
  running = [fake_job(jobs, workdir, 300 * kb) for _ in range(2)]
  stray = site_files.job_dir(workdir, "no-such-job")
  os.makedirs(stray)
  items = [album.add(images.at_most(images.read_rgb(os.path.join(ROOT, "stylejax", "assets", "chelsea.jpg")), 32),
                     f"item {i}")[0] for i in range(5)]
  url = f"http://127.0.0.1:{config.port}"
  with open(workdir + ".log", "w") as log:
    server = subprocess.Popen([sys.executable, "run.py", "--config", "configs/web.py:tiny", "--workdir", workdir,
                               f"--config.port={config.port}", "--config.models_dir=/nonexistent",
                               f"--config.retention.max_job_bytes={1000 * kb}", "--config.retention.keep_days=30",
                               "--config.retention.max_gallery_items=3", "--config.retention.every_seconds=1"],
                              cwd=ROOT, stdout=log, stderr=log)
  try:
    wait_for(lambda: server.poll() is not None or answers(url + "/gallery"), 120, "the site to answer")
    assert server.poll() is None  # it answers, so the start's sweep has run (before it serves)
    gone, kept = finished[:4], finished[4:] + running  # past keep_days, then the oldest until 1000 kB remain
    assert [os.path.isdir(site_files.job_dir(workdir, token)) for token in finished + running + [stray]] == \
        [False] * 4 + [True] * 4 + [False]
    for token in gone:
      response = httpx.get(f"{url}/jobs/{token}/status", timeout=5)
      assert response.status_code == 404 and "finished jobs are kept 30 days" in response.json()["error"]
    assert [httpx.get(f"{url}/jobs/{token}/status", timeout=5).json()["state"] for token in kept] == \
        ["done"] * 2 + ["running"] * 2
    assert [item_id for item_id, _ in album.oldest_first()] == items[2:]  # the gallery is capped at 3

    later = fake_job(jobs, workdir, 400 * kb, 0)  # the periodic sweep: 1400 kB, the two oldest finished go
    shared = httpx.post(url + "/gallery", files={"image": ("p.png", png())}, data=FORM["data"],
                        headers={**FORM["headers"], "Accept": "text/html"}, timeout=30)
    assert shared.status_code == 200  # the site still works, and its new item displaces the oldest
    wait_for(lambda: len(jobs.finished()) == 1 and len(album.oldest_first()) == 3, 30, "the periodic sweep")
    assert [token for token, _ in jobs.finished()] == [later] and jobs.get(running[0]).state == queue_lib.RUNNING
    assert os.path.getsize(os.path.join(site_files.job_dir(workdir, running[1]), site_files.CONTENT)) == 300 * kb
    assert [item_id for item_id, _ in album.oldest_first()][:2] == items[3:]
    assert httpx.get(url + "/gallery", timeout=5).status_code == 200
  finally:
    server.send_signal(signal.SIGINT)
    server.wait(60)
