"""Model directories on disk: orbax checkpoints of a training run and its saved config.

A `train` workdir holds config.json (the resolved config) and checkpoints/
(per step: the network parameters, the optimiser state with step and NaN flag,
and the data pipeline's state as JSON). Each finished step is sealed with a
manifest of its files' sizes and sha256, checked before a restore; a step that
fails the check or the restore is skipped for the newest older one that works.
An exported model directory (the `export` job) holds config.json and
params.npz: the parameters alone, a few MB, for shipping.
"""

import json
import os
import sys
import time
import warnings

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from flax import traverse_util

from stylejax import errors
from stylejax.errors import UserError
from stylejax.io import atomic, configs, weights


def manager(workdir, keep=None):
  """Orbax manager of workdir/checkpoints: for writing with `keep` (the last K kept), else for reading."""
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=keep is not None)
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")), options=options)


MANIFEST = "stylejax_manifest.json"


def _step_folder(checkpoints, step):
  return os.path.join(str(checkpoints.directory), str(step))


def _files(folder):
  """{relative path: {bytes, sha256}} of every file of a step folder but the manifest."""
  found = {}
  for root, _, names in os.walk(folder):
    for name in names:
      path = os.path.join(root, name)
      relative = os.path.relpath(path, folder)
      if relative != MANIFEST:
        found[relative] = {"bytes": os.path.getsize(path), "sha256": weights.sha256(path)}
  return found


def seal_latest(checkpoints):
  """Waits for the pending save, then writes the manifest of the newest step if it has none (process 0)."""
  checkpoints.wait_until_finished()
  step = checkpoints.latest_step()
  if step is None or jax.process_index() != 0:
    return
  manifest = os.path.join(_step_folder(checkpoints, step), MANIFEST)
  if not os.path.exists(manifest):
    files = _files(os.path.dirname(manifest))
    with atomic.writing(manifest, "w") as f:
      json.dump(files, f, indent=1, sort_keys=True)


def damage(checkpoints, step):
  """None if a step's files match its manifest (or it has none: saved before a crash), else what differs."""
  folder = _step_folder(checkpoints, step)
  try:
    with open(os.path.join(folder, MANIFEST)) as f:
      expected = json.load(f)
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as e:
    return f"unreadable manifest ({e})"
  if not isinstance(expected, dict) or not all(isinstance(e, dict) and "bytes" in e for e in expected.values()):
    return "unreadable manifest (not the {file: {bytes, sha256}} object it was written as)"
  found = _files(folder)
  for name in sorted(expected.keys() | found.keys()):
    if name not in found:
      return f"{name} is missing"
    if name not in expected:
      return f"{name} was not part of the checkpoint"
    if found[name] != expected[name]:
      return f"{name} has changed ({found[name]['bytes']} bytes, {expected[name]['bytes']} when saved)"
  return None


def save(checkpoints, step, state, data_state):
  """Seals the previous step, then writes training `state` ({params, opt_state, step, bad}) and the
  data state at `step` (asynchronously; `seal_latest` when the run ends)."""
  seal_latest(checkpoints)
  checkpoints.save(step, args=ocp.args.Composite(
      params=ocp.args.StandardSave(state["params"]),
      train=ocp.args.StandardSave({k: v for k, v in state.items() if k != "params"}),
      data=ocp.args.JsonSave(data_state)))


def restore(checkpoints, step, state):
  """(state, data state) of checkpoint `step`, laid out like `state`."""
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  restored = checkpoints.restore(step, args=ocp.args.Composite(
      params=ocp.args.StandardRestore(abstract["params"]),
      train=ocp.args.StandardRestore({k: v for k, v in abstract.items() if k != "params"}),
      data=ocp.args.JsonRestore()))
  return {"params": restored.params, **restored.train}, restored.data


def _reason(error):
  """The root cause of a failed restore in one short line."""
  while error.__cause__ is not None:
    error = error.__cause__
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  return (lines[0] if lines else type(error).__name__)[:240]


_DAMAGED = set()  # step folders whose failed restore may still report its leftover reads


def _quiet_about(folder):
  """Silences the 'Exception ignored' reports of a failed restore's other reads of `folder`.

  Orbax leaves them as unawaited coroutines, reported when collected (often at
  exit) with a page of TensorStore spec each, and their callbacks may find
  orbax's event loop closed; once a restore has failed, those two kinds of
  report are dropped and every other goes through.
  """
  if not _DAMAGED:
    report = sys.unraisablehook

    def hook(unraisable):
      message = str(unraisable.exc_value)
      if message != "Event loop is closed" and not any(damaged in message for damaged in _DAMAGED):
        report(unraisable)

    sys.unraisablehook = hook
  _DAMAGED.add(folder)


