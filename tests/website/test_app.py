"""The website's routes through FastAPI's TestClient, with the worker run in this process (Worker.run_next)."""

import io
import os
import re
import threading
import types

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from configs import web
from stylejax import api
from stylejax.io import assets, video
from stylejax.errors import UserError
from stylejax.web import app as app_lib, queue as queue_lib, site as site_lib, site_files, worker as worker_lib
from tests.helpers import cat_beside_cup, free_port
from tests.video import clips
from tests.website.support import png, wait_for

pytestmark = pytest.mark.slow  # every site holds three trained models (the first site trains them: 20-30 s each)

HTML = {"Accept": "text/html"}


@pytest.fixture
def site(tmp_path, inbox, model_dir, photo_model_dir, universal_model_dir):
  config = web.get_config("tiny")
  config.smtp.update(host="127.0.0.1", port=inbox.port, security="none")
  config.models_dir = str(tmp_path / "models")
  os.makedirs(config.models_dir)
  os.symlink(model_dir, os.path.join(config.models_dir, "painting"))
  os.symlink(photo_model_dir, os.path.join(config.models_dir, "photo"))
  os.symlink(universal_model_dir, os.path.join(config.models_dir, "any_photo"))
  workdir = str(tmp_path / "site")
  os.makedirs(workdir)
  client = TestClient(app_lib.create_app(config, workdir))
  client.get("/")  # the CSRF cookie
  return types.SimpleNamespace(config=config, workdir=workdir, client=client, inbox=inbox,
                               worker=worker_lib.Worker(config, workdir), csrf=client.cookies[app_lib.CSRF_COOKIE])


def rebuild(site):
  """A new app from the changed site.config, keeping the client's cookies (the CSRF token)."""
  site.client = TestClient(app_lib.create_app(site.config, site.workdir), cookies=site.client.cookies)


def stylize(site, data=None, model="painting", **fields):
  return site.client.post("/stylize", files={"photo": ("photo.png", data or png())}, headers=HTML,
                          data={"csrf": site.csrf, "model": model, **fields}, follow_redirects=False)


def custom(site, method="gatys", address="user@example.org", **fields):
  return site.client.post("/custom", files={"content": ("c.png", png(40, 30)), "style": ("s.png", png(30, 30))},
                          data={"csrf": site.csrf, "method": method, "size": 64, "email": address, **fields},
                          headers=HTML, follow_redirects=False)


def token_of(response):
  assert response.status_code == 303, response.text
  return response.headers["location"].rsplit("/", 1)[1]


def status(site, token):
  return site.client.get(f"/jobs/{token}/status").json()


def test_pages_render_with_security_headers_and_the_model_menu(site):
  for path in ("/", "/stylize", "/custom", "/gallery"):
    response = site.client.get(path)
    assert response.status_code == 200 and "<h1>" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
  menu = site.client.get("/stylize").text
  assert "Painting styles" in menu and "Photo styles" in menu and 'value="painting"' in menu
  assert site.client.get("/models/painting/style.jpg").headers["content-type"] == "image/jpeg"
  assert site.client.get("/static/style.css").status_code == 200
  assert site.client.get("/static/").status_code == 404  # no directory listing
  assert 'type="email"' in site.client.get("/custom").text  # mail is configured
  home = site.client.get("/").text  # each bundled model's example result; the tiles choose their style
  assert 'href="/stylize?model=photo"' in home and 'src="/models/starry_night/example.jpg"' in home
  assert site.client.get("/models/universal/example.jpg").headers["content-type"] == "image/jpeg"
  assert site.client.get("/models/painting/example.jpg").status_code == 404  # a model without one
  assert 'value="photo" checked' in site.client.get("/stylize?model=photo").text
  assert 'value="painting" checked' in site.client.get("/stylize?model=nonsense").text  # the first model


