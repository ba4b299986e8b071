"""Soak benchmark of the website: mixed traffic for a long time with the worker killed, nothing lost, memory flat.

  python experiments/soak_web.py --minutes 20 --clients 16 [--kills 2 --out experiments/results/web_soak]

Starts `run.py --config configs/web.py:tiny` (bench_web.start_site) on loopback
with its mail going to an SMTP server in this process (aiosmtpd), loopback as
a trusted proxy and each visitor with its own X-Forwarded-For address (so the
default rate limit, 20 submissions a minute per address, applies to each),
and retention limits small enough to act during the run. `--clients`
visitors (threads of this process, bench_web.Client) then loop for
`--minutes`, each time choosing, with a pause of 0.2-1 s between:

  online (55 %): a photo (512x341 or 384x256) with one of the two bundled models: submit, open the job page, poll
                 its status as the page does, download the result; one time in ten add it to the gallery;
  gallery (25 %): the first gallery page, sometimes the next, and the thumbnails on them;
  upload (8 %): a 320-px picture to the gallery;
  custom (6 %): a gatys:tiny or luan:tiny job at 64 px with a new e-mail address: submit, watch its page for up to
                10 s, then leave (the mail brings the result; a watcher thread polls every job left like that).

A refusal (429, 503) is deliberate: the visitor waits its Retry-After. A 404
for a gallery thumbnail whose item the gallery's cap removed after the page
listed it is counted apart ("gone"). Everything else that is not the
expected answer is an error. The worker is killed with -9 `--kills` times,
evenly spread. After the traffic every accepted job is waited for
(`--drain` seconds at most) and the mail settles. Reports p50/p99 latencies
per request kind, errors, jobs lost (accepted, never done or failed), failed
jobs, duplicate and missing mails, and the resident memory of the server and
worker; writes soak.json and soak.md into --out.
"""

import argparse
import collections
import json
import os
import random
import re
import signal
import tempfile
import threading
import time
import traceback

import httpx2 as httpx
from aiosmtpd.controller import Controller

import bench_web
from stylejax.web import site_files

ACTIONS = {"online": 0.60, "browse": 0.28, "upload": 0.06, "custom": 0.06}
REFUSALS = (429, 503)
MODELS = ("starry_night", "grace_hopper")
RETRY_MAIL_S = 5.0


class Inbox:
  """aiosmtpd handler: how many mails each address received."""

  def __init__(self):
    self.received = collections.Counter()

  async def handle_DATA(self, server, session, envelope):
    self.received.update(envelope.rcpt_tos)
    return "250 OK"


class Tally:
  """What the visitors saw, shared between their threads."""

  def __init__(self):
    self.lock = threading.RLock()
    self.latencies = collections.defaultdict(list)  # request kind -> seconds of its expected answers
    self.refused = collections.Counter()  # "kind status"
    self.errors = collections.Counter()  # "kind what"
    self.gone = collections.Counter()
    self.examples = []  # the first error messages
    self.jobs = {}  # token -> {"kind", "email", "state"}: every accepted job and the last state seen

  def latency(self, kind, seconds):
    with self.lock:
      self.latencies[kind].append(seconds)

  def error(self, kind, what, detail=""):
    with self.lock:
      self.errors[f"{kind} {what}"] += 1
      if len(self.examples) < 20:
        self.examples.append(f"{time.strftime('%H:%M:%S')} {kind} {what}: {detail[:300]}")

  def job(self, token, **fields):
    with self.lock:
      self.jobs.setdefault(token, {}).update(fields)

  def open_jobs(self):
    with self.lock:
      return [job for job, seen in self.jobs.items() if seen["state"] not in ("done", "failed")]

  def ended(self, job, state, message=""):
    """Notes the end of a job (once, whoever sees it): its state, and its time from submission to the end seen."""
    with self.lock:
      seen = self.jobs[job]
      if seen["state"] in ("done", "failed"):
        return
      seen["state"] = state
      if state == "done":
        self.latency(f"{seen['kind']} job (submit to done)", time.perf_counter() - seen["submitted"])
      else:
        self.error(f"{seen['kind']} job", state, f"{job}: {message}")


