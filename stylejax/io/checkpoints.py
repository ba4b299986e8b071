"""Model directories on disk: orbax checkpoints of a training run and its saved config.

A `train` workdir holds config.json (the resolved config) and checkpoints/
(per step: the network parameters, the optimiser state with step and NaN flag,
and the data pipeline's state as JSON).
"""

import json
import os

import jax
import ml_collections
import orbax.checkpoint as ocp

from stylejax.errors import UserError


def manager(workdir, keep=None):
  """Orbax manager of workdir/checkpoints: for writing with `keep` (the last K kept), else for reading."""
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=keep is not None)
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")), options=options)


def save(checkpoints, step, state, data_state):
  """Writes training `state` ({params, opt_state, step, bad}) and the data state at `step`."""
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


def read_config(model_dir):
  """The saved config.json of a model directory as a ConfigDict."""
  path = os.path.join(model_dir, "config.json")
  if not os.path.isfile(path):
    raise UserError(f"{model_dir} is not a trained model directory (no config.json); "
                    "give the --workdir of a configs/johnson.py run")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def restore_params(model_dir, abstract_params):
  """(parameters, step) of a model directory's latest checkpoint, laid out like `abstract_params`."""
  checkpoints = manager(model_dir)
  step = checkpoints.latest_step()
  if step is None:
    raise UserError(f"{model_dir} has no checkpoint yet (checkpoints/ is empty)")
  restored = checkpoints.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract_params)))
  checkpoints.close()
  return restored.params, step