def test_bundled_models_are_offered_and_stylise(site):
  bundled = {name: model for name, model in web_models(site).items()
             if model.path.startswith(site_files.catalog.bundled_dir())}
  assert {"starry_night", "grace_hopper", "universal"} <= set(bundled) and bundled["universal"].takes_style
  for name, model in sorted(bundled.items()):
    style = {"style": ("s.png", png(30, 20))} if model.takes_style else {}
    token = token_of(site.client.post("/stylize", files={"photo": ("photo.png", png()), **style}, headers=HTML,
                                      data={"csrf": site.csrf, "model": name}, follow_redirects=False))
    assert site.worker.run_next()
    result = Image.open(io.BytesIO(site.client.get(f"/jobs/{token}/files/result.png").content))
    assert result.size == (48, 32), name


def test_a_universal_model_takes_the_uploaded_style_photo(site):
  form = site.client.get("/stylize").text
  assert "Your own style photo" in form and 'name="style"' in form and 'value="any_photo"' in form
  results = []
  for colour in ((230, 60, 20), (20, 60, 230)):  # a warm and a cool style photo
    style = io.BytesIO()
    Image.new("RGB", (30, 20), colour).save(style, "PNG")
    response = site.client.post("/stylize", files={"photo": ("p.png", png()), "style": ("s.png", style.getvalue())},
                                data={"csrf": site.csrf, "model": "any_photo"}, headers=HTML, follow_redirects=False)
    token = token_of(response)
    assert site.worker.run_next() and status(site, token)["state"] == "done"
    assert set(status(site, token)["files"]) == {"input.png", "style.png", "result.png"}
    results.append(Image.open(io.BytesIO(site.client.get(f"/jobs/{token}/files/result.png").content)))
  assert results[0].size == (48, 32) and results[0].tobytes() != results[1].tobytes()  # the style matters
  for files in ({"photo": ("p.png", png())}, {"photo": ("p.png", png()), "style": ("", b"")}):  # none, or empty
    refused = site.client.post("/stylize", files=files, data={"csrf": site.csrf, "model": "any_photo"}, headers=HTML)
    assert refused.status_code == 422 and "choose one beside your photo" in refused.text
  assert site.worker.queue.pending("online") == 0


def test_match_regions_sends_a_universal_jobs_photo_through_automatic_regions(site):
  """The form's "match regions" box (for photos; unticked by default) gives a universal model's job
  online.regions automatic regions; unticked, or for a model without masks, none."""
  form = site.client.get("/stylize").text
  assert re.search(r'<input type="checkbox" name="match_regions" value="true">', form)
  assert 'name="match_regions"' not in site.client.get("/video").text  # a video's frames take no regions
  photo, style = (io.BytesIO() for _ in range(2))
  for buffer, image in zip((photo, style), cat_beside_cup()):
    Image.fromarray(np.uint8(image)).save(buffer, "PNG")
  photo, style = photo.getvalue(), style.getvalue()
  results = {}
  ticked = {"match_regions": "true"}
  for model, fields in (("any_photo", ticked), ("any_photo", {}), ("photo", ticked)):
    token = token_of(site.client.post("/stylize", files={"photo": ("p.png", photo), "style": ("s.png", style)},
                                      data={"csrf": site.csrf, "model": model, **fields}, headers=HTML,
                                      follow_redirects=False))
    assert site.worker.run_next() and status(site, token)["state"] == "done"
    regions = site.worker.queue.get(token).params["regions"]
    assert regions == (site.config.online.regions if model == "any_photo" and fields else 0)
    results[model, bool(fields)] = np.asarray(Image.open(io.BytesIO(
        site.client.get(f"/jobs/{token}/files/result.png").content)), np.float32)
  assert np.abs(results["any_photo", True] - results["any_photo", False]).max() > 5


