"""Run outputs: resolved config, metrics.jsonl, TensorBoard events, plots, progress bar."""

import json
import os
import platform
import sys

import jax
import numpy as np
import tqdm
from matplotlib.figure import Figure
from tensorboardX import SummaryWriter

from stylejax.io import images


def write_json(path, obj):
  """Writes `obj` as indented JSON atomically (a crash never leaves half a file)."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=float)
    f.write("\n")
  os.replace(tmp, path)


def environment():
  """Device, software and host facts for summary.json."""
  device = jax.devices()[0]
  return {"device_kind": device.device_kind, "platform": device.platform, "device_count": jax.device_count(),
          "jax_version": jax.__version__, "python": platform.python_version(), "host": platform.node()}


def peak_memory_bytes():
  """Peak device memory in bytes where the backend reports it (GPU, TPU), else None."""
  stats = jax.devices()[0].memory_stats() or {}
  return stats.get("peak_bytes_in_use")


def progress(total, desc, unit="step", initial=0):
  """A progress bar with ETA on stderr; `initial`: work already done (a resumed run)."""
  return tqdm.tqdm(total=total, desc=desc, unit=unit, initial=initial, file=sys.stderr, dynamic_ncols=True, leave=True)


class RunLog:
  """metrics.jsonl plus TensorBoard scalars and images, in one workdir.

  `resume_step`: continue a run from its checkpoint at that step; logged rows
  after it (written before a crash) are dropped from metrics.jsonl and TensorBoard.
  """

  def __init__(self, workdir, config, resume_step=None):
    os.makedirs(workdir, exist_ok=True)
    self.workdir = workdir
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2, sort_keys=True) + "\n")
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    self.rows = []
    if resume_step is not None and os.path.exists(metrics_path):
      with open(metrics_path) as f:
        self.rows = [row for row in map(json.loads, filter(str.strip, f)) if row["step"] <= resume_step]
    self._metrics = open(metrics_path, "w")
    self._metrics.writelines(json.dumps(row) + "\n" for row in self.rows)
    purge = None if resume_step is None else resume_step + 1
    self._writer = SummaryWriter(logdir=workdir, flush_secs=30, purge_step=purge)

  def scalars(self, step, values):
    row = {"step": int(step), **{k: float(v) for k, v in values.items()}}
    self.rows.append(row)
    self._metrics.write(json.dumps(row) + "\n")
    self._metrics.flush()
    for key, value in values.items():
      self._writer.add_scalar(f"loss/{key}", float(value), int(step))

  def image(self, tag, image, step):
    self._writer.add_image(tag, images.to_uint8(image), int(step), dataformats="HWC")

  def close(self):
    self._metrics.close()
    self._writer.close()


def write_table(workdir, table, data):
  """A benchmark's results: bench.md (the markdown table, also printed) and bench.json."""
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "bench.md"), "w") as f:
    f.write(table)
  write_json(os.path.join(workdir, "bench.json"), data)
  print(table)


def plot_losses(rows, path, boundaries=()):
  """One panel per loss term against the step, log scale (thesis figure 3.1).

  `boundaries` marks steps where a new scale of a multi-scale run begins.
  """
  keys = sorted({k for r in rows for k in r} - {"step", "total"}) + ["total"]
  steps = np.array([r["step"] for r in rows])
  fig = Figure(figsize=(3.6 * len(keys), 3.2))  # no pyplot: no global figure state, no backend to choose
  axes = fig.subplots(1, len(keys), squeeze=False)
  for ax, key in zip(axes[0], keys):
    values = np.array([r.get(key, np.nan) for r in rows])  # a term may exist in some phases only
    ax.plot(steps, values, color="tab:blue")
    if np.all(values[np.isfinite(values)] > 0):
      ax.set_yscale("log")
    for b in boundaries:
      ax.axvline(b, color="grey", linestyle=":", linewidth=1)
    ax.set_title(key)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