def restore_newest(checkpoints, restore_step):
  """(restore_step(step), step, {skipped step: reason}) for the newest step that restores.

  A step that fails its manifest check or the restore (a truncated or missing
  file, damaged metadata) is skipped with a warning; step is None when there
  is no step or none restores.
  """
  skipped = {}
  for step in sorted(checkpoints.all_steps(), reverse=True):
    reason = damage(checkpoints, step)
    if reason is None:
      try:
        return restore_step(step), step, skipped
      except Exception as e:  # any failure means this step is unusable; older steps may still be whole
        reason = _reason(e)
        _quiet_about(os.path.join(_step_folder(checkpoints, step), ""))
    skipped[step] = reason
    warnings.warn(f"checkpoint step {step} in {checkpoints.directory} does not restore ({reason}); "
                  "trying an older one")
  return None, None, skipped


def set_aside(checkpoints, workdir, steps):
  """Moves damaged checkpoint steps to workdir/damaged_checkpoints/, so training can save those steps again."""
  folder = os.path.join(workdir, "damaged_checkpoints")
  os.makedirs(folder, exist_ok=True)
  for step in steps:
    os.replace(_step_folder(checkpoints, step), os.path.join(folder, f"{step}.{time.time_ns()}"))
  checkpoints.reload()
  return folder


def read_config(model_dir):
  """The saved config.json of a `train` workdir as a ConfigDict (stylejax.io.configs.read); anything else is a
  clear error."""
  path = os.path.join(model_dir, "config.json")
  if not os.path.isdir(model_dir):
    raise UserError(f"model directory not found: {model_dir}")
  if not os.path.isfile(path):
    raise UserError(f"{model_dir} is not a trained model directory (no config.json); "
                    "give the --workdir of a configs/johnson.py run")
  with errors.reading(f"{path} is damaged; it describes the network, so the model cannot be rebuilt"):
    config = configs.read(path)
  if "net" not in config:  # e.g. an optimize run's workdir
    raise UserError(f"{model_dir} is the workdir of a run of job {config.get('job')!r}, which holds no trained "
                    "network; give the --workdir of a configs/johnson.py run")
  if not isinstance(config.net, ml_collections.ConfigDict):
    raise UserError(f"{path} is damaged: its net is not the JSON object that describes the network")
  return config


EXPORTED = "params.npz"  # an exported model's parameters (the `export` job): no optimiser state, no orbax


def export_params(path, params, step, dtype=np.float32):
  """Writes `params` to one .npz (keys: module paths joined by '/', plus `step`), atomically."""
  flat = {"/".join(key): np.asarray(value, dtype) for key, value in traverse_util.flatten_dict(params).items()}
  with atomic.writing(path) as f:
    np.savez(f, step=np.int64(step), **flat)


def _read_exported(path, abstract_params):
  """(parameters, step) from an exported .npz (shipped, so untrusted: see weights.read_arrays), checked against
  the network's layout."""
  expected = {"/".join(key): leaf for key, leaf in traverse_util.flatten_dict(abstract_params).items()}
  with errors.reading(f"{path} is damaged"):
    stored = weights.read_arrays(path)
    step = stored.pop("step", np.int64(0))
    if step.shape != () or step.dtype.kind not in "iu" or step < 0:
      raise UserError(f"{path} is damaged: its step is {step!r}, not one whole number >= 0")
    if stored.keys() != expected.keys() or any(stored[k].shape != expected[k].shape or stored[k].dtype.kind != "f"
                                               for k in expected):
      raise UserError(f"{path} does not match the network its config.json describes")
    flat = {tuple(key.split("/")): jax.numpy.asarray(value, expected[key].dtype) for key, value in stored.items()}
  return traverse_util.unflatten_dict(flat), int(step)


def restore_params(model_dir, abstract_params):
  """(parameters, step) of a model directory's newest checkpoint that restores, laid out like `abstract_params`;
  an exported model directory (params.npz, no checkpoints/) is read from its .npz."""
  if not os.path.isdir(os.path.join(model_dir, "checkpoints")):
    exported = os.path.join(model_dir, EXPORTED)
    if os.path.isfile(exported):
      return _read_exported(exported, abstract_params)
    raise UserError(f"{model_dir} has no checkpoints/ folder: training has not saved a checkpoint yet")
  checkpoints = manager(model_dir)
  try:
    params, step, skipped = restore_newest(checkpoints, lambda step: checkpoints.restore(
        step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract_params))).params)
  finally:
    checkpoints.close()
  if step is None:
    found = "; ".join(f"step {k}: {reason}" for k, reason in skipped.items()) or "checkpoints/ is empty"
    raise UserError(f"{model_dir} has no checkpoint that restores ({found})")
  return params, step