def test_the_painting_guard_offers_the_artistic_method_with_the_same_pictures(site):
  photo, painting = (open(assets.path(name), "rb").read() for name in ("chelsea.jpg", "the_scream.jpg"))
  style_photo = open(assets.path("grace_hopper.jpg"), "rb").read()

  def submit(route, style, **fields):
    files = {"content" if route == "/custom" else "photo": ("p.jpg", photo), "style": ("s.jpg", style)}
    return token_of(site.client.post(route, files=files, data={"csrf": site.csrf, **fields}, headers=HTML,
                                     follow_redirects=False))

  def offer(token):
    return site.client.post(f"/jobs/{token}/artistic", data={"csrf": site.csrf}, headers=HTML, follow_redirects=False)

  painted = submit("/custom", painting, method="luan", size=64, email="user@example.org")
  page = site.client.get(f"/jobs/{painted}").text
  assert "textured all over, like a painting" in page and f'action="/jobs/{painted}/artistic"' in page
  again = site.worker.queue.get(token_of(offer(painted)))
  assert again.params == {"method": "gatys", "size": 64, "style_title": "S"} and again.email == "user@example.org"
  for name in (site_files.CONTENT, site_files.STYLE):  # the same pictures, not uploaded again
    assert (open(os.path.join(site_files.job_dir(site.workdir, painted), name), "rb").read()
            == open(os.path.join(site_files.job_dir(site.workdir, again.token), name), "rb").read())
  online = submit("/stylize", painting, model="any_photo")  # the universal network is photorealistic too
  assert "like a painting" in site.client.get(f"/jobs/{online}").text
  assert site.worker.queue.get(token_of(offer(online))).params["size"] == site.config.custom.sizes[0]
  for quiet in (submit("/custom", style_photo, method="luan", size=64), submit("/custom", painting, method="gatys",
                                                                              size=64)):
    assert "like a painting" not in site.client.get(f"/jobs/{quiet}").text
    assert offer(quiet).status_code == 409


def post_clip(site, name, data, model="painting", style=None, **fields):
  files = {"clip": (name, data), **({"style": ("s.png", style)} if style else {})}
  return site.client.post("/video", files=files, data={"csrf": site.csrf, "model": model, **fields}, headers=HTML,
                          follow_redirects=False)


def test_a_video_job_stylises_the_clip_with_its_sound_and_counts_frames(site, tmp_path):
  source = clips.write_clip(tmp_path / "in.mp4", frames=10, size=(24, 40), audio=True)
  assert 'name="email"' in site.client.get("/video").text
  token = token_of(post_clip(site, "holiday.MP4", open(source, "rb").read(), email="viewer@example.org"))
  queued = status(site, token)
  assert queued["state"] == "queued" and queued["total"] == 10
  page = site.client.get(f"/jobs/{token}").text
  assert "Your video: Painting" in page and "frame 0 of 10" in page and 'data-unit="frame"' in page
  assert site.worker.run_next()
  site.worker.send_mail()
  done = status(site, token)
  assert done["state"] == "done" and done["video"] == f"/jobs/{token}/files/result.mp4"
  (message,) = site.inbox.mails()  # the page's link, no attachment
  assert message["To"] == "viewer@example.org" and f"/jobs/{token}" in message.get_body().get_content()
  assert not list(message.iter_attachments())
  answer = site.client.get(done["video"])
  assert answer.headers["content-type"] == "video/mp4"
  (tmp_path / "out.mp4").write_bytes(answer.content)
  result = video.probe(str(tmp_path / "out.mp4"))
  assert (result.width, result.height, result.frames, result.rate, result.audio) == (40, 24, 10, 24, True)
  assert site.client.get(f"/jobs/{token}/files/result.mp4", headers={"Range": "bytes=0-9"}).status_code == 206
  assert 'id="result-video"' in site.client.get(f"/jobs/{token}").text
  shared = site.client.post(f"/jobs/{token}/share", data={"csrf": site.csrf}, headers=HTML)
  assert shared.status_code == 409 and "download the video" in shared.text


