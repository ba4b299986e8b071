"""The website: online stylisation with the fast models, queued custom jobs (Gatys, Luan, the universal network
refined) with e-mail, a gallery.

  python run.py --config configs/web.py --workdir runs/site [--config.port=8000]

Serves http://127.0.0.1:8000 and starts the worker process that runs the jobs;
Ctrl-C stops both. Everything the site keeps lives in --workdir (site.db, jobs/,
gallery/, worker.log), so starting it again continues the queued and running
jobs. Models: the bundled ones plus every model directory in models_dir (a
configs/johnson.py or configs/fast_photo.py workdir, or an export of one).
Argument `tiny`: 64 px custom jobs of a few steps (tests, demos).
"""

import ml_collections

from configs import common


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "web"
  config.seed = 0
  config.host = "127.0.0.1"  # 0.0.0.0 to serve other machines (put TLS in front: a reverse proxy)
  config.port = 8000
  config.base_url = ""  # the address people reach the site at, for links in mail ("": http://host:port)
  config.models_dir = ""  # more model directories ("": WORKDIR/models); the bundled models are always offered
  # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, e.g. ("127.0.0.1", "10.0.0.0/8")).
  # None by default: the rate limit counts the connecting address. Behind a proxy, name it, or all visitors
  # share its address (and its limit); the client is the right-most address in the header not listed here.
  config.trusted_proxies = ()

  config.online = ml_collections.ConfigDict()
  config.online.max_side = 1280  # photos are stylised at their own size up to this long side
  config.online.max_pending = 4  # online requests waiting or running; more get 503 + Retry-After
  # "Match regions" (a network that takes masks), and the custom form's quick photorealistic method: up to this
  # many automatic regions shared by the photo and the style.
  config.online.regions = 6

  config.custom = ml_collections.ConfigDict()
  config.custom.gatys = "gatys"  # the preset (configs/NAME.py[:arg]) of the artistic method
  config.custom.luan = "luan"  # ... of the photorealistic method (automatic masks)
  # The quick photorealistic method: the site's model of this name (one that refines: the bundled universal network)
  # on the pair with online.regions automatic regions, its grid refined with slow Luan's objective for refine_steps
  # steps (one to two minutes on 2 CPU cores; stylejax.methods.refine); "" or a model that is not there: not
  # offered.
  config.custom.refined = "universal"
  config.custom.refine_steps = 50
  # Long sides offered; the first is the default. Above twice a preset's own size, a job runs coarse to fine
  # (stylejax.web.worker.coarse_to_fine): Luan's result is carried up as local affine colour transforms.
  config.custom.sizes = (256, 384, 512, 768, 1024)
  config.custom.log_every_steps = 10  # progress updates

  # Video clips (the /video form): any fast model, frame by frame with its state carried across frames (see
  # docs/video.md), the audio kept.
  config.video = ml_collections.ConfigDict()
  config.video.max_seconds = 10.0  # longer clips are refused (422: trim it)
  config.video.max_side = 1280  # larger clips are shrunk to this long side first (1280: 720p)
  config.video.chunk = 32  # frames per kept segment: a job restarted after a crash resumes after its last one
  config.video.batch_size = 4  # frames per forward pass

  config.limits = ml_collections.ConfigDict()
  config.limits.max_upload_bytes = 15_000_000  # per file
  config.limits.max_upload_pixels = 40_000_000  # per image, checked from its header before decoding
  config.limits.submissions_per_minute = 20  # per client address (online, custom, gallery); more get 429
  config.limits.max_queue = 20  # custom jobs waiting or running, and as many video jobs; more get 503 + Retry-After
  config.limits.gallery_page_size = 12

  # Disk: finished jobs (page, uploads, result) and gallery items are removed oldest first past these limits,
  # checked at the start and every every_seconds; queued and running jobs are never removed.
  config.retention = ml_collections.ConfigDict()
  config.retention.keep_days = 30.0  # a finished job is removed this long after it ended
  config.retention.max_job_bytes = 5_000_000_000  # all job folders together; past it the oldest finished jobs go
  config.retention.max_gallery_items = 1000  # past it the oldest items go
  config.retention.max_gallery_bytes = 2_000_000_000
  config.retention.every_seconds = 300.0

  # Mail (smtplib); no host: no mail, the job page is the only delivery. Password also from $STYLEJAX_SMTP_PASSWORD.
  config.smtp = ml_collections.ConfigDict()
  config.smtp.host = ""
  config.smtp.port = 587
  config.smtp.security = "starttls"  # starttls | ssl | none
  config.smtp.user = ""
  config.smtp.password = ""
  config.smtp.sender = "stylejax@localhost"
  config.smtp.retry_seconds = 60.0  # mail the SMTP server refused is tried again this often (also during a long job)

  config.worker = ml_collections.ConfigDict()
  config.worker.lease_seconds = 60.0  # a dead worker's job is run again after this (at once when seen dying)
  config.worker.max_attempts = 3  # a job that stops its worker this often fails
  config.worker.poll_seconds = 0.05
  config.worker.max_models = 8  # fast models kept in memory (least recently used ones are dropped)
  # Compiled programs kept: past this many photo shapes (per model) and custom jobs since the last drop, the worker
  # drops them all (each XLA:CPU program holds memory maps; past vm.max_map_count, 65530, a process crashes). It
  # also drops them once it holds half of vm.max_map_count maps, whatever this says.
  config.worker.max_programs = 64

  if "tiny" in common.arguments(arg, ("tiny",)):
    config.custom.gatys, config.custom.luan = "gatys:tiny", "luan:tiny"
    config.custom.sizes = (64,)
    config.custom.log_every_steps = 2
    config.custom.refine_steps = 4
    config.video.chunk, config.video.batch_size = 4, 2
    config.worker.lease_seconds = 5.0
  return config
