"""Run outputs: resolved config, metrics.jsonl, TensorBoard events, plots, progress bar."""

import contextlib
import json
import os
import platform
import sys

import jax
import numpy as np
import tqdm

from stylejax.io import atomic, events, images


def write_json(path, obj):
  """Writes `obj` as indented JSON atomically (a crash never leaves half a file)."""
  with atomic.writing(path, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=float)
    f.write("\n")


def config_json(config):
  """The resolved config as the config.json of a run: indented JSON, keys sorted."""
  return config.to_json_best_effort(indent=2, sort_keys=True) + "\n"


def write_config(folder, config):
  """folder/config.json, atomically."""
  with atomic.writing(os.path.join(folder, "config.json"), "w") as f:
    f.write(config_json(config))


def cpu_model():
  """The CPU's model name (Linux), else the platform's processor string."""
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return platform.processor() or platform.machine()


def environment():
  """Device, software and host facts for summary.json."""
  device = jax.devices()[0]
  return {"device_kind": device.device_kind, "platform": device.platform, "device_count": jax.device_count(),
          "jax_version": jax.__version__, "python": platform.python_version(), "host": platform.node(),
          "cpu": cpu_model(), "cpu_count": os.cpu_count()}


def describe_machine(env=None):
  """One line naming the machine of a table: accelerator, CPU and cores, jax."""
  env = env or environment()
  return (f"{env['device_kind']} ({env['platform']}), {env['cpu']}, {env['cpu_count']} cores, "
          f"jax {env['jax_version']}")


_observers = []  # callback(done, total) of whoever watches this process's jobs (`observing`)


@contextlib.contextmanager
def observing(callback):
  """Within the block, every progress bar of a job run in this process also calls callback(done, total)
  after each update (the website's worker shows a job's progress so); what it raises stops the job."""
  _observers.append(callback)
  try:
    yield
  finally:
    _observers.remove(callback)


_open_bars = set()  # ids of the progress bars open now: while one is, a job of this process is in its steps


class _Progress(tqdm.tqdm):
  def __init__(self, *args, **kwargs):
    _open_bars.add(id(self))  # before the bar shows: whoever sees it may count on the job's stop points
    try:
      super().__init__(*args, **kwargs)
    except BaseException:
      _open_bars.discard(id(self))
      raise

  def update(self, n=1):
    shown = super().update(n)
    for callback in list(_observers):
      callback(self.n, self.total)
    return shown

  def close(self):
    _open_bars.discard(id(self))
    super().close()


def progress(total, desc, unit="step", initial=0):
  """A progress bar with ETA on stderr; `initial`: work already done (a resumed run).

  Each update is one of the job's stop points: the observers (`observing`) are called there, and what they
  raise stops the job at a point where its state is whole (stylejax.launch stops a job so on SIGINT/SIGTERM).
  """
  return _Progress(total=total, desc=desc, unit=unit, initial=initial, file=sys.stderr, dynamic_ncols=True, leave=True)


def in_steps():
  """Whether a job of this process is in its steps (one of its progress bars is open), so that it reaches a stop
  point (the bar's next update) soon."""
  return bool(_open_bars)


def read_rows(workdir):
  """The rows of a workdir's metrics.jsonl."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f if line.strip()]


class RunLog:
  """metrics.jsonl plus TensorBoard scalars and images, in one workdir.

  Events are written synchronously (stylejax.io.events, no background thread,
  each event flushed), so a full or read-only disk is an error of the job, naming the file.
  `resume_step`: continue a run from its checkpoint at that step; logged rows
  after it (written before a crash) are dropped from metrics.jsonl and TensorBoard.
  """

  def __init__(self, workdir, config, resume_step=None):
    os.makedirs(workdir, exist_ok=True)
    self.workdir = workdir
    write_config(workdir, config)
    self._metrics_path = os.path.join(workdir, "metrics.jsonl")
    self.rows = []
    if resume_step is not None and os.path.exists(self._metrics_path):
      self.rows = [row for row in read_rows(workdir) if row["step"] <= resume_step]
    self._metrics = open(self._metrics_path, "w")
    with atomic.naming(self._metrics_path):
      self._metrics.writelines(json.dumps(row) + "\n" for row in self.rows)
      self._metrics.flush()
    self._events = events.EventWriter(workdir)
    if resume_step is not None:  # TensorBoard drops the events after resume_step
      self._write_event(resume_step + 1, session_start=True)

  def _write_event(self, step, **what):
    with atomic.naming(self._events.path):
      self._events.write(int(step), **what)

  def scalars(self, step, values, seconds=None):
    """Logs loss `values` at `step`; `seconds` (wall time of the run so far) goes to metrics.jsonl only."""
    row = {"step": int(step), **{k: float(v) for k, v in values.items()}}
    if seconds is not None:
      row["seconds"] = round(float(seconds), 3)
    self.rows.append(row)
    with atomic.naming(self._metrics_path):
      self._metrics.write(json.dumps(row) + "\n")
      self._metrics.flush()
    for key, value in values.items():
      self._write_event(step, summary=events.scalar(f"loss/{key}", float(value)))

  def image(self, tag, image, step):
    self._write_event(step, summary=events.image(tag, images.to_uint8(image)))

  def close(self):
    with atomic.naming(self._metrics_path):
      self._metrics.close()
    with atomic.naming(self._events.path):
      self._events.close()


def write_table(workdir, table, data, name="bench"):
  """A tool's results: NAME.md (the markdown table, also printed) and NAME.json."""
  os.makedirs(workdir, exist_ok=True)
  with atomic.writing(os.path.join(workdir, f"{name}.md"), "w") as f:
    f.write(table)
  write_json(os.path.join(workdir, f"{name}.json"), data)
  print(table)


