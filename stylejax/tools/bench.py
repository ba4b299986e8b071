"""The `bench` job: the time of one piece of work, ours or a peer's, after compilation.

One point of a benchmark sweep (configs/sweeps/bench_*.py); `config.bench`
says what to time:
- case `pixel_step`: one optimisation step of the config's objective (Gatys,
  or Luan's with masks and the matting term), the real jitted chunk of
  `bench.steps` steps (`methods.pixels.run_chunk`) with the targets the
  optimize job builds, at `bench.size` (N: N×N, or WxH), in `compute_dtype`,
  with `optimizer`. Also TFLOP/s from the analytic VGG convolution count
  (forward + input gradient = 2x the forward FLOPs per loss evaluation; none for
  a line search, which evaluates a variable number of times) and the step's
  memory (`timing.program_gib`: the compiled chunk's arguments, outputs and
  temporaries; also for our train_step and stylize: `memory_gib`).
- case `train_step`: one training step of the config's network (`train_step`)
  at image_size and batch_size; images/s. A network that takes a style input
  gets the batch's styles drawn from `style` as the train job draws them.
- case `stylize`: one stylisation (batch 1) at `bench.size`; megapixels/s. A
  network that takes a style input gets the first photo of `style` at the same
  size, so the time includes the style's encoding.
- case `stylize_folder`: the stylize job (settings in `config.stylize`, e.g.
  its engine) over `bench.folder_images` photos of long side
  `bench.folder_side`, with a network trained for one step, twice: images/s
  of the second pass (the first compiles) and the job time of each pass.
- case `matting`: building the matting Laplacian of a photo at `bench.size` and
  one 3-channel matvec, with `loss.laplacian_backend` (banded: the jitted
  float32 build the optimisations use, `matting.prepare`; matrix_free;
  sparse).

`bench.impl` picks whose code runs: `ours`, `torch` (stylejax.tools.peers_torch:
pixel_step of the Gatys objective, train_step and stylize of the Johnson
network), `scipy` (matting: the float64 CSR matrix built with numpy/scipy and
scipy's sparse matvec) or `pymatting` (matting: `cf_laplacian` and scipy's
matvec of its matrix). Every time comes from `timing.measure` (`bench.repeats`
calls after a warm-up one); the point's summary holds them in ms.
"""

import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylejax import api, launch, settings
from stylejax.core import matting, networks
from stylejax.core import vgg as vgg_lib
from stylejax.core.vgg import DTYPES
from stylejax.errors import UserError
from stylejax.io import assets, configs, data, images, runlog, weights
from stylejax.methods import pixels, training
from stylejax.tools import timing

CASES = ("pixel_step", "train_step", "stylize", "stylize_folder", "matting")
PEERS = {"torch": ("pixel_step", "train_step", "stylize"), "scipy": ("matting",), "pymatting": ("matting",)}
RANGES = {"steps": (1, 1000), "repeats": (1, 1000), "folder_images": (1, 10_000), "folder_side": (16, 8192)}


def parse_size(value, max_pixels, max_side=None):
  """'256' -> (256, 256); '700x466' -> (700, 466), as (width, height): each side at least 16 px and at most
  `max_side` (the method's max_image_size, where it has one), and at most `max_pixels` pixels in all (the
  config's max_input_pixels), so that a typo is a clear error, not a MemoryError."""
  sides = str(value).lower().split("x")
  try:
    width, height = (int(side) for side in sides) if len(sides) == 2 else (int(value),) * 2
  except ValueError:
    raise UserError(f"cannot read bench.size {value!r}: use N or WxH") from None
  if min(width, height) < 16:
    raise UserError(f"bench.size must be at least 16 px on each side, got {value!r}")
  if max(width, height) > (max_side or max(width, height)) or width * height > max_pixels:
    raise UserError(f"bench.size {value!r} is larger than the config allows: {max_side or 'any'} px a side "
                    f"(max_image_size), {max_pixels:,} pixels (max_input_pixels)")
  return width, height


def peer_module(module, package):
  """The module of an optional peer, or a one-line error saying how to install its `package`."""
  try:
    return importlib.import_module(module)
  except ImportError:
    raise UserError(f"the {package} peer needs {package}: pip install -e '.[peers]'") from None


