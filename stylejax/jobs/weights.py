"""The `weights` job (configs/weights.py): install a VGG weights file into the cache."""

import os
import sys

from stylejax.errors import UserError
from stylejax.io import runlog, weights


def run(config, workdir):
  if not config.source:
    raise UserError("set --config.source=FILE (.mat, .pth or .npz) or --config.source=download")
  installed = weights.install(config.source, config.arch)
  os.makedirs(workdir, exist_ok=True)
  runlog.write_json(os.path.join(workdir, "weights.json"), installed)
  print(f"installed {config.arch} weights: {installed['cache']} (sha256 {installed['sha256']})", file=sys.stderr)
  return installed