class Visitor:
  """One client of the soak: its own cookies, CSRF token and X-Forwarded-For address."""

  def __init__(self, url, number, tally, pictures, rng):
    address = f"10.1.{number // 250}.{number % 250 + 1}"
    self.client = bench_web.Client(url, headers={"X-Forwarded-For": address})
    self.url, self.number, self.tally, self.pictures, self.rng = url, number, tally, pictures, rng
    self.customs, self.retry_after = 0, 0

  def request(self, kind, method, path, expected=200, gone_ok=False, **kwargs):
    """The response if it is the expected answer, else None (a refusal, a gone item or an error is counted);
    its latency counts under `kind` when expected."""
    start = time.perf_counter()
    try:
      response = self.client.http.request(method, self.url + path, **kwargs)
    except httpx.HTTPError as e:
      self.tally.error(kind, type(e).__name__, str(e))
      return None
    seconds = time.perf_counter() - start
    if response.status_code == expected:
      self.tally.latency(kind, seconds)
      return response
    if response.status_code in REFUSALS:
      with self.tally.lock:
        self.tally.refused[f"{kind} {response.status_code}"] += 1
      self.retry_after = float(response.headers.get("retry-after", 1))
    elif response.status_code == 404 and gone_ok:
      with self.tally.lock:
        self.tally.gone[kind] += 1
    else:
      self.tally.error(kind, response.status_code, response.text)
    return None

  def submit(self, kind, path, files, data):
    """The accepted job's path (/jobs/TOKEN) after opening its page as a browser does, else None."""
    response = self.request(f"POST {path}", "POST", path, 303, files=files, data={"csrf": self.client.csrf, **data})
    if response is None:
      return None
    job = response.headers["location"]
    self.tally.job(job, kind=kind, email=data.get("email", ""), state="accepted", submitted=time.perf_counter())
    self.request("GET job page", "GET", job)
    return job

  def follow(self, job, timeout):
    """The job's final status if it was done within `timeout` s, waited for as its page does; None if it failed
    or an error came (counted), or it is still running (left to the watcher)."""
    try:
      status = self.client.wait(job, 0.15, timeout, lambda seconds, code: self.tally.latency("GET status", seconds),
                                1.0)
    except TimeoutError:
      return None
    except (httpx.HTTPError, RuntimeError) as e:
      self.tally.error("GET status", type(e).__name__, f"{job}: {e}")
      return None
    self.tally.ended(job, status["state"], status.get("message"))
    return status if status["state"] == "done" else None

  def online(self):
    started = time.perf_counter()
    job = self.submit("online", "/stylize", {"photo": ("photo.jpg", self.rng.choice(self.pictures["photos"]))},
                      {"model": self.rng.choice(MODELS), "strength": "1.0"})
    status = job and self.follow(job, 600)
    if status and self.request("GET result", "GET", status["files"]["result.png"]):
      self.tally.latency("online job (submit to downloaded)", time.perf_counter() - started)
      if self.rng.random() < 0.1:
        self.request("POST share", "POST", job + "/share", data={"csrf": self.client.csrf})

  def custom(self):
    self.customs += 1
    email = f"v{self.number}-{self.customs}@example.org"
    job = self.submit("custom", "/custom", {"content": ("c.jpg", self.pictures["content"]),
                                            "style": ("s.jpg", self.pictures["style"])},
                      {"method": self.rng.choice(("gatys", "luan")), "size": "64", "email": email})
    if job:
      self.follow(job, 10)

  def browse(self):
    page = self.request("GET /gallery", "GET", "/gallery")
    pages = [page] if page else []
    if page and 'page=2"' in page.text and self.rng.random() < 0.5:
      pages.append(self.request("GET /gallery", "GET", "/gallery?page=2", gone_ok=True))
    for thumb in [path for page in pages if page for path in re.findall(r'/gallery/[\w-]+/thumb', page.text)]:
      self.request("GET thumb", "GET", thumb, gone_ok=True)

  def upload(self):
    self.request("POST /gallery", "POST", "/gallery", files={"image": ("p.jpg", self.pictures["upload"])},
                 data={"csrf": self.client.csrf, "title": f"soak {self.number}"})

  def run(self, until):
    while time.monotonic() < until:
      self.retry_after = 0
      action = self.rng.choices(list(ACTIONS), list(ACTIONS.values()))[0]
      try:
        getattr(self, action)()
      except Exception as e:  # an answer this script did not expect: an error, and the visitor goes on
        self.tally.error(action, type(e).__name__, traceback.format_exc())
      pause = self.retry_after or self.rng.uniform(0.2, 1.0)
      time.sleep(max(0.0, min(pause, until - time.monotonic())))


def health(url):
  try:
    return httpx.get(url + "/health", timeout=10).json()
  except (httpx.HTTPError, ValueError):
    return None