def test_a_large_clip_is_shrunk_and_a_universal_model_takes_its_style_photo(site, tmp_path):
  site.config.video.max_side = 32
  rebuild(site)
  site.worker.config.video.max_side = 32
  source = clips.write_clip(tmp_path / "in.webm", frames=6, size=(24, 40))
  token = token_of(post_clip(site, "c.webm", open(source, "rb").read(), model="any_photo", style=png(30, 20)))
  assert site.worker.run_next()
  done = status(site, token)
  assert done["state"] == "done" and done["video"].endswith("/result.webm")
  (tmp_path / "out.webm").write_bytes(site.client.get(done["video"]).content)
  result = video.probe(str(tmp_path / "out.webm"))
  assert (result.width, result.height, result.frames) == (32, 18, 6)  # 40 × 24 to 32 px, the sides even
  assert "Your clip (40 × 24 px) was stylised at 32 px" in site.client.get(f"/jobs/{token}").text


def test_clips_that_cannot_be_stylised_are_refused_in_the_senders_terms(site, tmp_path):
  source = open(clips.write_clip(tmp_path / "in.mp4", frames=10, size=(24, 40)), "rb").read()
  for name, data, code, message in (("notes.txt", source, 415, "is not a clip the site takes"),
                                    ("x.mp4", b"not a video at all", 415, "“x.mp4” is not a readable video"),
                                    ("x.mp4", b"", 415, "the clip: no file was sent")):
    refused = post_clip(site, name, data)
    assert refused.status_code == code and message in refused.text, refused.text
  assert post_clip(site, "x.mp4", source, model="any_photo").status_code == 422  # it needs a style photo
  site.config.video.max_seconds = 0.2
  rebuild(site)
  refused = post_clip(site, "x.mp4", source)
  assert refused.status_code == 422 and "the clip is 0.4 s long; the site stylises clips up to 0.2 s" in refused.text
  assert site.worker.queue.pending("video") == 0 and not os.listdir(os.path.join(site.workdir, "jobs"))


def test_the_worker_keeps_the_most_recently_used_models(site):
  site.worker.config.worker.max_models = 1
  for model in ("painting", "photo", "photo"):
    token_of(stylize(site, model=model))
    site.worker.run_next()
  assert [os.path.basename(path) for path in site.worker.models] == ["photo"]


def test_site_configs_that_cannot_work_are_refused(site):
  for key, value, message in (("custom.gatys", "picasso", "unknown method"), ("smtp.security", "tls", "starttls"),
                              ("custom.sizes", (8,), "from 16 to 8,192"), ("custom.sizes", (), "at least one"),
                              ("limits.max_queue", 0, "from 1 to")):
    config = web.get_config()
    section, name = key.split(".")
    config[section][name] = value
    with pytest.raises(UserError, match=message):
      site_lib.check(config)


def test_a_port_in_use_is_one_clear_error():
  taken = site_lib.listen("127.0.0.1", 0)
  with pytest.raises(UserError, match="choose another --config.port"):
    site_lib.listen("127.0.0.1", taken.getsockname()[1])
  taken.close()


def web_models(site):
  return site_files.catalog.models(site_files.model_dirs(site.config, site.workdir))


def test_online_stylisation_at_the_photos_own_size_without_metadata(site):
  exif = Image.Exif()
  exif[0x0112] = 6  # rotated: the stored photo is upright
  exif[0x010F] = "SecretCam"
  token = token_of(stylize(site, png(40, 24, exif=exif), model="photo", strength="0.5"))
  assert status(site, token)["state"] == "queued" and status(site, token)["position"] == 0
  assert "Waiting in the queue" in site.client.get(f"/jobs/{token}").text
  assert site.worker.run_next()
  done = status(site, token)
  assert done["state"] == "done" and set(done["files"]) == {"input.png", "result.png"} and done["seconds"] > 0
  response = site.client.get(done["files"]["result.png"])
  result = Image.open(io.BytesIO(response.content))
  assert result.size == (24, 40) and not result.info.get("exif") and b"SecretCam" not in response.content
  download = site.client.get(done["files"]["result.png"] + "?download=1")
  assert download.headers["content-disposition"].startswith("attachment")
  assert 'id="result-image"' in site.client.get(f"/jobs/{token}").text


