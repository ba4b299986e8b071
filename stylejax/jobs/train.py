"""The `train` job (configs/johnson.py): train a feed-forward network into a model directory: one network
per style, or, for a network that takes a style input (`takes_style`), one for the styles of `style`
(comma-separated: each example of a batch gets one, drawn by seed and step, graded at random and made
into reference pairs by `augment`: stylejax.core.grades; with `masks.source=auto`, split with its content into
`masks.regions` shared regions for the network and a masked style term: stylejax.core.masks.batch_regions).

The step is stylejax.methods.training.train_step (loss: stylejax.core.objective,
the slow method's, with the matting term when `loss.affine_weight` is set).
One jitted, buffer-donating step per batch, data-parallel over every device
of a mesh (batch split along "data", parameters replicated), multi-host through
`jax.distributed` when `config.distributed` is set (initialised by the entry
point; every process writes the checkpoints, process 0 the run outputs below,
process I > 0 its own log in processes/I). Orbax checkpoints every
`checkpoint_every_steps` and at the end, keeping the last `keep_checkpoints`;
running the same command again resumes from the latest checkpoint, data
pipeline included, and ends with the same parameters as an uninterrupted run.
Ctrl-C or SIGTERM stops a run at the end of a step (its stop point, where
parameters, optimiser and data state agree) with a last checkpoint of that step
(in a single-process run; the processes of a multi-host run would have to agree
on the step, so they keep the last regular one) and model.json saying
`status: interrupted`; running the command again resumes from there.

The workdir is a self-describing model directory: config.json (resolved
config), checkpoints/ (parameters, optimiser and data state), style.jpg
(thumbnail of the style), model.json (status, final losses, sizes, timing),
metrics.jsonl, losses.png, samples/ and TensorBoard events.
"""

import os
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from stylejax import api, settings
from stylejax.core import networks
from stylejax.errors import UserError
from stylejax.io import checkpoints, configs, data, images, runlog, weights
from stylejax.methods import training

# Settings a resumed run may change; any other difference from the saved config is refused.
RESUMABLE_CHANGES = ("total_steps", "log_every_steps", "sample_every_steps", "checkpoint_every_steps",
                     "keep_checkpoints", "num_threads", "coordinator", "process_id")


def _check_resumable(config, workdir):
  """Refuses to resume a run whose saved config differs in more than RESUMABLE_CHANGES."""
  changed = configs.differences(checkpoints.read_config(workdir), config, ignore=RESUMABLE_CHANGES)
  if changed:
    raise UserError(f"{workdir} holds a run with a different config ({', '.join(changed)}); "
                    "use another --workdir, or the same settings to resume it")


def _preview_images(config):
  """Fixed photos stylised every sample_every_steps: (name, float (H, W, 3)) at preview_size."""
  paths = settings.paths(config.preview_images, "preview_images")
  return [(os.path.splitext(os.path.basename(p))[0], images.load_image(p, config.preview_size,
                                                                       config.max_input_pixels)) for p in paths]


def local_copy(tree):
  """This process's copy of replicated arrays (they may span other processes' devices)."""
  return jax.tree.map(lambda a: a.addressable_data(0), tree)


def _save_samples(workdir, log, net, params, previews, style, step):
  """samples/step_N.png: each preview photo above its stylisation (with `style`, for a network that takes
  one), side by side."""
  params = local_copy(params)
  style = jnp.asarray(style)[None] if net.takes_style else None
  columns = []
  for name, photo in previews:
    stylized = np.asarray(networks.stylize(net, params, jnp.asarray(photo)[None], style)[0])
    log.image(f"sample/{name}", stylized, step)
    columns.append(np.concatenate([photo, stylized], axis=0))
  height = max(c.shape[0] for c in columns)
  sheet = np.concatenate([np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255)
                          for c in columns], axis=1)
  images.save_image(os.path.join(workdir, "samples", f"step_{step:07d}.png"), sheet)


def _stop_point(bar, manager, step, state, batches):
  """The end of a step: the progress bar's update, which raises KeyboardInterrupt when a stop was asked for
  (runlog.progress); the run is whole here, so a single-process run first saves it as a last checkpoint."""
  try:
    bar.update(1)
  except KeyboardInterrupt:
    if jax.process_count() == 1 and manager.latest_step() != step:
      checkpoints.save(manager, step, state, batches.get_state())
    raise


def _initial_params(config, abstract_params):
  """The parameters of the model config.init_from, whose network must be this config's."""
  theirs = checkpoints.read_config(config.init_from).net.to_dict()
  if theirs != config.net.to_dict():
    raise UserError(f"init_from {config.init_from} has another network ({theirs}) than this run's "
                    f"({config.net.to_dict()}); a fine-tune keeps the network")
  return checkpoints.restore_params(config.init_from, abstract_params)[0]