def kill_worker(url, workdir):
  """Kills the worker with -9; returns what it was doing and how long until /health was ok again."""
  while not (before := health(url) or {}).get("ok"):  # a worker runs (not between a death and a restart)
    time.sleep(0.2)
  pid = site_files.worker_pid(workdir)
  os.kill(pid, signal.SIGKILL)
  killed = time.monotonic()
  time.sleep(0.5)
  while not (health(url) or {}).get("ok"):
    time.sleep(0.2)
  return {"at": time.strftime("%H:%M:%S"), "online_pending": before.get("online_pending"),
          "custom_pending": before.get("custom_pending"), "back_after_s": round(time.monotonic() - killed, 1)}


def watch(url, tally, until, every=2.0):
  """Polls every accepted job whose end no visitor saw (custom jobs their visitor left) every `every` s until
  `until()` is true; returns the jobs still not done or failed then. A job whose status is not there any more
  stays open (it is lost)."""
  with httpx.Client(timeout=30) as http:
    while True:
      for job in tally.open_jobs():
        try:
          status = http.get(url + job + "/status").json()
        except (httpx.HTTPError, ValueError):
          continue
        if status.get("state") in ("done", "failed"):
          tally.ended(job, status["state"], status.get("message"))
      if until():
        return tally.open_jobs()
      time.sleep(every)


def settle_mail(inbox, tally, seconds):
  """Waits until every finished custom job's address got mail (or `seconds`), then a little for duplicates;
  returns (duplicates, missing addresses)."""
  wanted = {seen["email"] for seen in tally.jobs.values() if seen["email"] and seen["state"] in ("done", "failed")}
  deadline = time.monotonic() + seconds
  while wanted - set(inbox.received) and time.monotonic() < deadline:
    time.sleep(0.5)
  time.sleep(2 * RETRY_MAIL_S)  # a duplicate would arrive by now
  duplicates = sum(count - 1 for count in inbox.received.values())
  return duplicates, sorted(wanted - set(inbox.received))


def worker_deaths(workdir):
  """The exit codes of every worker death the server saw (from its log), the soak's kills included."""
  with open(os.path.join(workdir, "server.log"), errors="replace") as f:
    return [int(code) for code in re.findall(r"worker \d+ stopped \(exit code (-?\d+)\)", f.read())]


def pictures():
  with open(bench_web.PHOTO, "rb") as f:
    content = f.read()
  with open(bench_web.STYLE, "rb") as f:
    style = f.read()
  return {"photos": [bench_web.jpeg(512, 341), bench_web.jpeg(384, 256)], "content": content, "style": style,
          "upload": bench_web.jpeg(320, 213)}


def summarize(tally, memory, kills, lost, duplicates, missing, deaths, args, minutes):
  def stats(values):
    return {"count": len(values), "p50_s": round(bench_web.percentile(values, 50), 3),
            "p99_s": round(bench_web.percentile(values, 99), 3)}

  accepted = collections.Counter(seen["kind"] for seen in tally.jobs.values())
  failed = [job for job, seen in tally.jobs.items() if seen["state"] == "failed"]
  warm = min(60.0, minutes * 60 / 10)
  return {
      "minutes": minutes, "clients": args.clients, "machine": f"{os.cpu_count()}-core CPU, loopback",
      "latency": {kind: stats(values) for kind, values in sorted(tally.latencies.items())},
      "refused": dict(tally.refused), "gone": dict(tally.gone), "errors": dict(tally.errors),
      "error_examples": tally.examples, "accepted_jobs": dict(accepted), "jobs_lost": lost, "jobs_failed": failed,
      "mails": {"expected": sum(1 for seen in tally.jobs.values() if seen["email"]), "duplicates": duplicates,
                "missing": missing},
      "kills": kills, "worker_deaths": deaths,
      "memory": {name: {**summary, "after_warmup_mb": memory.at(name, warm), "warmup_s": warm}
                 for name, summary in memory.summary().items()},
  }