def pixel_step(config, vgg, width, height):
  content, styles, _, content_mask, style_mask = api.read_inputs(config)
  image = images.resize(images.at_long_side(content), height, width)
  if config.bench.impl == "torch":
    if config.masks.source != "none" or config.loss.affine_weight or config.optimizer != "adam":
      raise UserError("the torch peer implements the Gatys step with Adam (no masks, no affine term)")
    style = images.at_long_side(styles[0], round(max(width, height) * config.style_scale))
    peers = peer_module("stylejax.tools.peers_torch", "torch")
    return timing.measure(peers.gatys_step(config, image[None], style[None]), config.bench.repeats, peers.wait)
  masks = api.find_masks(settings.mask_settings(config), vgg, content, styles[0], max(width, height),
                         config.style_scale, content_mask, style_mask)
  transfer = api.PixelTransfer(settings.transfer_settings(config), settings.objective(config), content, styles,
                               [1.0] * len(styles), vgg, masks)
  targets = transfer.targets(image, max(width, height))
  x = jnp.asarray(image)[None]
  tx, linesearch = pixels.optimizer(config.optimizer, config.learning_rate, transfer.objective, x.size)
  vgg = vgg.with_winograd_filters(transfer.objective.layers)  # as pixels.optimize
  carry = (x, pixels.init_state(tx, x))
  kwargs = dict(objective=transfer.objective, tx=tx, linesearch=linesearch, steps=config.bench.steps)

  def chunk():  # x and the state are donated: each call continues from the last
    nonlocal carry
    x, state, _ = pixels.run_chunk(vgg, targets, *carry, **kwargs)
    carry = (x, state)
    return x

  result = timing.measure(chunk, config.bench.repeats, per_call=config.bench.steps)
  result["memory_gib"] = timing.program_gib(pixels.run_chunk, vgg, targets, *carry, **kwargs)
  objective = transfer.objective
  flops = 2 * vgg_lib.conv_flops(vgg.arch, height, width, objective.layers)
  return {**result, "tflops": None if linesearch else flops / result["ms"] / 1e9,
          "finite": bool(jnp.all(jnp.isfinite(carry[0])))}


def _training_inputs(config):
  batch = data.training_batches(data.make_source("samples"), config.image_size, config.batch_size, config.seed)[0]
  return np.asarray(batch)


def train_step(config, vgg):
  if config.bench.impl == "torch":
    peers = peer_module("stylejax.tools.peers_torch", "torch")
    style = images.load_image(settings.paths(config.style, "style")[0], config.style_size)
    step = peers.johnson_train_step(config, _training_inputs(config), style[None])
    result = timing.measure(step, config.bench.repeats, peers.wait)
  else:
    objective, net, tx = settings.objective(config), settings.network(config), optax.adam(config.learning_rate)
    grams, _ = api.style_targets(objective, vgg, settings.paths(config.style, "style")[0], config.style_size,
                                 config.max_input_pixels)
    styles = None
    if net.takes_style:  # the styles of the train job's first batch; their Grams are computed in the step
      style_set = data.style_examples(settings.paths(config.style, "style"), config.style_size,
                                      config.max_input_pixels)
      grams, styles = None, jnp.asarray(data.styles_for_step(style_set, 0, config.batch_size, config.seed))
    batch = jnp.asarray(_training_inputs(config))
    state = training.init_state(net, tx, config.image_size, config.seed, config.style_size)

    def step():
      nonlocal state
      state, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx,
                                           styles=styles)
      return metrics["total"]
    result = timing.measure(step, config.bench.repeats)
    result["memory_gib"] = timing.program_gib(training.jitted_step, state, batch, vgg, grams, objective=objective,
                                              net=net, tx=tx, styles=styles)
  return {**result, "images_per_s": config.batch_size * 1e3 / result["ms"]}


def stylize_once(config, width, height):
  image = images.resize(images.load_image(assets.path("chelsea.jpg")), height, width)[None]
  if config.bench.impl == "torch":
    peers = peer_module("stylejax.tools.peers_torch", "torch")
    result = timing.measure(peers.johnson_stylize(config, image), config.bench.repeats, peers.wait)
  else:
    net = settings.network(config)
    inputs = jnp.zeros((1, 32, 32, 3))
    params = net.init(jax.random.key(config.seed), inputs, inputs if net.takes_style else None)
    style = None
    if net.takes_style:  # the first style photo at the content's size
      photo = images.load_image(settings.paths(config.style, "style")[0])
      style = jnp.asarray(images.resize(photo, height, width))[None]
    image = jnp.asarray(image)
    result = timing.measure(lambda: networks.stylize(net, params, image, style), config.bench.repeats)
    result["memory_gib"] = timing.program_gib(networks.stylize, net, params, image, style)
  return {**result, "megapixels_per_s": width * height / 1e3 / result["ms"]}