def plot_losses(rows, path, boundaries=()):
  """One panel per loss term against the step, log scale (thesis figure 3.1).

  `boundaries` marks steps where a new scale of a multi-scale run begins.
  """
  keys = sorted({k for r in rows for k in r} - {"step", "total", "seconds"}) + ["total"]
  steps = np.array([r["step"] for r in rows])
  fig = _figure(3.6 * len(keys), 3.2)
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
  _save(fig, path)


def plot_loss_against_time(runs, path):
  """The total loss of several runs ({name: metrics rows with `seconds`}) against wall time, log scale."""
  fig = _figure(6.4, 4.0)
  ax = fig.subplots()
  for name, rows in runs.items():
    timed = [r for r in rows if "seconds" in r]
    ax.plot([r["seconds"] for r in timed], [r["total"] for r in timed], marker=".", label=name)
  ax.set_yscale("log")
  ax.set_xlabel("wall time (s, compilation included)")
  ax.set_ylabel("total loss")
  ax.grid(alpha=0.3)
  ax.legend()
  _save(fig, path)


def plot_tradeoff(runs, references, path):
  """Style distance against affine energy (stylejax.core.scoring, log-log) of runs ({name: scores}), each
  point named, and of references (stars): the photorealism/style trade-off (Luan et al. 2017, fig. 6)."""
  fig = _figure(6.4, 4.8)
  ax = fig.subplots()
  for points, marker, size in ((runs, "o", 30), (references, "*", 160)):
    for name, scores in points.items():
      ax.scatter(scores["affine_energy"], scores["style"], marker=marker, s=size,
                 color="tab:red" if marker == "*" else "tab:blue")
      ax.annotate(name, (scores["affine_energy"], scores["style"]), fontsize=7, xytext=(4, 3),
                  textcoords="offset points")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("affine energy (lower: more photorealistic)")
  ax.set_ylabel("style distance (lower: more of the style)")
  ax.grid(alpha=0.3, which="both")
  _save(fig, path)


def plot_lines(lines, path, xlabel, ylabel):
  """One line per label of `lines` ({label: [(x, y), ...]}), sorted by x; an axis is logarithmic where its
  values are positive and span more than 20x."""
  fig = _figure(6.4, 4.4)
  ax = fig.subplots()
  for label, points in lines.items():
    xs, ys = zip(*sorted(points))
    ax.plot(xs, ys, marker="o", label=label)
  every = [point for points in lines.values() for point in points]
  for values, set_scale in (([x for x, _ in every], ax.set_xscale), ([y for _, y in every], ax.set_yscale)):
    if values and min(values) > 0 and max(values) > 20 * min(values):
      set_scale("log")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3, which="both")
  if len(lines) > 1:
    ax.legend(fontsize=8)
  _save(fig, path)


def _figure(width, height):
  """A matplotlib figure of that size in inches. No pyplot: no global figure state, no backend to choose.
  matplotlib is imported here, by the jobs and tools that plot, not by every process that imports this
  module (the website's worker, the stylize job: about 0.6 s of CPU)."""
  from matplotlib.figure import Figure
  return Figure(figsize=(width, height))


def _save(fig, path):
  fig.tight_layout()
  with atomic.writing(path) as f:
    fig.savefig(f, format="png", dpi=100)
