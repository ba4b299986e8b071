"""The `export` job (configs/export.py): a trained model directory as a compact one for shipping.

Writes WORKDIR/config.json (the network and how it was trained), params.npz
(the newest checkpoint's parameters only, no optimiser state; `dtype` float16
halves it), style.jpg (the style, long side <= 512) and model.json when the
run has them. stylejax.load_model, the stylize job and the website read it
like the training workdir.
"""

import os
import shutil

import numpy as np

from stylejax import api
from stylejax.errors import UserError
from stylejax.io import checkpoints, images, runlog

DTYPES = ("float32", "float16")


def run(config, workdir):
  if not config.model:
    raise UserError("set --config.model=DIR: the workdir of a configs/johnson.py or configs/fast_photo.py run")
  if config.dtype not in DTYPES:
    raise UserError(f"unknown dtype {config.dtype!r}; choose one of {', '.join(DTYPES)}")
  if os.path.abspath(config.model) == os.path.abspath(workdir):
    raise UserError("--workdir must be another folder than --config.model")
  model = api.load_model(config.model)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, checkpoints.EXPORTED)
  checkpoints.export_params(path, model.params, model.step, config.dtype)
  runlog.write_json(os.path.join(workdir, "config.json"), model.config.to_dict())
  style = os.path.join(config.model, "style.jpg")
  if os.path.isfile(style):
    thumbnail = images.at_most(images.read_rgb(style), 512)
    images.save_image(os.path.join(workdir, "style.jpg"), np.asarray(thumbnail), quality=90)
  if os.path.isfile(os.path.join(config.model, "model.json")):
    shutil.copyfile(os.path.join(config.model, "model.json"), os.path.join(workdir, "model.json"))
  summary = {"model": config.model, "step": model.step, "bytes": os.path.getsize(path), "dtype": config.dtype}
  runlog.write_json(os.path.join(workdir, "export.json"), summary)
  return summary
