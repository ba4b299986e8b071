"""Fast style transfer (Johnson, Alahi, Fei-Fei 2016): train one feed-forward network per style.

The network T_θ (stylejax.nets) minimises over content photos C
    E_C [ α Σ content(T_θ(C), C) + β Σ_l w_l E_l(T_θ(C), S) + γ TV(T_θ(C)) ]
with the losses of the slow method (stylejax.optimize.Objective, SPEC §2): the
loss is pluggable through that Objective, whose targets here are the batch's
own content features and the style's Gram matrices, computed once.

One jitted, buffer-donating step per batch, data-parallel over every device
of a mesh (batch split along "data", parameters replicated; XLA inserts the
gradient all-reduce), multi-host through `jax.distributed` when
`config.distributed` is set. Orbax checkpoints every `checkpoint_every_steps`
and at the end, keeping the last `keep_checkpoints`; running the same command
again resumes from the latest checkpoint, data pipeline included, and ends
with the same parameters as an uninterrupted run.

The workdir is a self-describing model directory: config.json (resolved
config), checkpoints/ (parameters, optimiser and data state), style.jpg
(thumbnail of the style), model.json (final losses, sizes, timing),
metrics.jsonl, losses.png, samples/ and TensorBoard events.
"""

import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import traverse_util
from jax.sharding import NamedSharding, PartitionSpec as P
from PIL import Image

from stylejax import data, images, nets, report, weights
from stylejax.errors import UserError
from stylejax.optimize import DEFAULT_STYLE, Objective, parse_list

DEFAULT_PREVIEWS = ("chelsea.jpg", "rocket.jpg")
# Settings a resumed run may change; any other difference from the saved config is refused.
RESUMABLE_CHANGES = ("total_steps", "log_every_steps", "sample_every_steps", "checkpoint_every_steps",
                     "keep_checkpoints", "num_threads")


def loss_terms(objective, net, params, vgg, style_grams, content):
  """Unweighted loss terms of T_θ on a content batch (B, H, W, 3) in 0..255."""
  stylised = net.apply({"params": params}, content)
  targets = {"content": jax.lax.stop_gradient(objective.content_targets(vgg, content)), "style": style_grams}
  return objective.terms(stylised, vgg, targets)


@functools.partial(jax.jit, static_argnames=("objective", "net", "tx"), donate_argnames="state")
def train_step(state, batch, vgg, style_grams, *, objective, net, tx):
  """One Adam step on a uint8 batch -> (state, {term: value, 'total': value}).

  state = {params, opt_state, step, bad}: bad is -1, or the first step whose
  loss or gradient was NaN/Inf; from then on parameters stay as they were.
  """
  content = batch.astype(jnp.float32)

  def loss_fn(params):
    terms = loss_terms(objective, net, params, vgg, style_grams, content)
    return objective.total(terms), terms

  (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  params = optax.apply_updates(state["params"], updates)
  finite = jnp.isfinite(loss) & jnp.all(jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
  ok = (state["bad"] < 0) & finite
  params, opt_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), (params, opt_state),
                                   (state["params"], state["opt_state"]))
  bad = jnp.where((state["bad"] < 0) & ~finite, state["step"], state["bad"])
  return {"params": params, "opt_state": opt_state, "step": state["step"] + 1, "bad": bad}, {**terms, "total": loss}


def init_state(net, tx, image_size, seed):
  params = net.init(jax.random.key(seed), jnp.zeros((1, image_size, image_size, 3), jnp.float32))["params"]
  return {"params": params, "opt_state": tx.init(params), "step": jnp.int32(0), "bad": jnp.int32(-1)}


def _validate(config):
  if config.batch_size < 1 or config.image_size < 16:
    raise UserError(f"batch_size must be >= 1 and image_size >= 16, got {config.batch_size}, {config.image_size}")
  if min(config.total_steps, config.log_every_steps, config.checkpoint_every_steps, config.keep_checkpoints) < 1:
    raise UserError("total_steps, log_every_steps, checkpoint_every_steps and keep_checkpoints must be >= 1")
  if config.learning_rate <= 0:
    raise UserError(f"learning_rate must be positive, got {config.learning_rate}")
  devices = jax.device_count()
  if config.batch_size % devices:
    raise UserError(f"batch_size {config.batch_size} must be a multiple of the {devices} devices it is split over")


def _check_resumable(config, workdir):
  """Refuses to resume a run whose saved config differs in more than RESUMABLE_CHANGES."""
  with open(os.path.join(workdir, "config.json")) as f:
    saved = ml_collections.ConfigDict(json.load(f))
  old, new = (traverse_util.flatten_dict(c.to_dict(), sep=".") for c in (saved, config))
  changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
  if changed:
    raise UserError(f"{workdir} holds a run with a different config ({', '.join(changed)}); "
                    "use another --workdir, or the same settings to resume it")


def _preview_images(config):
  """Fixed photos stylised every sample_every_steps: (name, float (H, W, 3)) at preview_size."""
  paths = (parse_list(config.preview_images, name="preview_images")
           or [os.path.join(data.ASSETS, name) for name in DEFAULT_PREVIEWS])
  return [(os.path.splitext(os.path.basename(p))[0], images.load_image(p, config.preview_size,
                                                                       config.max_input_pixels)) for p in paths]


