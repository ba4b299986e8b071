"""The `bench_johnson` job: fast-transfer speed after compilation, for either network kind
(configs/bench_johnson.py, configs/bench_fast_photo.py).

Three measurements, each on the real jitted code:
- the training step (`train.train_step`) at the config's image_size and batch_size,
  per compute dtype: ms/step and images/s;
- one stylisation (`nets.stylize`, batch 1) at each bench size (N: N×N, WxH), per
  dtype: ms/image and megapixels/s;
- the `stylize` job (settings in `config.stylize`) over a folder of
  `bench_folder_images` photos (the samples at long side `bench_folder_side`),
  with a network trained for one step: images/s including decoding and writing,
  from a second pass over the folder (the first compiles once per image size).
Writes bench.md and bench.json.
"""

import os

import jax
import jax.numpy as jnp
import optax

from stylejax import settings
from stylejax.core import nets
from stylejax.core.objective import DTYPES
from stylejax.errors import UserError
from stylejax.io import assets, data, images, runlog, weights
from stylejax.jobs import stylize, train
from stylejax.methods import training
from stylejax.tools import bench, timing


def _train_step_case(config, vgg, dtype):
  config = settings.with_values(config, compute_dtype=dtype)
  objective, net, tx = settings.objective(config), settings.network(config), optax.adam(1e-3)
  extras = settings.training_terms(config)
  grams, _ = train.style_grams(objective, vgg, config)
  source = data.make_source("samples")
  batch = jnp.asarray(data.training_batches(source, config.image_size, config.batch_size, config.seed)[0])
  state = training.init_state(net, tx, config.image_size, config.seed)

  def step():
    nonlocal state
    state, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx, **extras)
    return metrics["total"]

  seconds = timing.median_seconds(step, config.bench_steps)
  return {"what": "train step", "size": config.image_size, "batch": config.batch_size, "dtype": dtype,
          "ms": seconds * 1e3, "images_per_s": config.batch_size / seconds}


def _stylize_case(config, width, height, dtype):
  net = settings.network(settings.with_values(config, compute_dtype=dtype))
  params = net.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))["params"]
  image = jnp.asarray(images.resize(images.load_image(assets.path("chelsea.jpg")), height, width))[None]
  seconds = timing.median_seconds(lambda: nets.stylize(net, params, image), config.bench_steps)
  return {"what": "stylise", "size": f"{width}x{height}" if width != height else width, "batch": 1, "dtype": dtype,
          "ms": seconds * 1e3, "megapixels_per_s": width * height / 1e6 / seconds}


def _folder_case(config, workdir):
  model = os.path.join(workdir, "model")
  train.run(settings.with_values(config, total_steps=1, sample_every_steps=0, checkpoint_every_steps=1), model)
  folder = os.path.join(workdir, "folder")
  paths = data.sample_paths()
  for k in range(config.bench_folder_images):
    image = images.load_image(paths[k % len(paths)], config.bench_folder_side)
    images.save_image(os.path.join(folder, f"{k:04d}.jpg"), image)
  job_config = settings.with_values(config.stylize, checkpoint=model, input=folder,
                                    output=os.path.join(workdir, "stylized"), overwrite=True)
  for _ in range(2):  # the first pass compiles once per image size
    job = stylize.run(job_config, os.path.join(workdir, "stylize"))
  return {"what": "stylize job", "size": config.bench_folder_side, "batch": config.stylize.batch_size,
          "dtype": job["compute_dtype"], "ms": 1e3 / job["images_per_s"], "images_per_s": job["images_per_s"]}


def markdown(rows, env, kind):
  lines = [f"Fast transfer ({kind} network), {env['device_kind']} ({env['platform']}), jax {env['jax_version']}", "",
           "| what | size (px) | batch | dtype | ms | images/s | megapixels/s |", "|---|---|---|---|---|---|---|"]
  for r in rows:
    ips = f"{r['images_per_s']:.2f}" if "images_per_s" in r else ""
    mps = f"{r['megapixels_per_s']:.2f}" if "megapixels_per_s" in r else ""
    lines.append(f"| {r['what']} | {r['size']} | {r['batch']} | {r['dtype']} | {r['ms']:.1f} | {ips} | {mps} |")
  return "\n".join(lines) + "\n"


def run(config, workdir):
  sizes = bench.parse_sizes(config.bench_sizes)
  dtypes = settings.as_list(config.bench_dtypes, name="bench_dtypes")
  if [d for d in dtypes if d not in DTYPES] or not sizes or min(map(min, sizes)) < 16 or config.bench_steps < 1:
    raise UserError(f"bad bench settings: dtypes from {', '.join(DTYPES)}, sizes >= 16, bench_steps >= 1")
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  cases = [lambda d=d: _train_step_case(config, vgg, d) for d in dtypes]
  cases += [lambda s=s, d=d: _stylize_case(config, *s, d) for s in sizes for d in dtypes]
  if config.bench_folder_images:
    cases.append(lambda: _folder_case(config, workdir))
  bar = runlog.progress(len(cases), "bench")
  rows = []
  for case in cases:
    rows.append(case())
    bar.update(1)
  bar.close()
  env = runlog.environment()
  runlog.write_table(workdir, markdown(rows, env, config.net.kind),
                     {"rows": rows, "environment": env, "steps_timed": config.bench_steps})
  return rows
