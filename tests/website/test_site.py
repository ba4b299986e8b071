"""The whole site as users get it: `run.py --config configs/web.py` in its own process, driven by a headless
Chromium (Playwright with Debian's `chromium`), mail caught by aiosmtpd, and the processes killed with -9.

Set STYLEJAX_SCREENSHOTS=DIR to keep the browser's screenshots (README's come from
experiments/results/web).
"""

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx2 as httpx
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from stylejax.web import app as app_lib, queue as queue_lib, site_files
from tests.helpers import ROOT, free_port
from tests.video import clips
from tests.website.support import alive, wait_for

pytestmark = pytest.mark.slow  # run.py processes killed with -9, a real browser

PHOTO = os.path.join(ROOT, "stylejax", "assets", "chelsea.jpg")
STYLE = os.path.join(ROOT, "stylejax", "assets", "starry_night.jpg")
STYLE_PHOTO = os.path.join(ROOT, "stylejax", "assets", "coffee.jpg")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]


class Site:
  """`python run.py --config configs/web.py:tiny` on a free port, mail to `inbox`."""

  def __init__(self, workdir, inbox, *overrides):
    self.workdir, self.port = workdir, free_port()
    self.url = f"http://127.0.0.1:{self.port}"
    self.command = [sys.executable, "run.py", "--config", "configs/web.py:tiny", "--workdir", workdir,
                    f"--config.port={self.port}", "--config.smtp.host=127.0.0.1", f"--config.smtp.port={inbox.port}",
                    "--config.smtp.security=none", *overrides]
    self.process = None

  def start(self):
    log = open(os.path.join(self.workdir + ".log"), "a")
    self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=log, stderr=log)
    wait_for(lambda: self.health() is not None, 120, "the site to answer")
    return self

  def health(self):
    """/health's JSON (also when it answers 503), or None while the server does not answer."""
    try:
      return httpx.get(f"{self.url}/health", timeout=2).json()
    except httpx.HTTPError:
      return None

  def worker_pid(self):
    """The pid of the site's worker process (None while there is none)."""
    return site_files.worker_pid(self.workdir)

  def stop(self):
    if self.process.poll() is None:
      self.process.send_signal(signal.SIGINT)  # Ctrl-C
      self.process.wait(60)
    return self.process.returncode


def submit_custom(site, client, address):
  client.get(site.url + "/custom")
  with open(PHOTO, "rb") as content, open(STYLE, "rb") as style:
    response = client.post(site.url + "/custom", files={"content": content, "style": style},
                           data={"csrf": client.cookies[app_lib.CSRF_COOKIE], "method": "gatys", "size": 64,
                                 "email": address})
  assert response.status_code == 303, response.text
  return response.headers["location"].rsplit("/", 1)[1]


def test_killed_worker_and_killed_server_lose_no_job_and_mail_once(tmp_path, inbox):
  workdir = str(tmp_path / "site")
  site = Site(workdir, inbox).start()
  jobs = queue_lib.JobQueue(site_files.database(workdir))
  try:
    with httpx.Client() as client:
      first = submit_custom(site, client, "first@example.org")
      wait_for(lambda: jobs.get(first).step >= 2, 120, "the first job's progress")
      worker = site.worker_pid()
      assert site.health()["ok"] and "pid" not in str(site.health())
      os.kill(worker, signal.SIGKILL)  # in the middle of the job
      assert jobs.get(first).state == queue_lib.RUNNING
      wait_for(lambda: (site.health() or {}).get("worker") == "stopped", 5, "/health's 503: the worker is down")
      wait_for(lambda: jobs.get(first).state == queue_lib.DONE, 180, "the first job to finish after the kill")
      assert jobs.get(first).attempts == 2 and site.worker_pid() not in (None, worker)

      second = submit_custom(site, client, "second@example.org")
      wait_for(lambda: jobs.get(second).step >= 2, 120, "the second job's progress")
      worker = site.worker_pid()
      site.process.kill()  # the server dies; its worker gives the job back and ends
      site.process.wait()
      wait_for(lambda: not alive(worker), 30, "the orphaned worker to end")
      assert jobs.get(second).state == queue_lib.QUEUED
    site.start()
    wait_for(lambda: jobs.get(second).state == queue_lib.DONE, 180, "the second job after the restart")
    wait_for(lambda: len(inbox.messages) >= 2, 30, "two mails")
    time.sleep(1.0)  # a duplicate would arrive now
    assert sorted(mail["To"] for mail in inbox.mails()) == ["first@example.org", "second@example.org"]
    worker = site.worker_pid()
  finally:
    code = site.stop()
  assert code == 130 and not alive(worker)  # Ctrl-C stops the server and its worker