def test_large_photos_are_stylised_at_the_configured_maximum(site):
  site.config.online.max_side = 32
  rebuild(site)
  token = token_of(stylize(site, png(96, 64)))
  site.worker.run_next()
  assert Image.open(io.BytesIO(site.client.get(f"/jobs/{token}/files/result.png").content)).size == (32, 21)
  assert "Your photo (96 × 64 px) was stylised at 32 × 21 px" in site.client.get(f"/jobs/{token}").text


def record_progress(site):
  """The (step, total) of every progress report the site's worker makes from now on."""
  seen = []
  progress = site.worker.queue.progress

  def record(*args):
    seen.append(args[2:4])
    return progress(*args)

  site.worker.queue.progress = record
  return seen


def test_custom_job_reports_progress_delivers_the_result_and_mails_it_once(site):
  token = token_of(custom(site))
  assert "Waiting in the queue" in site.client.get(f"/jobs/{token}").text
  seen = record_progress(site)
  assert site.worker.run_next() and not site.worker.run_next()
  site.worker.send_mail()  # what the worker's mail thread does when a job ends
  assert seen[-1] == (20, 20) and len(seen) >= 5  # gatys:tiny: 20 steps, reported every 2
  done = status(site, token)
  assert done["state"] == "done" and {"result.png", "losses.png", "content.png"} <= set(done["files"])
  (message,) = site.inbox.mails()
  assert message["To"] == "user@example.org" and f"/jobs/{token}" in message.get_body().get_content()
  assert "Your stylisation is attached: Artistic (Gatys)." in message.get_body().get_content()  # as its page says
  assert site.inbox.attachment(message) == site.client.get(done["files"]["result.png"]).content
  site.worker.send_mail()
  assert len(site.inbox.messages) == 1 and site.worker.queue.unmailed() == []
  assert done["waited"] > done["seconds"] > 0  # the user's wait, from the upload on
  page = site.client.get(f"/jobs/{token}").text  # the result over the photo, the style beside, the losses folded
  assert 'id="compare-slider"' in page and f'src="/jobs/{token}/files/content.png"' in page
  assert f'src="/jobs/{token}/files/style.png"' in page and '<details id="losses-panel" >' in page

  second = token_of(custom(site, address=""))  # queued: its page's estimate comes from the first job's times
  expected = status(site, second)["expected"]
  assert expected["step_seconds"] > 0 and expected["prepare_seconds"] >= 0
  site.worker.queue.claim("elsewhere", lease_seconds=-1)  # a worker that died: the job waits to restart
  running = status(site, second)
  assert running["state"] == "running" and running["stalled"] and running["elapsed"] >= 0
  site.worker.queue.requeue_expired()
  assert status(site, second)["message"] == queue_lib.RESTARTED  # its page says it starts again
  assert queue_lib.RESTARTED in site.client.get(f"/jobs/{second}").text


def test_mail_the_smtp_server_refused_is_kept_and_sent_later(site):
  site.config.smtp.port = free_port()  # nothing listens there
  token = token_of(custom(site))
  site.worker.run_next()
  site.worker.send_mail()
  assert status(site, token)["state"] == "done" and [job.token for job in site.worker.queue.unmailed()] == [token]
  site.config.smtp.port = site.inbox.port
  site.worker.send_mail()
  assert len(site.inbox.messages) == 1 and site.worker.queue.unmailed() == []