def table(results):
  lines = ["| request | count | p50 | p99 |", "|---|---|---|---|"]
  lines += [f"| {kind} | {s['count']} | {s['p50_s']:.3f} s | {s['p99_s']:.3f} s |"
            for kind, s in results["latency"].items()]
  server, worker = results["memory"]["server"], results["memory"].get("worker", {})
  lines += ["", "| measure | value |", "|---|---|",
            f"| accepted jobs | {results['accepted_jobs']} |",
            f"| deliberate refusals | {results['refused'] or 0} |",
            f"| gallery items gone between listing and fetching (cap) | {results['gone'] or 0} |",
            f"| errors other than deliberate refusals | {sum(results['errors'].values())} {results['errors'] or ''} |",
            f"| jobs lost (accepted, never done or failed) | {len(results['jobs_lost'])} |",
            f"| jobs failed | {len(results['jobs_failed'])} |",
            f"| mails expected / duplicates / missing | {results['mails']['expected']} / "
            f"{results['mails']['duplicates']} / {len(results['mails']['missing'])} |",
            f"| worker deaths other than the kills (exit codes of all deaths) | "
            f"{len(results['worker_deaths']) - len(results['kills'])} ({results['worker_deaths']}) |",
            "| worker kills (-9): pending at the kill, /health ok again after | "
            + "; ".join(f"{k['online_pending']} online + {k['custom_pending']} custom, {k['back_after_s']} s"
                        for k in results["kills"]) + " |",
            f"| server RSS: start / after {server['warmup_s']:.0f} s / peak / end | {server['start_mb']:.0f} / "
            f"{server['after_warmup_mb']:.0f} / {server['peak_mb']:.0f} / {server['end_mb']:.0f} MB |"]
  if worker:
    lines.append(f"| worker RSS (restarted at each kill): start / peak / end | {worker['start_mb']:.0f} / "
                 f"{worker['peak_mb']:.0f} / {worker['end_mb']:.0f} MB |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default="experiments/results/web_soak")
  parser.add_argument("--minutes", type=float, default=20)
  parser.add_argument("--clients", type=int, default=16)
  parser.add_argument("--kills", type=int, default=2)
  parser.add_argument("--drain", type=float, default=600, help="seconds to wait for the accepted jobs at the end")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  load_start = os.getloadavg()  # the machine is shared: how busy it was besides this run
  inbox = Inbox()
  smtp = Controller(inbox, hostname="127.0.0.1", port=bench_web.free_port())
  smtp.start()
  port = bench_web.free_port()
  url, workdir = f"http://127.0.0.1:{port}", tempfile.mkdtemp(prefix="soak_web_")
  server = bench_web.start_site(
      workdir, port, "--config.smtp.host=127.0.0.1", f"--config.smtp.port={smtp.port}", "--config.smtp.security=none",
      f"--config.smtp.retry_seconds={RETRY_MAIL_S}", "--config.trusted_proxies=127.0.0.1",
      "--config.retention.max_job_bytes=200000000", "--config.retention.max_gallery_items=100",
      "--config.retention.every_seconds=10")
  memory, tally, kills = bench_web.Memory(server.pid, workdir), Tally(), []
  try:
    bench_web.wait_until_up(url, server)
    memory.start()
    start = time.monotonic()
    until = start + args.minutes * 60
    rng = random.Random(args.seed)
    visitors = [Visitor(url, number, tally, pictures(), random.Random(rng.random())) for number in range(args.clients)]
    threads = [threading.Thread(target=visitor.run, args=(until,), daemon=True) for visitor in visitors]
    traffic_over = threading.Event()
    watcher = threading.Thread(target=watch, args=(url, tally, traffic_over.is_set), daemon=True)
    for thread in threads + [watcher]:
      thread.start()
    for k in range(args.kills):
      time.sleep(max(0.0, start + (k + 1) * (until - start) / (args.kills + 1) - time.monotonic()))
      kills.append(kill_worker(url, workdir))
      print(f"killed the worker: {kills[-1]}", flush=True)
    for thread in threads:
      thread.join()
    minutes = (time.monotonic() - start) / 60
    traffic_over.set()
    watcher.join()
    deadline = time.monotonic() + args.drain
    lost = watch(url, tally, lambda: not tally.open_jobs() or time.monotonic() > deadline)
    duplicates, missing = settle_mail(inbox, tally, 120)
  finally:
    memory.done.set()
    server.send_signal(signal.SIGINT)
    server.wait(60)
    smtp.stop()
  results = summarize(tally, memory, kills, lost, duplicates, missing, worker_deaths(workdir), args, minutes)
  results["workdir"], results["load_average"] = workdir, {"start": load_start, "end": os.getloadavg()}
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "soak.json"), "w") as f:
    json.dump(results, f, indent=2)
  load = results["load_average"]
  text = (f"{args.clients} clients for {minutes:.1f} min on a {results['machine']} (clients, server and worker "
          f"sharing it; 1-minute load average {load['start'][0]:.1f} before the run, {load['end'][0]:.1f} after), "
          f"the worker killed with -9 {len(kills)} times.\n\n{table(results)}\n")
  with open(os.path.join(args.out, "soak.md"), "w") as f:
    f.write(text)
  print(text)
  for example in results["error_examples"]:
    print(example)


if __name__ == "__main__":
  main()