def stylize_folder(config, workdir):
  model = os.path.join(workdir, "model")
  launch.run(configs.override(config, {"job": "train", "total_steps": 1, "sample_every_steps": 0,
                                       "checkpoint_every_steps": 1}), model)
  folder = os.path.join(workdir, "folder")
  paths = data.sample_paths()
  for k in range(config.bench.folder_images):
    image = images.load_image(paths[k % len(paths)], config.bench.folder_side)
    images.save_image(os.path.join(folder, f"{k:04d}.jpg"), image)
  job_config = configs.override(config.stylize, {"checkpoint": model, "input": folder,
                                                 "output": os.path.join(workdir, "stylized"), "overwrite": True})
  first = launch.run(job_config, os.path.join(workdir, "stylize"))  # compiles once per image size
  second = launch.run(job_config, os.path.join(workdir, "stylize"))
  return {"ms": 1e3 / second["images_per_s"], "images_per_s": second["images_per_s"],
          "images": config.bench.folder_images, "engine": second["engine"], "first_job_s": first["job_seconds"],
          "second_job_s": second["job_seconds"]}


def matting_times(config, width, height):
  """{"build": timing, "matvec": timing} of the Laplacian of the rocket photo (float64 in [0, 1])."""
  eps, radius, repeats = config.loss.matting_eps, config.loss.matting_radius, config.bench.repeats
  photo = images.resize(images.load_image(assets.path("rocket.jpg")), height, width)
  photo = np.clip(photo / 255.0, 0.0, 1.0).astype(np.float64)
  v = np.random.default_rng(config.seed).normal(size=(height, width, 3))
  impl, backend = config.bench.impl, config.loss.laplacian_backend
  if impl in ("scipy", "pymatting"):
    build = (peer_module("pymatting", "pymatting").cf_laplacian if impl == "pymatting" else matting.laplacian)
    matrix, flat = build(photo, eps, radius), v.reshape(-1, 3)
    return {"build": timing.measure(lambda: build(photo, eps, radius), repeats),
            "matvec": timing.measure(lambda: matrix @ flat, repeats)}
  if backend == "banded":
    bands, v = matting.prepare(backend, photo, eps, radius), jnp.asarray(v, jnp.float32)
    matvec = jax.jit(matting.banded_matvec)
    return {"build": timing.measure(lambda: matting.prepare(backend, photo, eps, radius), repeats),
            "matvec": timing.measure(lambda: matvec(bands, v), repeats)}
  if backend == "sparse":
    matrix, flat = matting.to_bcoo(matting.laplacian(photo, eps, radius)), jnp.asarray(v.reshape(-1, 3), jnp.float32)
    matvec = jax.jit(lambda m, x: m @ x)
    return {"build": timing.measure(lambda: matting.to_bcoo(matting.laplacian(photo, eps, radius)), repeats),
            "matvec": timing.measure(lambda: matvec(matrix, flat), repeats)}
  free = jax.jit(lambda image, x: matting.laplacian_matvec(image, x, eps, radius))
  photo, v = jnp.asarray(photo, jnp.float32), jnp.asarray(v, jnp.float32)
  return {"build": None, "matvec": timing.measure(lambda: free(photo, v), repeats)}


def check(config):
  """Refuses a bench config with an unknown case or peer, or a number out of its range; returns bench.size as
  (width, height)."""
  bench = config.bench
  if bench.case not in CASES:
    raise UserError(f"bench.case must be one of {', '.join(CASES)}, got {bench.case!r}")
  if bench.impl != "ours" and bench.case not in PEERS.get(bench.impl, ()):
    peers = ", ".join(f"{peer} ({'/'.join(cases)})" for peer, cases in PEERS.items())
    raise UserError(f"no {bench.impl!r} peer for the {bench.case} case; peers: {peers}")
  if config.get("compute_dtype", "float32") not in DTYPES:
    raise UserError(f"compute_dtype must be one of {', '.join(DTYPES)}, got {config.compute_dtype!r}")
  for key, (low, high) in RANGES.items():
    settings.in_range(bench[key], f"bench.{key}", low, high)
  return parse_size(bench.size, config.max_input_pixels,
                    config.get("max_image_size") if bench.case == "pixel_step" else None)


def run(config, workdir):
  width, height = check(config)
  bench = config.bench
  os.makedirs(workdir, exist_ok=True)
  needs_vgg = bench.case in ("pixel_step", "train_step") and bench.impl == "ours"
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling) if needs_vgg else None
  if bench.case == "pixel_step":
    result = pixel_step(config, vgg, width, height)
  elif bench.case == "train_step":
    result = train_step(config, vgg)
  elif bench.case == "stylize":
    result = stylize_once(config, width, height)
  elif bench.case == "stylize_folder":
    result = stylize_folder(config, workdir)
  else:
    result = matting_times(config, width, height)
  summary = {"case": bench.case, "impl": bench.impl, "size": f"{width}x{height}", "memory_gib": None, **result,
             **runlog.environment()}
  runlog.write_json(os.path.join(workdir, "summary.json"), summary)
  return summary