def test_online_requests_are_served_while_a_custom_job_runs(site):
  """The worker's online lane serves a photo while its main thread is inside a custom job (held there until the
  photo is done)."""
  slow = token_of(custom(site, address=""))
  stop = threading.Event()
  lane = threading.Thread(target=site.worker.online_lane, args=(stop,), daemon=True)
  lane.start()
  served = []
  progress = site.worker.queue.progress

  def request_arrives(*args):
    if not served:
      quick = token_of(stylize(site))
      wait_for(lambda: site.worker.queue.get(quick).state == queue_lib.DONE, 120, "the photo to be stylised")
      served.append(quick)
    return progress(*args)

  site.worker.queue.progress = request_arrives
  try:
    assert site.worker.run_next(("custom",))
  finally:
    stop.set()
    lane.join(30)
  assert served and site.worker.queue.get(slow).state == queue_lib.DONE and not lane.is_alive()


def test_custom_jobs_from_twice_the_presets_size_run_coarse_to_fine(site):
  luan, gatys = api.preset("luan"), api.preset("gatys")  # the site's presets: 384 and 512 px, as tuned
  assert worker_lib.coarse_to_fine(luan, 512) == {"image_size": 512}
  assert worker_lib.coarse_to_fine(luan, 1024) == {"image_size": 1024, "num_scales": 3, "scale_steps": (300, 30, 0)}
  assert worker_lib.coarse_to_fine(gatys, 1024) == {"image_size": 1024, "num_scales": 2, "scale_steps": (500, 100)}
  site.config.custom.sizes = (64, 128)  # gatys:tiny is a 64-px preset
  rebuild(site)
  token = token_of(custom(site, address="", size=128))
  site.worker.run_next()
  done = status(site, token)
  assert done["state"] == "done" and done["total"] == 24  # 20 steps at 64 px, 4 at 128 px
  assert max(Image.open(io.BytesIO(site.client.get(done["files"]["result.png"]).content)).size) == 128


def test_luan_custom_job_with_automatic_masks(site):
  token = token_of(custom(site, method="luan", address=""))
  site.worker.run_next()
  assert status(site, token)["state"] == "done" and site.inbox.messages == []


def test_the_quick_photorealistic_method_refines_the_universal_networks_answer_with_progress(site):
  """custom.refined names the site's model whose grid the custom form's quick photorealistic method refines (the
  bundled universal network, with automatic regions): its job reports the refinement's steps and differs from the
  network's one pass; a site without such a model does not offer the method."""
  assert 'value="refined"' in site.client.get("/custom").text
  seen = record_progress(site)
  token = token_of(custom(site, method="refined", address=""))
  assert site.worker.queue.get(token).params["model"] == "universal"
  assert site.worker.run_next()
  done = status(site, token)
  assert done["state"] == "done" and seen == [(2, 4), (4, 4)]  # custom.refine_steps (tiny: 4) in chunks of 2
  assert "Photorealistic, quick" in site.client.get(f"/jobs/{token}").text
  refined = np.asarray(Image.open(io.BytesIO(site.client.get(done["files"]["result.png"]).content)), np.float32)
  content, style = (os.path.join(site_files.job_dir(site.workdir, token), name)
                    for name in (site_files.CONTENT, site_files.STYLE))
  one_pass = api.load_model(os.path.join(site_files.catalog.bundled_dir(), "universal")).stylize(
      api.fit(api.as_image(content), 64), style)
  assert refined.shape == one_pass.shape == (48, 64, 3) and np.abs(refined - one_pass).max() > 1
  for name in ("photo", "nowhere"):  # a model that does not refine, or none
    site.config.custom.refined = name
    rebuild(site)
    assert 'value="refined"' not in site.client.get("/custom").text
    refused = custom(site, method="refined")
    assert refused.status_code == 422 and "a photorealistic method" in refused.text


def test_a_job_that_fails_says_why(site):
  token = token_of(custom(site, address=""))
  os.remove(os.path.join(site_files.job_dir(site.workdir, token), site_files.STYLE))
  site.worker.run_next()
  failed = status(site, token)
  assert failed["state"] == "failed" and "image not found" in failed["message"]
  assert "Failed: image not found" in site.client.get(f"/jobs/{token}").text