def run(config, workdir):
  """The `train` job: train config.net on config.data for config.style; see the module docstring."""
  settings.check_train(config, jax.device_count())
  objective = settings.objective(config)
  net = settings.network(config)
  augment = settings.augment(config, net)
  regions = settings.training_regions(config, net)
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  grams, style = api.style_targets(objective, vgg, settings.paths(config.style, "style")[0], config.style_size,
                                   config.max_input_pixels)
  style_set = None
  if net.takes_style:  # each example gets one of the styles; their Grams are computed in the step
    style_set, grams = data.style_examples(settings.paths(config.style, "style"), config.style_size,
                                           config.max_input_pixels), None
  previews = _preview_images(config)
  source = data.make_source(config.data, config.data_dir, config.max_input_pixels)
  tx = optax.adam(config.learning_rate)

  mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
  replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
  vgg, grams = jax.device_put((vgg, grams), replicated)
  state = jax.device_put(training.init_state(net, tx, config.image_size, config.seed, config.style_size), replicated)

  manager = checkpoints.manager(workdir, config.keep_checkpoints)
  resume_step, data_state = None, None
  if manager.latest_step() is not None:
    _check_resumable(config, workdir)
    restored, resume_step, skipped = checkpoints.restore_newest(
        manager, lambda step: checkpoints.restore(manager, step, state))
    if skipped:
      folder = checkpoints.set_aside(manager, workdir, skipped)
      warnings.warn(f"moved {len(skipped)} damaged checkpoint(s) to {folder}; "
                    + (f"resuming from step {resume_step}" if resume_step is not None else "starting afresh"))
    if resume_step is not None:
      state, data_state = restored
  if resume_step is None and config.init_from:  # a fine-tune starts from another model's parameters
    state = jax.device_put(training.init_state(net, tx, config.image_size, config.seed, config.style_size,
                                               _initial_params(config, state["params"])), replicated)
  logdir = workdir if jax.process_index() == 0 else os.path.join(workdir, "processes", str(jax.process_index()))
  log = runlog.RunLog(logdir, config, resume_step)
  images.save_image(os.path.join(logdir, "style.jpg"), style, quality=90)
  local_batch = config.batch_size // jax.process_count()
  batches = data.iterate(data.training_batches(source, config.image_size, local_batch, config.seed,
                                               jax.process_index(), jax.process_count()),
                         config.num_threads, state=data_state)

  step = int(local_copy(state["step"]))
  bar = runlog.progress(config.total_steps, "train", initial=step)
  warm_start, warm_steps = None, 0
  status = "failed"  # until the loop ends: an error, Ctrl-C or SIGTERM leaves the run unfinished
  try:
    while step < config.total_steps:
      batch = jax.make_array_from_process_local_data(split, next(batches))
      styles = None if style_set is None else jax.make_array_from_process_local_data(split, data.styles_for_step(
          style_set, step, config.batch_size, config.seed, jax.process_index(), jax.process_count()))
      state, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx,
                                           styles=styles, augment=augment, seed=config.seed, regions=regions)
      step += 1
      if step % config.log_every_steps == 0 or step == config.total_steps:
        metrics, bad = {k: float(v) for k, v in local_copy(metrics).items()}, int(local_copy(state["bad"]))
        if bad >= 0:
          raise UserError(f"loss or gradient became NaN/Inf at step {bad + 1}; parameters were "
                          f"frozen from there; last checkpoint: step {manager.latest_step()} "
                          "(lower learning_rate, or check the data)")
        if warm_start is None:  # the first logged chunk includes compilation
          warm_start, warm_steps = time.perf_counter(), step
        else:
          bar.set_postfix(loss=f"{metrics['total']:.4g}",
                          img_s=f"{(step - warm_steps) * config.batch_size / (time.perf_counter() - warm_start):.1f}")
        log.scalars(step, metrics)
      if config.sample_every_steps and step % config.sample_every_steps == 0:
        _save_samples(logdir, log, net, state["params"], previews, style, step)
      if step % config.checkpoint_every_steps == 0 or step == config.total_steps:
        checkpoints.save(manager, step, state, batches.get_state())
      _stop_point(bar, manager, step, state, batches)
    if not (config.sample_every_steps and step % config.sample_every_steps == 0):
      _save_samples(logdir, log, net, state["params"], previews, style, step)
    status = "finished"
  except KeyboardInterrupt:
    status = "interrupted"
  finally:
    bar.close()
    checkpoints.seal_latest(manager)
    manager.close()
    log.close()

  speed = None if warm_start is None or step == warm_steps else (step - warm_steps) / (time.perf_counter() - warm_start)
  runlog.plot_losses(log.rows, os.path.join(logdir, "losses.png"))
  model = {
      "status": status, "steps": step, "final_losses": log.rows[-1] if log.rows else None,
      "steps_per_s_after_compile": speed, "images_per_s": speed and speed * config.batch_size,
      "image_size": config.image_size, "batch_size": config.batch_size, "net": config.net.to_dict(),
      "style": os.path.abspath(settings.paths(config.style, "style")[0]), "data": config.data,
      "unreadable_data_files": sorted(source.unreadable), "parameters": sum(p.size for p in jax.tree.leaves(state["params"])),
      **runlog.environment(),
  }
  runlog.write_json(os.path.join(logdir, "model.json"), model)
  if status == "interrupted":
    raise KeyboardInterrupt
  return model
