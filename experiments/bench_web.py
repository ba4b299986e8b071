"""Load benchmark of the website on loopback: online stylisation latency, refusals, custom-job throughput, memory.

  python experiments/bench_web.py --out experiments/results/web_bench [--requests 200 --clients 8]

Starts `run.py --config configs/web.py:tiny` (custom jobs: gatys:tiny at 64 px)
with the default online limits and a rate limit high enough for one address to
send everything, then:
  1. single requests: a 1-megapixel photo (1280x800) and a 512-px photo with the bundled artistic model, one at
     a time;
  2. `--requests` online stylisations of a 512-px photo from `--clients` concurrent clients, each submitting,
     polling the job's status and downloading the result, as the page does; a refusal (503/429 with
     Retry-After) is counted and the client waits as told;
  3. `--custom` tiny custom jobs submitted at once, timed until the last is done;
while sampling the resident memory of the server and its worker; then, on a second site whose custom jobs use
the full `gatys` preset at 256 px, `--beside` 512-px photos one at a time while such a job compiles and runs (the
worker's online lane). Writes bench.json and bench.md into --out.

  python experiments/bench_web.py --video CLIP --out experiments/results/web_bench_video

measures only video jobs instead: CLIP through the site's /video form with each of --video-models (the universal
network with the bundled grace_hopper.jpg as its style photo), one at a time, from submission to the downloaded
result, on a site with the default video settings (clips up to 10 s, shrunk to 1280 px). Writes video.json and
video.md.
"""

import argparse
import concurrent.futures
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx2 as httpx
from PIL import Image

from stylejax.web import site_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "stylejax", "assets", "chelsea.jpg")
STYLE = os.path.join(ROOT, "stylejax", "assets", "starry_night.jpg")
CSRF_COOKIE = "stylejax_csrf"