@pytest.mark.parametrize("change, code, message", [
    ({"csrf": ""}, 403, "did not come from this site"),
    ({"csrf": "forged"}, 403, "did not come from this site"),
    ({"model": "../../etc"}, 422, "choose one of the models"),
    ({"strength": "2"}, 422, "between 0 and 1"),
    ({"strength": "strong"}, 422, "strength"),
    ({"data": b"GIF89a but not really"}, 415, "not a readable image"),
    ({"data": b""}, 415, "no file was sent"),
])
def test_online_refusals_are_readable_pages(site, change, code, message):
  fields = {"csrf": site.csrf, "model": "painting", **change}
  data = fields.pop("data", None)
  response = site.client.post("/stylize", files={"photo": ("p.png", png() if data is None else data)}, data=fields,
                              headers=HTML)
  assert response.status_code == code and message in response.text
  assert "Traceback" not in response.text and 'id="refusal"' in response.text
  assert site.worker.queue.pending("online") == 0


def test_size_limits_answer_413(site):
  site.config.limits.update(max_upload_bytes=2000, max_upload_pixels=1000)
  rebuild(site)
  assert stylize(site, png(40, 30)).status_code == 413  # 1200 px but more than 2000 bytes
  assert stylize(site, b"\0" * 10**6).status_code == 413  # the whole body, refused before parsing
  site.config.limits.update(max_upload_bytes=10**6)
  rebuild(site)
  response = stylize(site, png(40, 30))
  assert response.status_code == 413 and "40 × 30 pixels (0.0012 MP); the limit is 0.001 MP" in response.text
  assert "max_" not in response.text  # no setting names


@pytest.mark.parametrize("change, code, message", [
    ({"method": "picasso"}, 422, "artistic or a photorealistic"),
    ({"size": "4096"}, 422, "choose a size of 64 px"),
    ({"email": "victim@example.org\r\nBcc: all@example.org"}, 422, "not valid"),
    ({"email": "nobody"}, 422, "not valid"),
])
def test_custom_refusals(site, change, code, message):
  response = custom(site, **change)
  assert response.status_code == code and message in response.text
  assert site.worker.queue.pending("custom") == 0


def test_missing_fields_are_named(site):
  response = site.client.post("/custom", data={"csrf": site.csrf}, headers=HTML)
  assert response.status_code == 422 and "content" in response.text and "method" in response.text


def test_rate_limit_and_full_queues_answer_with_retry_after(site):
  site.config.limits.update(submissions_per_minute=2, max_queue=1)  # busy and full refusals do not count:
  site.config.online.max_pending = 1  # the pages retry them after their Retry-After
  rebuild(site)
  token_of(stylize(site))
  busy = stylize(site)
  assert busy.status_code == 503 and busy.headers["retry-after"] == "2" and "busy" in busy.text
  token_of(custom(site, address=""))
  full = custom(site, address="")
  assert full.status_code == 503 and int(full.headers["retry-after"]) > 0 and "queue is full" in full.text
  limited = site.client.post("/gallery", files={"image": ("x.png", png())}, data={"csrf": site.csrf}, headers=HTML)
  assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
  health = site.client.get("/health")  # no worker process in these tests
  assert health.status_code == 503 and health.json() == {"ok": False, "worker": "stopped", "online_pending": 1,
                                                         "custom_pending": 1, "video_pending": 0, "models": len(web_models(site))}


def test_json_clients_get_json_refusals(site):
  response = site.client.get("/jobs/unknown/status")
  assert response.status_code == 404
  assert response.json()["error"].startswith("there is no such job (the link may be mistyped, or the job was removed")