def test_in_a_real_browser_stylise_custom_job_mail_gallery_download(tmp_path, inbox):
  chromium = shutil.which("chromium") or shutil.which("chromium-browser")
  assert chromium, "Debian's chromium is needed for this test: apt-get install chromium (.ci/run installs it)"
  shots = os.environ.get("STYLEJAX_SCREENSHOTS") or str(tmp_path / "screenshots")
  os.makedirs(shots, exist_ok=True)
  site = Site(str(tmp_path / "site"), inbox).start()
  try:
    with sync_playwright() as playwright:
      browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
      page = browser.new_page(viewport={"width": 1000, "height": 760}, accept_downloads=True)

      def shot(name):
        page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)

      page.goto(site.url)
      expect(page.locator("h1")).to_contain_text("Paint your photos")
      shot("home")

      page.click("a.example:has-text('Starry night')")  # a style's example opens the form with it chosen
      expect(page.locator("input[value=starry_night]")).to_be_checked()
      page.set_input_files("input[name=photo]", PHOTO)
      shot("stylize")
      page.click("button[type=submit]")
      result = page.locator("#result-image")
      expect(result).to_be_visible(timeout=60_000)
      expect(result).to_have_js_property("naturalWidth", Image.open(PHOTO).width)  # at the photo's own size
      expect(page).to_have_title(re.compile("^Done · Starry night"))
      expect(page.locator("#style-image")).to_be_visible()
      page.locator("#compare-slider").focus()  # the before/after divide moves by keyboard
      page.keyboard.press("Home")
      assert "100%" in page.eval_on_selector("#before-image", "image => image.style.clipPath")  # all result
      for _ in range(30):
        page.keyboard.press("ArrowRight")
      assert "70%" in page.eval_on_selector("#before-image", "image => image.style.clipPath")
      assert page.get_attribute("#compare-slider", "aria-valuetext") == "30% your photo, 70% the result"
      shot("online_result")
      page.click("text=Add to the gallery")
      assert len(page.locator("#owner-token").inner_text()) >= 20
      shot("shared")

      page.goto(site.url + "/stylize")  # the bundled universal model, with a style photo of the user's
      page.set_input_files("input[name=photo]", PHOTO)
      page.click("label.model:has(input[value=universal])")
      page.set_input_files("input[name=style]", STYLE_PHOTO)
      expect(page.locator("input[name=match_regions]")).not_to_be_checked()
      page.check("input[name=match_regions]")  # automatic regions
      busy = []

      def busy_once(route):  # the site answers "busy" once: the page retries after Retry-After, no click
        if busy or route.request.method != "POST":
          return route.continue_()
        busy.append(route.request.url)
        route.fulfill(status=503, headers={"Retry-After": "2"}, json={"error": "the site is busy stylising other "
                                                                               "photos; try again in a few seconds"})

      page.route("**/stylize", busy_once)
      page.click("button[type=submit]")
      expect(page.locator(".form-status")).to_contain_text("This page sends it again by itself in", timeout=10_000)
      shot("busy_retrying")
      expect(result).to_be_visible(timeout=60_000)
      page.unroute("**/stylize")
      assert len(busy) == 1
      expect(result).to_have_js_property("naturalWidth", Image.open(PHOTO).width)
      shot("universal_result")

      page.goto(site.url + "/custom")
      page.set_input_files("input[name=content]", PHOTO)
      page.set_input_files("input[name=style]", STYLE)
      page.check("input[value=gatys]")
      page.fill("input[name=email]", "visitor@example.org")
      shot("custom")
      page.click("button[type=submit]")
      expect(page.locator("#steps")).to_contain_text("of 20", timeout=120_000)  # the live step count
      shot("custom_running")  # the progress bar (or already the result: tiny jobs are quick)
      expect(page.locator("#state")).to_contain_text("Done", timeout=120_000)
      expect(page.locator("#losses")).to_be_hidden()  # folded under the result
      page.click("#losses-panel summary")
      expect(page.locator("#losses")).to_be_visible()
      expect(page.locator("#waited")).to_contain_text("after your upload")
      shot("custom_done")
      wait_for(lambda: inbox.messages, 30, "the result mail")
      (mail,) = inbox.mails()
      job_url = page.url
      assert mail["To"] == "visitor@example.org" and job_url in mail.get_body().get_content()
      Image.open(io.BytesIO(inbox.attachment(mail))).verify()

      # The states of a job page, its status answers scripted here (the server's side of each is tested with
      # TestClient): the estimate from the site's measured times while it prepares, a restart, a stalled
      # worker, a lost connection; then the real job's answers again.
      phase = ["preparing"]
      scripted = {"preparing": {"step": 0, "elapsed": 1.0, "message": "", "stalled": False},
                  "restarted": {"step": 0, "elapsed": 0.5, "message": queue_lib.RESTARTED, "stalled": False},
                  "stalled": {"step": 6, "elapsed": 9.0, "message": "", "stalled": True}}

      def status_answer(route):
        if phase[0] == "lost":
          return route.abort()
        if phase[0] not in scripted:
          return route.continue_()
        route.fulfill(json={"state": "running", "kind": "custom", "total": 20, "position": None,
                            "expected": {"prepare_seconds": 5.0, "step_seconds": 0.5}, **scripted[phase[0]]})

      page.route("**/jobs/*/status", status_answer)
      page.goto(site.url + "/custom")
      page.set_input_files("input[name=content]", PHOTO)
      page.set_input_files("input[name=style]", STYLE)
      page.click("button[type=submit]")
      started = time.monotonic()
      expect(page.locator("#state")).to_contain_text("Preparing")
      expect(page.locator("#steps")).to_contain_text("about 0:14 left")  # 5 s + 20 × 0.5 s − 1 s
      assert time.monotonic() - started < 3.0
      expect(page).to_have_title(re.compile("^Preparing · "))
      shot("job_preparing")
      phase[0] = "restarted"
      expect(page.locator("#notice")).to_contain_text("The site restarted while this job ran")
      shot("job_restarted")
      phase[0] = "stalled"
      expect(page.locator("#notice")).to_contain_text("The worker stopped while running this job")
      expect(page).to_have_title(re.compile("^30% · "))
      phase[0] = "lost"
      expect(page.locator("#notice")).to_contain_text("Connection to the site lost; retrying")
      shot("job_connection_lost")
      phase[0] = "real"
      expect(page.locator("#state")).to_contain_text("Done", timeout=120_000)
      expect(page.locator("#notice")).to_be_hidden()
      page.unroute("**/jobs/*/status")
      page.goto(job_url)

      page.click("text=Add to the gallery")
      page.click("text=gallery")
      expect(page.locator(".grid figure")).to_have_count(2)
      with page.expect_download() as download:
        page.click("text=download >> nth=0")  # the newest: the custom job's result
      with open(download.value.path(), "rb") as f:
        assert f.read() == httpx.get(job_url + "/files/result.png").content
      shot("gallery")
      page.click(".grid figure >> nth=0 >> img")  # the picture's own page: before/after, its style, a link
      expect(page.locator("#compare-slider")).to_be_visible()
      expect(page.locator("#style-image")).to_be_visible()
      assert page.input_value("#share-link") == page.url
      item_url = page.url
      shot("gallery_item")

      page.goto(site.url + "/custom")  # the quick photorealistic method: the universal network's grid refined
      page.set_input_files("input[name=content]", PHOTO)
      page.set_input_files("input[name=style]", STYLE_PHOTO)
      page.check("input[value=refined]")
      page.click("button[type=submit]")
      expect(page.locator("h1")).to_contain_text("Photorealistic, quick")
      expect(page.locator("#state")).to_contain_text("Done", timeout=180_000)
      expect(result).to_have_js_property("naturalWidth", 64)  # the custom form's size (tiny: 64 px)
      shot("refined_done")

      page.goto(site.url + "/video")  # a clip, stylised frame by frame with its sound, played on its page
      page.set_input_files("input[name=clip]", clips.write_clip(tmp_path / "clip.webm", frames=16, size=(90, 160),
                                                                 audio=True))
      page.click("label.model:has(input[value=starry_night])")
      page.click("button[type=submit]")
      expect(page.locator("h1")).to_contain_text("Your video: Starry night")
      expect(page.locator("#state")).to_contain_text("Done", timeout=120_000)
      played = page.locator("#result-video")
      expect(played).to_have_js_property("readyState", 4, timeout=30_000)  # Chromium decoded it: enough data
      assert played.evaluate("video => [video.videoWidth, video.videoHeight]") == [160, 90]
      shot("video_done")

      page.goto(site.url + "/stylize")  # the painting guard: a painting as the universal network's style photo
      page.set_input_files("input[name=photo]", PHOTO)
      page.click("label.model:has(input[value=universal])")
      page.set_input_files("input[name=style]", STYLE)
      page.click("button[type=submit]")
      expect(page.locator("#painted")).to_contain_text("textured all over, like a painting", timeout=60_000)
      expect(result).to_be_visible(timeout=60_000)
      shot("painting_guard")
      page.click("text=Paint it with the artistic method instead")  # the same pictures, no upload
      expect(page.locator("h1")).to_contain_text("Your custom job: Artistic (Gatys)")

      page.goto(site.url + "/stylize")
      page.set_input_files("input[name=photo]", {"name": "photo.jpg", "mimeType": "image/jpeg",
                                                 "buffer": b"this is not a picture"})
      page.click("button[type=submit]")
      expect(page.locator(".form-status")).to_contain_text("Not a readable image: the photo.")  # on the form, to fix there
      shot("refusal")
      page.set_input_files("input[name=photo]", {"name": "huge.jpg", "mimeType": "image/jpeg",
                                                 "buffer": b"\0" * 16_000_000})
      page.click("button[type=submit]")  # refused before sending: the site would close the connection on it
      expect(page.locator(".form-status")).to_contain_text("“huge.jpg” is 16.0 MB; the limit is 15.0 MB per file")

      page.set_viewport_size({"width": 390, "height": 844})  # a phone
      for name, url in (("phone_home", site.url), ("phone_stylize", site.url + "/stylize"),
                        ("phone_custom", site.url + "/custom"), ("phone_video", site.url + "/video"),
                        ("phone_job", job_url),
                        ("phone_gallery", site.url + "/gallery"), ("phone_gallery_item", item_url)):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing off screen
        shot(name)
      browser.close()
  finally:
    site.stop()
