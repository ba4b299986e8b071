"""The website's HTTP side (FastAPI): pages, uploads, the job pages' status, the gallery.

    app = create_app(config, workdir, worker_running)   # the `web` job serves it with uvicorn

It never runs a model: requests become jobs in the queue (stylejax.web.queue)
and the worker process runs them. Every refusal is a page (or, for JSON
clients, a JSON object) with a 4xx status and a readable message:
413 for oversized uploads (counted as the bytes arrive, whatever the headers
say), 415 for files that do not decode as images, 429 when a client submits
too often and 503 when the queue is full (both with Retry-After), 403 for a
missing CSRF token or a wrong delete token, 404 for unknown jobs, items and
files, 422 for numbers out of range. Pages carry a CSRF token (a cookie repeated in
each form) and strict security headers (Content-Security-Policy without
inline scripts, nosniff, no framing).
"""

import collections
import hmac
import ipaddress
import logging
import os
import secrets
import shutil
import sqlite3
import stat
import threading
import time

import numpy as np
from fastapi import FastAPI, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from stylejax.core import texture
from stylejax.errors import UserError
from stylejax.io import images, video
from stylejax.web import catalog, gallery as gallery_lib, mail, queue as queue_lib, site_files, uploads

HERE = os.path.dirname(os.path.abspath(__file__))
CSRF_COOKIE = "stylejax_csrf"
HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
GONE_ITEM = "there is no such picture in the gallery (it may have been deleted)"
MAX_PAGE = 1_000_000  # the largest gallery page number a request may ask for
log = logging.getLogger("stylejax.web")


class Refusal(Exception):
  """A request the site turns down: HTTP `status`, a message for people, optional Retry-After seconds."""

  def __init__(self, status, message, retry_after=None):
    super().__init__(message)
    self.status, self.message, self.retry_after = status, message, retry_after


class RateLimit:
  """At most `limit` submissions per client address in any `window` seconds (a sliding window, in memory)."""

  def __init__(self, limit, window=60.0):
    self.limit, self.window = limit, window
    self.times = collections.defaultdict(collections.deque)
    self.lock = threading.Lock()

  def check(self, client):
    now = time.monotonic()
    with self.lock:
      if len(self.times) > 10_000:  # forget addresses that sent nothing within the window
        self.times = collections.defaultdict(collections.deque, {
            address: times for address, times in self.times.items() if times and times[-1] > now - self.window})
      times = self.times[client]
      while times and times[0] <= now - self.window:
        times.popleft()
      if len(times) >= self.limit:
        wait = int(times[0] + self.window - now) + 1
        raise Refusal(429, f"too many submissions from your address; try again in {wait} s", wait)
      times.append(now)


class BodyLimit:
  """ASGI middleware: a request body is refused with 413 (`message`) as soon as more than `limit` bytes of it have
  arrived, whatever its headers say (a Content-Length over the limit is refused before any byte is read; a chunked
  body is counted), so the form parser never reads or spools more. The refusal closes the connection, so the
  server does not read the rest of the body either."""

  def __init__(self, app, limit, message):
    self.app, self.limit, self.message = app, limit, message

  async def __call__(self, scope, receive, send):
    if scope["type"] != "http":
      return await self.app(scope, receive, send)
    declared = Headers(scope=scope).get("content-length", "")
    # 19+ digits pass any limit, and int() refuses a text of over 4300 digits
    over = declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > self.limit)
    received = 0

    async def counted():
      nonlocal over, received
      if not over:
        message = await receive()
        received += len(message.get("body", b""))
        over = received > self.limit
        if not over:
          return message
      raise HTTPException(413, self.message)  # FastAPI passes it from the form parser to the exception handler

    async def closing(message):
      if over and message["type"] == "http.response.start":
        message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
      await send(message)

    await self.app(scope, counted, closing)


class HeadAsGet:
  """ASGI middleware: a HEAD request is answered as its GET, headers only (FastAPI's routes take GET alone)."""

  def __init__(self, app):
    self.app = app

  async def __call__(self, scope, receive, send):
    if scope["type"] != "http" or scope["method"] != "HEAD":
      return await self.app(scope, receive, send)

    async def headers_only(message):
      await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

    await self.app({**scope, "method": "GET"}, receive, headers_only)