def test_unknown_jobs_files_and_pages_are_404(site):
  token = token_of(stylize(site))
  for path in ("/jobs/nope", f"/jobs/{token}/files/config.json", f"/jobs/{token}/files/..%2F..%2Fsite.db",
               f"/jobs/{token}/files/result.png", "/gallery/nope/image", "/models/nope/style.jpg", "/nothing"):
    response = site.client.get(path, headers=HTML)
    assert response.status_code == 404 and "Traceback" not in response.text, path
  assert site.client.delete("/").status_code == 405
  site.worker.run_next()
  head = site.client.head(f"/jobs/{token}/files/result.png")  # HEAD answers as GET, without the body
  assert head.status_code == 200 and int(head.headers["content-length"]) > 0 and head.content == b""
  assert site.client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")
  page = site.client.get(f"/jobs/{token}").text  # a painting model's job shows its style
  assert 'src="/models/painting/style.jpg"' in page and f'src="/jobs/{token}/files/input.png"' in page


def test_gallery_upload_pages_download_share_and_owner_only_delete(site):
  site.config.limits.gallery_page_size = 2
  rebuild(site)
  owners = []
  for title in ("first", "<script>alert(1)</script>", "third"):
    response = site.client.post("/gallery", files={"image": ("x.png", png())}, data={"csrf": site.csrf,
                                                                                      "title": title})
    assert response.status_code == 200 and 'id="owner-token"' in response.text
    owners.append(response.text.split('id="owner-token">')[1].split("<")[0])
  first_page, second_page = (site.client.get(f"/gallery?page={n}").text for n in (1, 2))
  assert "third" in first_page and "&lt;script&gt;alert(1)&lt;/script&gt;" in first_page
  assert "<script>alert" not in first_page and "page 1 of 2" in first_page and "first" in second_page
  item = second_page.split('href="/gallery/')[1].split('"')[0]
  assert site.client.get(f"/gallery/{item}/image?download=1").headers["content-disposition"].startswith("attachment")
  assert site.client.get(f"/gallery/{item}/thumb").headers["content-type"] == "image/jpeg"
  wrong = site.client.post(f"/gallery/{item}/delete", data={"csrf": site.csrf, "token": owners[1]}, headers=HTML)
  assert wrong.status_code == 403 and "delete token" in wrong.text
  deleted = site.client.post(f"/gallery/{item}/delete", data={"csrf": site.csrf, "token": owners[0]},
                             follow_redirects=False)
  assert deleted.status_code == 303 and site.client.get(f"/gallery/{item}/image").status_code == 404
  assert "page 1 of 1" in site.client.get("/gallery").text

  token = token_of(stylize(site))
  early = site.client.post(f"/jobs/{token}/share", data={"csrf": site.csrf}, headers=HTML)
  assert early.status_code == 409
  site.worker.run_next()
  shared = site.client.post(f"/jobs/{token}/share", data={"csrf": site.csrf})
  assert shared.status_code == 200 and "“Painting”" in shared.text  # titled after the model's style
  item = shared.text.split('id="item-page" href="/gallery/')[1].split('"')[0]
  again = site.client.post(f"/jobs/{token}/share", data={"csrf": site.csrf}, follow_redirects=False)
  assert again.status_code == 303 and again.headers["location"] == f"/gallery/{item}"  # no duplicate
  page = site.client.get(f"/gallery/{item}").text  # its own page: before/after, the style, how it was made
  assert 'id="compare-slider"' in page and f'src="/gallery/{item}/style"' in page and "Fast network Painting" in page
  assert f"/gallery/{item}" in page.split('id="share-link"')[1].split(">")[0]  # the link to share
  for name, kind in (("before", "image/jpeg"), ("style", "image/jpeg"), ("image", "image/png")):
    assert site.client.get(f"/gallery/{item}/{name}").headers["content-type"] == kind

  token = token_of(custom(site, address=""))  # a custom job: titled by the sharer, or after the style file
  site.worker.run_next()
  named = site.client.post(f"/jobs/{token}/share", data={"csrf": site.csrf, "title": "  My   cat "})
  assert "“My cat”" in named.text
  assert 'placeholder="S"' in site.client.get(f"/jobs/{token}").text  # the style upload was s.png