def jpeg(width, height):
  buffer = io.BytesIO()
  Image.open(PHOTO).convert("RGB").resize((width, height), Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
  return buffer.getvalue()


def rss_mb(pid):
  try:
    with open(f"/proc/{pid}/status") as f:
      return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
  except (OSError, StopIteration):
    return None


class Memory(threading.Thread):
  """Samples the RSS (MB) of the server and its worker (found by the site's worker.pid file) every half second, as
  (seconds since the start, MB)."""

  def __init__(self, server_pid, workdir):
    super().__init__(daemon=True)
    self.server_pid, self.workdir = server_pid, workdir
    self.samples, self.done = {"server": [], "worker": []}, threading.Event()
    self.started = time.monotonic()

  def run(self):
    self.started = time.monotonic()
    while not self.done.wait(0.5):
      worker_pid = site_files.worker_pid(self.workdir)
      for name, pid in (("server", self.server_pid), ("worker", worker_pid)):
        value = rss_mb(pid) if pid else None
        if value:
          self.samples[name].append((time.monotonic() - self.started, value))

  def at(self, name, seconds):
    """The first sample of `name` taken `seconds` or later after the start (the last one if none was)."""
    samples = self.samples[name]
    return next((value for when, value in samples if when >= seconds), samples[-1][1])

  def summary(self):
    return {name: {"start_mb": samples[0][1], "peak_mb": max(value for _, value in samples),
                   "end_mb": samples[-1][1]}
            for name, samples in self.samples.items() if samples}


class Client:
  """One visitor: a cookie jar with the CSRF token, submitting and waiting like the job page. `headers` go with
  every request (the soak gives each visitor its own X-Forwarded-For)."""

  def __init__(self, url, headers=None):
    self.url, self.http = url, httpx.Client(timeout=120, headers=headers)
    self.http.get(url + "/stylize")
    self.csrf = self.http.cookies[CSRF_COOKIE]

  def submit(self, path, files, data):
    response = self.http.post(self.url + path, files=files, data={"csrf": self.csrf, **data})
    return response, (response.headers["location"] if response.status_code == 303 else None)

  def wait(self, job, poll=0.02, timeout=None, on_status=None, max_poll=None):
    """The job's last status once it is done or failed; a TimeoutError after `timeout` seconds. Polls every `poll`
    seconds, or (with `max_poll`, as the job page does) from `poll` growing by half each time up to `max_poll`;
    each status answer's (seconds taken, HTTP status) goes to `on_status` if given."""
    deadline = time.monotonic() + timeout if timeout else None
    while True:
      start = time.perf_counter()
      response = self.http.get(self.url + job + "/status")
      if on_status:
        on_status(time.perf_counter() - start, response.status_code)
      status = response.json()
      if status.get("state") in ("done", "failed"):
        return status
      if "state" not in status:
        raise RuntimeError(f"{job}/status answered {response.status_code}: {status}")
      if deadline and time.monotonic() > deadline:
        raise TimeoutError(f"{job} still {status['state']} after {timeout} s")
      time.sleep(poll)
      poll = min(poll * 1.5, max_poll) if max_poll else poll

  def stylize(self, photo):
    """(HTTP status, seconds from submission to the downloaded result, retry-after)."""
    start = time.perf_counter()
    response, job = self.submit("/stylize", {"photo": ("photo.jpg", photo)}, {"model": "starry_night"})
    if job is None:
      return response.status_code, None, float(response.headers.get("retry-after", 1))
    status = self.wait(job)
    assert status["state"] == "done", status
    self.http.get(self.url + status["files"]["result.png"]).raise_for_status()
    return 200, time.perf_counter() - start, None


def free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start_site(workdir, port, *overrides):
  """`run.py --config configs/web.py:tiny` on `port` with config `overrides`, its stderr in WORKDIR/server.log."""
  with open(os.path.join(workdir, "server.log"), "w") as log:
    return subprocess.Popen([sys.executable, "run.py", "--config", "configs/web.py:tiny", "--workdir", workdir,
                             f"--config.port={port}", *overrides], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)


def wait_until_up(url, server, seconds=120):
  """Returns once the site answers /health (200 or 503); a RuntimeError if its process ended or it never did."""
  deadline = time.monotonic() + seconds
  while time.monotonic() < deadline and server.poll() is None:
    try:
      httpx.get(url + "/health", timeout=1)
      return
    except httpx.HTTPError:
      time.sleep(0.1)
  raise RuntimeError(f"the site at {url} did not answer (exit code {server.poll()})")


def percentile(values, q):
  values = sorted(values)
  return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def online_load(url, photo, requests, clients):
  latencies, refusals, errors = [], {}, {}
  remaining = iter(range(requests))
  lock = threading.Lock()

  def visitor():
    client = Client(url)
    while True:
      with lock:
        if next(remaining, None) is None:
          return
      code, seconds, retry_after = client.stylize(photo)
      with lock:
        if seconds is not None:
          latencies.append(seconds)
        elif code in (429, 503):
          refusals[code] = refusals.get(code, 0) + 1
        else:
          errors[code] = errors.get(code, 0) + 1
      if retry_after:
        time.sleep(retry_after)

  start = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    for future in [pool.submit(visitor) for _ in range(clients)]:
      future.result()
  wall = time.perf_counter() - start
  return {"requests": requests, "clients": clients, "completed": len(latencies), "refused": refusals,
          "errors": errors, "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
          "max_s": max(latencies), "wall_s": wall, "completed_per_s": len(latencies) / wall}


def custom_throughput(url, jobs):
  client = Client(url)
  with open(PHOTO, "rb") as f:
    content = f.read()
  with open(STYLE, "rb") as f:
    style = f.read()
  start = time.perf_counter()
  tokens = [client.submit("/custom", {"content": ("c.jpg", content), "style": ("s.jpg", style)},
                          {"method": "gatys", "size": 64})[1] for _ in range(jobs)]
  states = [client.wait(token, 0.1)["state"] for token in tokens]
  wall = time.perf_counter() - start
  return {"jobs": jobs, "done": states.count("done"), "wall_s": wall, "jobs_per_min": 60 * jobs / wall}


def beside_custom(photo, requests):
  """`requests` photos one at a time, each from submission to the downloaded result, while a custom job (the full
  gatys preset at 256 px, submitted first) compiles and runs, on a site of its own: {p50_s, max_s, runs, the
  custom job's state and step at the end}."""
  port = free_port()
  url = f"http://127.0.0.1:{port}"
  server = start_site(tempfile.mkdtemp(prefix="bench_web_beside_"), port, "--config.custom.gatys=gatys",
                      "--config.custom.sizes=(256,)", "--config.limits.submissions_per_minute=100000")
  try:
    wait_until_up(url, server)
    client = Client(url)
    client.stylize(photo)  # the model loaded and this size compiled, as on a site that has served it before
    with open(PHOTO, "rb") as f, open(STYLE, "rb") as g:
      job = client.submit("/custom", {"content": ("c.jpg", f.read()), "style": ("s.jpg", g.read())},
                          {"method": "gatys", "size": 256})[1]
    def status():
      return client.http.get(url + job + "/status").json()

    while status()["state"] != "running":
      time.sleep(0.05)
    preparing = [client.stylize(photo)[1] for _ in range(requests // 2)]  # while the job compiles
    while status()["step"] == 0:
      time.sleep(0.05)
    stepping = [client.stylize(photo)[1] for _ in range(requests - requests // 2)]  # while it takes steps
    custom = status()
  finally:
    server.send_signal(signal.SIGINT)
    server.wait(60)
  runs = preparing + stepping
  return {"p50_s": statistics.median(runs), "max_s": max(runs), "preparing": preparing, "stepping": stepping,
          "stepping_p50_s": statistics.median(stepping), "custom_state": custom["state"],
          "custom_step": custom["step"], "custom_total": custom["total"]}


def video_jobs(clip, models):
  """Each of `models` on `clip` through the site's /video form, one at a time on a site of its own: {model:
  {wall_s (submit to downloaded result), worker_s, frames, fps (frames / wall_s)}}."""
  port = free_port()
  url = f"http://127.0.0.1:{port}"
  workdir = tempfile.mkdtemp(prefix="bench_web_video_")
  server = start_site(workdir, port, "--config.video.chunk=32", "--config.video.batch_size=4")
  results = {}
  try:
    wait_until_up(url, server)
    client = Client(url)
    with open(clip, "rb") as f:
      data = f.read()
    with open(os.path.join(ROOT, "stylejax", "assets", "grace_hopper.jpg"), "rb") as f:
      style = f.read()
    for model in models:
      start = time.perf_counter()
      files = {"clip": (os.path.basename(clip), data), **({"style": ("style.jpg", style)} if model == "universal"
                                                           else {})}
      _, job = client.submit("/video", files, {"model": model})
      status = client.wait(job, 0.2)
      assert status["state"] == "done", status
      client.http.get(url + status["video"]).raise_for_status()
      wall = time.perf_counter() - start
      results[model] = {"wall_s": wall, "worker_s": status["seconds"], "frames": status["total"],
                        "fps": status["total"] / wall}
  finally:
    server.send_signal(signal.SIGINT)
    server.wait(60)
  return results


def write_video_results(out, clip, results):
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "video.json"), "w") as f:
    json.dump({"clip": os.path.basename(clip), "machine": f"{os.cpu_count()}-core CPU, loopback", **results}, f,
              indent=2)
  table = "\n".join(["| model | frames | submit → downloaded result | the worker's time | frames per second |",
                     "|---|---|---|---|---|",
                     *(f"| {model} | {r['frames']} | {r['wall_s']:.1f} s | {r['worker_s']:.1f} s | {r['fps']:.2f} |"
                       for model, r in results.items())])
  with open(os.path.join(out, "video.md"), "w") as f:
    f.write(f"`{os.path.basename(clip)}` through the site's /video form on a {os.cpu_count()}-core CPU.\n\n{table}\n")
  print(table)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default="experiments/results/web_bench")
  parser.add_argument("--requests", type=int, default=200)
  parser.add_argument("--clients", type=int, default=8)
  parser.add_argument("--single", type=int, default=5, help="1-megapixel requests, one at a time")
  parser.add_argument("--custom", type=int, default=6, help="tiny custom jobs")
  parser.add_argument("--max-pending", type=int, default=0, help="online.max_pending (0: the site's default)")
  parser.add_argument("--beside", type=int, default=10, help="512-px requests while a custom job runs")
  parser.add_argument("--video", default="", help="a clip: measure only video jobs with it")
  parser.add_argument("--video-models", default="starry_night,grace_hopper,universal")
  args = parser.parse_args()
  if args.video:
    write_video_results(args.out, args.video, video_jobs(args.video, args.video_models.split(",")))
    return
  port = free_port()
  url = f"http://127.0.0.1:{port}"
  workdir = tempfile.mkdtemp(prefix="bench_web_")
  server = start_site(workdir, port, "--config.limits.submissions_per_minute=100000", "--config.limits.max_queue=100",
                      *([f"--config.online.max_pending={args.max_pending}"] if args.max_pending else []))
  memory = Memory(server.pid, workdir)
  try:
    wait_until_up(url, server)
    memory.start()
    client = Client(url)
    megapixel, small = jpeg(1280, 800), jpeg(512, 341)
    client.stylize(megapixel), client.stylize(small)  # the worker loads the model and compiles both sizes
    single = [client.stylize(megapixel)[1] for _ in range(args.single)]
    alone = [client.stylize(small)[1] for _ in range(args.single)]
    results = {"single_1mp": {"p50_s": statistics.median(single), "runs": single},
               "single_512px": {"p50_s": statistics.median(alone), "runs": alone},
               "online_512px": online_load(url, small, args.requests, args.clients),
               "custom_tiny": custom_throughput(url, args.custom)}
  finally:
    memory.done.set()
    server.send_signal(signal.SIGINT)
    server.wait(60)
  results["memory"] = memory.summary()
  results["beside_custom_512px"] = beside_custom(small, args.beside)
  results["machine"] = f"{os.cpu_count()}-core CPU, loopback"
  results["online_max_pending"] = args.max_pending or "default (4)"
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "bench.json"), "w") as f:
    json.dump(results, f, indent=2)
  online, custom, mem = results["online_512px"], results["custom_tiny"], results["memory"]
  beside = results["beside_custom_512px"]
  table = "\n".join([
      "| measure | value |", "|---|---|",
      f"| 1-MP photo, one at a time: p50 (submit → result downloaded) | {results['single_1mp']['p50_s']:.2f} s |",
      f"| 512-px photo, one at a time: p50 | {results['single_512px']['p50_s']:.2f} s |",
      f"| 512-px photo, one at a time while a custom job (gatys, 256 px) compiles and runs: p50 / max | "
      f"{beside['p50_s']:.2f} s / {beside['max_s']:.2f} s (p50 {beside['stepping_p50_s']:.2f} s of those while "
      f"it took steps; the job {beside['custom_state']} at step {beside['custom_step']} of "
      f"{beside['custom_total']} by the last) |",
      f"| 512-px photo, {online['clients']} clients, {online['requests']} requests, online.max_pending "
      f"{results['online_max_pending']}: p50 / p95 | "
      f"{online['p50_s']:.2f} s / {online['p95_s']:.2f} s |",
      f"| completed / refused (503 busy, 429 rate) / other errors | {online['completed']} / "
      f"{online['refused'].get(503, 0)}, {online['refused'].get(429, 0)} / {sum(online['errors'].values())} |",
      f"| completed per second | {online['completed_per_s']:.2f} |",
      f"| {custom['jobs']} tiny custom jobs (gatys:tiny, 64 px) | {custom['jobs_per_min']:.1f} jobs/min |",
      *(f"| {name} memory: start / peak / end | {m['start_mb']:.0f} / {m['peak_mb']:.0f} / {m['end_mb']:.0f} MB |"
        for name, m in mem.items())])
  with open(os.path.join(args.out, "bench.md"), "w") as f:
    f.write(f"Measured on a {results['machine']}.\n\n{table}\n")
  print(table)


if __name__ == "__main__":
  main()