def trusted_networks(entries):
  """config.trusted_proxies as normalised networks ("10.0.0.1" -> "10.0.0.1/32"); an entry that is not an address
  or a network is a UserError naming it (uvicorn would silently match it as a literal)."""
  entries = [entries] if isinstance(entries, str) else entries
  networks = []
  for entry in [part.strip() for entry in entries for part in str(entry).split(",") if part.strip()]:  # "a,b"
    try:
      networks.append(str(ipaddress.ip_network(entry, strict=False)))
    except ValueError:
      raise UserError(f"trusted_proxies: {entry!r} is not an IP address or network (e.g. 10.0.0.1 or "
                      f"10.0.0.0/8)") from None
  return networks


def create_app(config, workdir, worker_running=lambda: False):
  """The site's FastAPI app over `workdir` (site.db, jobs/, gallery/); `worker_running()` says whether the worker
  process runs (for /health)."""
  limits = config.limits
  jobs = queue_lib.JobQueue(site_files.database(workdir), config.worker.max_attempts)
  album = gallery_lib.Gallery(site_files.database(workdir), site_files.gallery_dir(workdir))
  rate = RateLimit(limits.submissions_per_minute)
  templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))
  app = FastAPI(title="stylejax", docs_url=None, redoc_url=None, openapi_url=None)
  app.add_middleware(BodyLimit, limit=2 * limits.max_upload_bytes + 100_000,  # two uploads and the form's fields
                     message=f"the upload is too large (limit {limits.max_upload_bytes / 1e6:.0f} MB per file)")
  app.add_middleware(HeadAsGet)
  if config.trusted_proxies:
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_networks(config.trusted_proxies))
  app.mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static")

  def models():
    return catalog.models(site_files.model_dirs(config, workdir))

  def render(request, name, code=200, **context):
    """A rendered template with the client's CSRF token (a new one is set as a cookie)."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(request, name, {"csrf": token, "max_upload_bytes": limits.max_upload_bytes,
                                                          **context}, status_code=code)
    if CSRF_COOKIE not in request.cookies:
      response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response

  def check_form(request, csrf):
    """CSRF: the form's token must equal the cookie's."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
      raise Refusal(403, "this form has expired or did not come from this site; reload the page and try again")

  def client(request):
    return request.client.host if request.client else "unknown"

  async def read_image(upload, what, max_side=None):
    """(the upload's size (width, height), the decoded upload shrunk to max_side if given) (in a worker thread: the
    event loop keeps serving), or a 413 / 415 refusal."""
    data = await upload.read(limits.max_upload_bytes + 1)

    def decode():
      img = uploads.decode(data, limits.max_upload_bytes, limits.max_upload_pixels, what, upload.size)
      return img.size, images.at_most(img, max_side) if max_side else img

    try:
      return await run_in_threadpool(decode)
    except images.TooLarge as e:
      raise Refusal(413, str(e)) from None
    except UserError as e:
      raise Refusal(415, str(e)) from None

  def save(token, name, img):
    """Writes a decoded upload into its job's folder (PNG, fast compression)."""
    images.save_image(os.path.join(site_files.job_dir(workdir, token), name), np.asarray(img), compress_level=1)

  def uploaded(pictures, painted=None):
    """enqueue's `write` for uploads: decodes and saves `pictures` ({file name: (upload, what, max side or None)});
    its params say which were shrunk and whether the picture named `painted` (a photorealistic job's style) is
    textured all over, as a painting (the painting guard, stylejax.core.texture)."""
    async def write(token):
      decoded = {name: await read_image(*upload) for name, upload in pictures.items()}
      for name, (_, img) in decoded.items():
        await run_in_threadpool(save, token, name, img)
      shrunk = {name: [list(size), list(img.size)] for name, (size, img) in decoded.items() if size != img.size}
      painting = painted and await run_in_threadpool(texture.textured_all_over, np.asarray(decoded[painted][1]))
      return {**({"shrunk": shrunk} if shrunk else {}), **({"painted_style": True} if painting else {})}
    return write

  def queue_full():
    return Refusal(503, f"the queue is full ({limits.max_queue} jobs); try again later", 60)

  async def enqueue(request, kind, limit, busy, write, params, email="", total=0):
    """Reserves one of the `limit` slots of `kind` (else the Refusal `busy`, which does not count against the
    client's rate: the pages retry it after its Retry-After) before any work, checks the client's rate, then
    writes the job's files (`await write(token)`, which returns params to add; a clip's `frames` are the job's
    total) and queues the job; the slot is given back (and the job's files removed) if that fails. Returns the
    redirect to the job's page."""
    token = jobs.reserve(kind, limit, client(request), email)
    if token is None:
      raise busy
    try:
      rate.check(client(request))
      added = await write(token)
      jobs.submit(token, {**params, **added}, added.get("frames", total))
    except BaseException:
      jobs.cancel(token)
      shutil.rmtree(site_files.job_dir(workdir, token), ignore_errors=True)
      raise
    return RedirectResponse(f"/jobs/{token}", 303)

  def send_file(path, media_type, missing, filename=None):
    """The file at `path` (a download named `filename` if given), or a 404 saying `missing` if it is not there,
    also when retention or a delete removed it after its job or item was found (stat once, here: FileResponse
    would answer 500 for a file gone by the time it looks)."""
    try:
      found = os.stat(path)
    except FileNotFoundError:
      found = None
    if found is None or not stat.S_ISREG(found.st_mode):
      raise Refusal(404, missing)
    return FileResponse(path, media_type=media_type, filename=filename, stat_result=found)

  def find_job(token):
    job = jobs.get(token) if len(token) <= 64 else None
    if job is None:
      raise Refusal(404, f"there is no such job (the link may be mistyped, or the job was removed: finished jobs "
                         f"are kept {config.retention.keep_days:g} days)")
    return job

  def expected_times(job):
    """{prepare_seconds, step_seconds}: the medians of the latest finished jobs of the same kind, method or model
    and size on this site (measured by the worker; a video's steps are frames), or None before the first one."""
    if job.kind == "online":
      return None
    alike = lambda params: (params.get("method"), params.get("model"), params.get("size"))  # noqa: E731
    same = [result for params, result in jobs.recent_results(job.kind)
            if alike(params) == alike(job.params) and "step_seconds" in result]
    if not same:
      return None
    return {key: float(np.median([result[key] for result in same])) for key in ("prepare_seconds", "step_seconds")}

  def job_status(job):
    """What a job page shows, as JSON: state, queue position, steps, the seconds it has run (`elapsed`), the
    site's measured times for such a job (`expected`), whether its worker stopped and it waits to restart
    (`stalled`), a message (why it failed, or that it restarted: queue.RESTARTED); once ended, the user's wait
    (`waited`: from the upload to the end, queue included) and, once done, its files and the worker's time
    (`seconds`)."""
    now = time.time()
    running = job.state == queue_lib.RUNNING
    status = {"state": job.state, "kind": job.kind, "step": job.step, "total": job.total,
              "position": jobs.position(job.token), "message": job.message,
              "elapsed": now - job.started if running and job.started else None,
              "expected": expected_times(job) if job.state in (queue_lib.QUEUED, queue_lib.RUNNING) else None,
              "stalled": running and job.lease_until is not None and job.lease_until < now}
    if job.state == queue_lib.DONE:
      folder = site_files.job_dir(workdir, job.token)
      status["files"] = {name: f"/jobs/{job.token}/files/{name}" for name in site_files.PUBLIC
                         if os.path.isfile(os.path.join(folder, name))}
      if job.kind == "video":
        status["video"] = status["files"].get(site_files.result_video(job.params["clip"]))
      status["seconds"] = job.result.get("seconds")  # the worker's time for it
    if job.state in (queue_lib.DONE, queue_lib.FAILED) and job.finished:
      status["waited"] = job.finished - job.created
    return status

  def share_title(job):
    """A shared result's title when its sharer gives none: the uploaded style file's name, else how it was made
    (for an online job, its model's name)."""
    return job.params.get("style_title") or catalog.how_made(job)

  def artistic_size(job):
    """The size of the artistic job the painting guard offers: the job's own, an online job's the custom form's
    first."""
    return job.params.get("size", config.custom.sizes[0])

  def job_inputs(job):
    """(the path of the job's photo (a video job's clip), the path of its style or None): the uploaded style, else
    its model's."""
    folder = site_files.job_dir(workdir, job.token)
    style = os.path.join(folder, site_files.STYLE)
    if not os.path.isfile(style):
      model = models().get(job.params.get("model", ""))
      style = model.style if model is not None and model.style else None
    photo = {"online": site_files.INPUT, "custom": site_files.CONTENT}.get(job.kind) or job.params["clip"]
    return os.path.join(folder, photo), style

  def job_pictures(job):
    """{"before": the photo's URL, "style": the style's URL or None} for a job's page."""
    before, style = job_inputs(job)
    if style is not None:
      style = (f"/jobs/{job.token}/files/{site_files.STYLE}" if os.path.dirname(style) == os.path.dirname(before)
               else f"/models/{job.params['model']}/style.jpg")
    return {"before": f"/jobs/{job.token}/files/{os.path.basename(before)}", "style": style}

  @app.middleware("http")
  async def guard(request, call_next):
    """Security headers on every response."""
    response = await call_next(request)
    response.headers.update(HEADERS)
    return response

  def refusal_response(request, refusal):
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    if "text/html" not in request.headers.get("accept", ""):
      return JSONResponse({"error": refusal.message}, refusal.status, headers=headers)
    response = render(request, "error.html", refusal.status, message=refusal.message)
    response.headers.update(headers or {})
    return response

  @app.exception_handler(Refusal)
  async def refused(request, refusal):
    return refusal_response(request, refusal)

  @app.exception_handler(HTTPException)
  async def http_error(request, error):
    messages = {404: "there is no such page", 405: "this address does not take that kind of request"}
    return refusal_response(request, Refusal(error.status_code, messages.get(error.status_code, str(error.detail))))

  @app.exception_handler(RequestValidationError)
  async def invalid_form(request, error):
    problems = sorted({f"{e['loc'][-1]} ({e['msg'][0].lower()}{e['msg'][1:]})" for e in error.errors()})
    return refusal_response(request, Refusal(422, f"the request is missing or has a bad value for: "
                                                  f"{', '.join(problems)}"))

  @app.exception_handler(Exception)
  async def internal_error(request, error):
    log.exception("internal error on %s", request.url.path)
    return refusal_response(request, Refusal(500, "something went wrong on the site; please try again later"))

  def groups():
    """{menu group: [catalog.Model]}: painting styles, then photo styles."""
    grouped = collections.defaultdict(list)
    for model in models().values():
      grouped[model.group].append(model)
    return grouped

  @app.get("/")
  def home(request: Request):
    return render(request, "home.html", groups=groups())

  def menu(model):
    """The model menu's page values, `model` chosen (the home page's tiles link with theirs), else the first."""
    grouped = groups()  # one scan of the model folders per page
    names = [found.name for group in grouped.values() for found in group]
    return {"groups": grouped, "chosen": model if model in names else next(iter(names), ""),
            "style_input": any(found.takes_style for group in grouped.values() for found in group)}

  def chosen_model(model, strength, style):
    """The catalog.Model named `model` for a form with `strength` and an uploaded `style` photo, or a 422."""
    chosen = models().get(model)
    if chosen is None:
      raise Refusal(422, "choose one of the models in the menu")
    if not 0.0 <= strength <= 1.0:
      raise Refusal(422, "the strength must be between 0 and 1")
    if chosen.takes_style and (style is None or not style.filename):  # a browser sends an empty part for none
      raise Refusal(422, f"{chosen.title} takes the look of a style photo: choose one beside your photo")
    return chosen

  def checked_email(email):
    """The address a job's result is mailed to ('' for none, or when the site sends no mail), or a 422."""
    try:
      return mail.check_address(email) if mail.enabled(config.smtp) else ""
    except UserError as e:
      raise Refusal(422, str(e)) from None

  def style_params(chosen, style):
    return {"style_title": uploads.title_from_name(style.filename)} if chosen.takes_style else {}

  @app.get("/stylize")
  def stylize_form(request: Request, model: str = ""):
    return render(request, "stylize.html", max_side=config.online.max_side, **menu(model))

  @app.post("/stylize")
  async def stylize(request: Request, photo: UploadFile, model: str = Form(), csrf: str = Form(""),
                    strength: float = Form(1.0), style: UploadFile | None = None, match_regions: bool = Form(False)):
    """An online job: the photo stylised by a fast model in seconds; a model that takes region masks matches the
    regions photo and style share (sky to sky) where asked."""
    check_form(request, csrf)
    chosen = chosen_model(model, strength, style)
    pictures = {site_files.INPUT: (photo, "the photo", config.online.max_side)}
    if chosen.takes_style:
      pictures[site_files.STYLE] = (style, "the style photo", config.online.max_side)
    return await enqueue(request, "online", config.online.max_pending,
                         Refusal(503, "the site is busy stylising other photos; try again in a few seconds", 2),
                         uploaded(pictures, site_files.STYLE if chosen.takes_style else None),
                         {"model": model, "strength": strength, **style_params(chosen, style),
                          "regions": config.online.regions if match_regions and chosen.takes_masks else 0}, total=1)

  @app.get("/video")
  def video_form(request: Request, model: str = ""):
    return render(request, "video.html", video=config.video, mail=mail.enabled(config.smtp), **menu(model))

  @app.post("/video")
  async def stylize_video(request: Request, clip: UploadFile, model: str = Form(), csrf: str = Form(""),
                          strength: float = Form(1.0), email: str = Form(""), style: UploadFile | None = None):
    """A video job: the clip (at most video.max_seconds long) stylised by a fast model in the main lane; its page's
    link mailed when done, if asked."""
    check_form(request, csrf)
    chosen = chosen_model(model, strength, style)
    email = checked_email(email)
    name = "clip" + os.path.splitext(clip.filename or "")[1].lower()
    if name not in site_files.CLIPS:
      raise Refusal(415, f"“{clip.filename}” is not a clip the site takes: send an mp4, webm, mov, mkv or avi "
                         f"file or an animated GIF")
    styled = uploaded({site_files.STYLE: (style, "the style photo", config.online.max_side)} if chosen.takes_style
                      else {})

    async def write(token):
      added = await styled(token)
      path = os.path.join(site_files.job_dir(workdir, token), name)
      data = await clip.read(limits.max_upload_bytes + 1)
      try:
        uploads.check_received(data, limits.max_upload_bytes, "the clip", clip.size)
      except images.TooLarge as e:
        raise Refusal(413, str(e)) from None
      except UserError as e:
        raise Refusal(415, str(e)) from None

      def store():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
          f.write(data)
        return video.probe(path)

      try:
        found = await run_in_threadpool(store)
      except UserError as e:  # its message names the file by its path here
        raise Refusal(415, str(e).replace(path, f"“{clip.filename}”")) from None
      seconds = float(found.frames / found.rate)
      if seconds > config.video.max_seconds:
        raise Refusal(422, f"the clip is {seconds:.1f} s long; the site stylises clips up to "
                           f"{config.video.max_seconds:g} s: trim it")
      return {**added, "clip": name, "frames": found.frames, "seconds": round(seconds, 2),
              "size": [found.width, found.height]}

    return await enqueue(request, "video", limits.max_queue, queue_full(), write,
                         {"model": model, "strength": strength, **style_params(chosen, style)}, email)

  def refining_model():
    """The catalog.Model the custom form's quick photorealistic method refines (custom.refined), or None where the
    site has no such model that refines: then the method is not offered."""
    found = models().get(config.custom.refined)
    return found if found is not None and found.refines else None

  @app.get("/custom")
  def custom_form(request: Request):
    return render(request, "custom.html", sizes=config.custom.sizes, mail=mail.enabled(config.smtp),
                  refined=refining_model() is not None)

  @app.post("/custom")
  async def custom(request: Request, content: UploadFile, style: UploadFile, method: str = Form(),
                   size: int = Form(), email: str = Form(""), csrf: str = Form("")):
    check_form(request, csrf)
    refined = refining_model() if method == "refined" else None
    if method not in ("gatys", "luan") and refined is None:
      raise Refusal(422, "choose the artistic or a photorealistic method")
    if size not in config.custom.sizes:
      raise Refusal(422, f"choose a size of {', '.join(map(str, config.custom.sizes))} px")
    email = checked_email(email)
    pictures = {site_files.CONTENT: (content, "the content image"), site_files.STYLE: (style, "the style image")}
    return await enqueue(request, "custom", limits.max_queue, queue_full(),
                         uploaded(pictures, site_files.STYLE if method != "gatys" else None),
                         {"method": method, "size": size, "style_title": uploads.title_from_name(style.filename),
                          **({"model": refined.name} if refined else {})}, email)

  @app.get("/jobs/{token}")
  def job_page(request: Request, token: str):
    job = find_job(token)
    return render(request, "job.html", job=job, status=job_status(job), pictures=job_pictures(job),
                  title=catalog.how_made(job), share_title=share_title(job), artistic_size=artistic_size(job),
                  result=site_files.result_video(job.params["clip"]) if job.kind == "video" else site_files.RESULT,
                  video_max_side=config.video.max_side)

  @app.get("/jobs/{token}/status")
  def job_state(token: str):
    return job_status(find_job(token))

  @app.get("/jobs/{token}/files/{name}")
  def job_file(token: str, name: str, download: bool = False):
    job = find_job(token)
    path = os.path.join(site_files.job_dir(workdir, job.token), name)
    if name not in site_files.PUBLIC:
      raise Refusal(404, "this job has no such file")
    return send_file(path, site_files.MEDIA_TYPES[os.path.splitext(name)[1]], "this job has no such file",
                     f"stylejax-{job.token[:8]}-{name}" if download else None)

  @app.post("/jobs/{token}/share")
  def share(request: Request, token: str, csrf: str = Form(""), title: str = Form("")):
    """Adds a finished job's result to the gallery with its photo and style (once: sharing it again opens its
    page)."""
    check_form(request, csrf)
    job = find_job(token)
    if job.state != queue_lib.DONE:
      raise Refusal(409, "only a finished job's result can be added to the gallery")
    if job.kind == "video":
      raise Refusal(409, "the gallery holds pictures, not videos: download the video from its page to share it")
    shared = album.shared_from(job.token)
    if shared is None:
      rate.check(client(request))
      folder = site_files.job_dir(workdir, job.token)
      before, style = job_inputs(job)
      caption = (f"{catalog.how_made(job)}: a custom job at {job.params['size']} px" if job.kind == "custom" else
                 f"Fast network {catalog.how_made(job)}" + (" with an uploaded style photo"
                                                            if job.params.get("style_title") is not None else ""))
      item_id, owner = album.add(images.read_rgb(os.path.join(folder, site_files.RESULT)),
                                 " ".join(title.split())[:80] or share_title(job), caption,
                                 images.read_rgb(before), style and images.read_rgb(style), job.token)
      if owner is not None:
        return render(request, "shared.html", item=album.get(item_id), owner=owner)
      shared = album.get(item_id)
    return RedirectResponse(f"/gallery/{shared.id}", 303)

  @app.post("/jobs/{token}/artistic")
  async def artistic(request: Request, token: str, csrf: str = Form("")):
    """The painting guard's offer: a job whose style picture looks like a painting again, as a custom job of the
    artistic method with the same photo and style, at artistic_size, mailed where the job was."""
    check_form(request, csrf)
    job = find_job(token)
    if not job.params.get("painted_style"):
      raise Refusal(409, "the artistic method is offered here for a style picture that looks like a painting")
    pictures = dict(zip((site_files.CONTENT, site_files.STYLE), job_inputs(job)))
    if not all(os.path.isfile(path) for path in pictures.values()):
      raise Refusal(404, "this job's pictures were removed")

    async def write(new_token):
      folder = site_files.job_dir(workdir, new_token)
      os.makedirs(folder, exist_ok=True)
      for name, path in pictures.items():
        await run_in_threadpool(shutil.copyfile, path, os.path.join(folder, name))
      return {}

    return await enqueue(request, "custom", limits.max_queue, queue_full(), write,
                         {"method": "gatys", "size": artistic_size(job), "style_title": job.params.get("style_title")},
                         job.email)

  @app.get("/gallery")
  def gallery_page(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE)):
    items, pages = album.page(page, limits.gallery_page_size)
    if page > pages:
      raise Refusal(404, f"there is no page {page}: the gallery has {pages} page{'s' * (pages > 1)}")
    return render(request, "gallery.html", items=items, page=page, pages=pages)

  @app.post("/gallery")
  async def gallery_upload(request: Request, image: UploadFile, title: str = Form(""), csrf: str = Form("")):
    check_form(request, csrf)
    title = " ".join(title.split())[:80] or "untitled"
    rate.check(client(request))
    _, img = await read_image(image, "the image")
    item_id, owner = await run_in_threadpool(album.add, img, title)
    return render(request, "shared.html", item=album.get(item_id), owner=owner)

  def find_item(item_id):
    item = album.get(item_id) if len(item_id) <= 32 else None
    if item is None:
      raise Refusal(404, GONE_ITEM)
    return item

  @app.get("/gallery/{item_id}")
  def gallery_item(request: Request, item_id: str):
    item = find_item(item_id)
    site = (config.base_url or str(request.base_url)).rstrip("/")  # as configured, else as the browser asked
    return render(request, "gallery_item.html", item=item, url=f"{site}/gallery/{item.id}")

  @app.get("/gallery/{item_id}/before")
  def gallery_before(item_id: str):
    return send_file(album.before_path(find_item(item_id).id), "image/jpeg", GONE_ITEM)

  @app.get("/gallery/{item_id}/style")
  def gallery_style(item_id: str):
    return send_file(album.style_path(find_item(item_id).id), "image/jpeg", GONE_ITEM)

  @app.get("/gallery/{item_id}/image")
  def gallery_image(item_id: str, download: bool = False):
    item = find_item(item_id)
    return send_file(album.image_path(item.id), "image/png", GONE_ITEM,
                     f"stylejax-gallery-{item.id}.png" if download else None)

  @app.get("/gallery/{item_id}/thumb")
  def gallery_thumb(item_id: str):
    return send_file(album.thumb_path(find_item(item_id).id), "image/jpeg", GONE_ITEM)

  @app.post("/gallery/{item_id}/delete")
  def gallery_delete(request: Request, item_id: str, token: str = Form(""), csrf: str = Form("")):
    check_form(request, csrf)
    item = find_item(item_id)
    if not album.delete(item.id, token.strip()):
      raise Refusal(403, "that is not this picture's delete token")
    return RedirectResponse("/gallery", 303)

  @app.get("/models/{name}/{picture}.jpg")
  def model_picture(name: str, picture: str):
    """A model's style image (style.jpg) or example result (example.jpg)."""
    model = models().get(name)
    path = {"style": model.style, "example": model.example}.get(picture) if model is not None else None
    if not path:
      raise Refusal(404, f"this model has no {picture} image")
    return send_file(path, "image/jpeg", f"this model has no {picture} image")

  @app.get("/favicon.ico")
  def favicon():
    return FileResponse(os.path.join(HERE, "static", "favicon.svg"), media_type="image/svg+xml")

  @app.get("/health")
  def health():
    """200 while the site can do its work (its worker runs and its database answers), else 503; counts only,
    no process ids."""
    try:
      status = {f"{kind}_pending": jobs.pending(kind) for kind in queue_lib.PRIORITY}
    except sqlite3.Error:
      status = {"database": "unusable"}
    status.update(worker="running" if worker_running() else "stopped", models=len(models()))
    ok = status["worker"] == "running" and "database" not in status
    return JSONResponse({"ok": ok, **status}, 200 if ok else 503)

  return app