def _save_samples(workdir, log, net, params, previews, step):
  """samples/step_N.png: each preview photo above its stylisation, side by side."""
  columns = []
  for name, photo in previews:
    stylised = np.asarray(nets.stylise(net, params, jnp.asarray(photo)[None])[0])
    log.image(f"sample/{name}", stylised, step)
    columns.append(np.concatenate([photo, stylised], axis=0))
  height = max(c.shape[0] for c in columns)
  sheet = np.concatenate([np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255)
                          for c in columns], axis=1)
  images.save_image(os.path.join(workdir, "samples", f"step_{step:07d}.png"), sheet)


def _checkpoint_args(state, data_state):
  return ocp.args.Composite(params=ocp.args.StandardSave(state["params"]),
                            train=ocp.args.StandardSave({k: v for k, v in state.items() if k != "params"}),
                            data=ocp.args.JsonSave(data_state))


def _restore(manager, step, state):
  """(state, data state) of checkpoint `step`, laid out like `state`."""
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  restored = manager.restore(step, args=ocp.args.Composite(
      params=ocp.args.StandardRestore(abstract["params"]),
      train=ocp.args.StandardRestore({k: v for k, v in abstract.items() if k != "params"}),
      data=ocp.args.JsonRestore()))
  return {"params": restored.params, **restored.train}, restored.data


def checkpoint_manager(workdir, keep=None):
  """Orbax manager of workdir/checkpoints: for writing with `keep` (the last K kept), else for reading."""
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=keep is not None)
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")), options=options)


def style_grams(objective, vgg, config):
  """Gram targets of the style image at long side style_size, computed once."""
  style = images.load_image(config.style or DEFAULT_STYLE, config.style_size, config.max_input_pixels)
  return jax.jit(objective.style_grams)(vgg, jnp.asarray(style)[None]), style


def run(config, workdir):
  """The `train` job: train config.net on config.data for config.style; see the module docstring."""
  if config.distributed:
    jax.distributed.initialize()
  _validate(config)
  objective = Objective.from_config(config)
  net = nets.from_config(config)
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  grams, style = style_grams(objective, vgg, config)
  previews = _preview_images(config)
  source = data.make_source(config.data, config.data_dir, config.max_input_pixels)
  tx = optax.adam(config.learning_rate)

  mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
  replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
  vgg, grams = jax.device_put((vgg, grams), replicated)
  state = jax.device_put(init_state(net, tx, config.image_size, config.seed), replicated)

  manager = checkpoint_manager(workdir, config.keep_checkpoints)
  resume_step, data_state = manager.latest_step(), None
  if resume_step is not None:
    _check_resumable(config, workdir)
    state, data_state = _restore(manager, resume_step, state)
  log = report.RunLog(workdir, config, resume_step)
  Image.fromarray(images.to_uint8(style)).save(os.path.join(workdir, "style.jpg"), quality=90)
  local_batch = config.batch_size // jax.process_count()
  batches = data.iterate(data.training_batches(source, config.image_size, local_batch, config.seed,
                                               jax.process_index(), jax.process_count()),
                         config.num_threads, state=data_state)

  step = int(state["step"])
  bar = report.progress(config.total_steps, "train", initial=step)
  warm_start, warm_steps = None, 0
  try:
    while step < config.total_steps:
      batch = jax.make_array_from_process_local_data(split, next(batches))
      state, metrics = train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx)
      step += 1
      if step % config.log_every_steps == 0 or step == config.total_steps:
        metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
        if int(state["bad"]) >= 0:
          raise UserError(f"loss or gradient became NaN/Inf at step {int(state['bad']) + 1}; parameters were "
                          f"frozen from there; last checkpoint: step {manager.latest_step()} "
                          "(lower learning_rate, or check the data)")
        if warm_start is None:  # the first logged chunk includes compilation
          warm_start, warm_steps = time.perf_counter(), step
        else:
          bar.set_postfix(loss=f"{metrics['total']:.4g}",
                          img_s=f"{(step - warm_steps) * config.batch_size / (time.perf_counter() - warm_start):.1f}")
        log.scalars(step, metrics)
        bar.update(step - bar.n)
      if config.sample_every_steps and step % config.sample_every_steps == 0:
        _save_samples(workdir, log, net, state["params"], previews, step)
      if step % config.checkpoint_every_steps == 0 or step == config.total_steps:
        manager.save(step, args=_checkpoint_args(state, batches.get_state()))
    if not (config.sample_every_steps and step % config.sample_every_steps == 0):
      _save_samples(workdir, log, net, state["params"], previews, step)
  finally:
    bar.close()
    manager.wait_until_finished()
    manager.close()
    log.close()

  speed = None if warm_start is None or step == warm_steps else (step - warm_steps) / (time.perf_counter() - warm_start)
  report.plot_losses(log.rows, os.path.join(workdir, "losses.png"))
  model = {
      "steps": step, "final_losses": log.rows[-1] if log.rows else None,
      "steps_per_s_after_compile": speed, "images_per_s": speed and speed * config.batch_size,
      "image_size": config.image_size, "batch_size": config.batch_size, "net": config.net.to_dict(),
      "style": os.path.abspath(config.style or DEFAULT_STYLE), "data": config.data,
      "unreadable_data_files": sorted(source.unreadable), "parameters": sum(p.size for p in jax.tree.leaves(state["params"])),
      **report.environment(),
  }
  report.write_json(os.path.join(workdir, "model.json"), model)
  return model
