"""The `sweep` job: one base config, many points, one table.

A preset (configs/sweeps/*.py) holds the base config (`config.base`: any job's
config) and `config.sweep`, a list of blocks {key: [values]}: the product
within a block, the union across blocks in order (the same point twice runs
once). Keys are dotted paths into the base config and must exist there; every
point is resolved and type-checked before the first one runs, and two
different points whose names would be the same are refused then.

Each point runs its job in WORKDIR/points/NAME (NAME spelled from its values)
with its resolved config (config.json) and ends with point.json (values,
status, the job's summary, seconds, the config's sha256). A point whose
point.json says done with the same resolved config is skipped, so rerunning the
same command resumes a sweep after a crash (a changed base reruns it); a failed
point is recorded (its traceback in error.txt), the sweep goes on and exits
non-zero at the end. Ctrl-C or SIGTERM stops the running point at its own
stop point (it keeps what it has, as its job does) and the sweep writes its
tables with that point `interrupted` and the rest `not run`; rerunning the
same command goes on from there.

Outputs: results.csv, results.md and results.json (swept values, status, the
`metrics` picked from each summary by dotted path, and with `peer_key` the
ratio peer/ours of each of `peer_metrics` for points that differ only in that
key: for times, how many times faster ours is), contact_sheet.png (each point's
`image`, a file name or glob (the last match), captioned with its values) and plot.png (`plot.y` against `plot.x`,
one line per combination of the other swept values).
"""

import csv
import glob
import io
import itertools
import json
import os
import re
import time
import traceback

from stylejax import launch
from stylejax.errors import UserError
from stylejax.io import atomic, configs, images, runlog
from stylejax.tools import compare

POINTS = "points"


def _values(value):
  return list(value) if isinstance(value, (list, tuple)) else [value]


def _text(value):
  """A value as names and tables show it: a float as short as %g where that reads back as the same number,
  else in full (repr), so two different numbers never read the same (1 and 1.0000001)."""
  if isinstance(value, float):
    text = f"{value:g}"
    return text if float(text) == value else repr(value)
  if isinstance(value, (list, tuple)):
    return "+".join(map(_text, value)) or "none"
  return str(value) if value != "" else "none"


def short_names(keys):
  """Each dotted key's last part, or the whole key where two keys share their last part."""
  last = [key.rsplit(".", 1)[-1] for key in keys]
  return {key: part if last.count(part) == 1 else key for key, part in zip(keys, last)}


def expand(blocks):
  """{name: {key: value}} of every point: the product within each block, the union across blocks (the same
  values twice are one point). Two different points that would have one name (and one folder), e.g. the
  values 'a/b' and 'a-b' of one key, are refused."""
  if not blocks:
    raise UserError("the sweep has no blocks: set config.sweep to a list of {key: [values]}")
  keys = list(dict.fromkeys(key for block in blocks for key in block))
  short = short_names(keys)
  points = {}
  for block in blocks:
    for combination in itertools.product(*(_values(values) for values in block.values())):
      values = dict(zip(block, combination))
      name = "_".join(f"{short[k]}={_text(v)}" for k, v in values.items()) or "base"
      name = re.sub(r"[^A-Za-z0-9=.+_-]", "-", name)
      if points.setdefault(name, values) != values:
        raise UserError(f"the sweep points {points[name]} and {values} would both be named {name!r} (one folder, "
                        "one row); make their values differ in letters, digits or '=.+_-'")
  return points


def lookup(tree, path):
  """The value at a dotted path of nested dicts, or None."""
  for part in path.split("."):
    if not isinstance(tree, dict):
      return None
    tree = tree.get(part)
  return tree


def is_done(record, config):
  """A point finished with exactly this resolved config (a changed base reruns it)."""
  return bool(record) and record["status"] == "done" and record.get("config_sha256") == configs.fingerprint(config)


def run_point(config, folder):
  """Runs one point's job in `folder`; returns its point.json record (a failure is recorded, not raised)."""
  os.makedirs(folder, exist_ok=True)
  runlog.write_config(folder, config)
  start = time.perf_counter()
  try:
    summary, error = launch.run(config, folder), None
  except Exception as e:  # noqa: BLE001 - any failure of a point is recorded and the sweep goes on
    summary, error = None, " ".join(f"{type(e).__name__}: {e}".split())
    with atomic.writing(os.path.join(folder, "error.txt"), "w") as f:
      f.write(traceback.format_exc())
  return {"status": "failed" if error else "done", "error": error, "summary": summary,
          "seconds": time.perf_counter() - start, "config_sha256": configs.fingerprint(config)}


def read_record(folder):
  try:
    with open(os.path.join(folder, "point.json")) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def table(config, points, records, resolved):
  """(columns, rows) of the results: name, swept values, status, metrics, peer ratios, seconds."""
  keys = list(dict.fromkeys(key for values in points.values() for key in values))
  short = short_names(keys)
  rows = []
  for name in points:
    summary, settings = records[name].get("summary") or {}, resolved[name].to_dict()
    row = {"point": name, **{short[k]: _text(lookup(settings, k)) for k in keys}, "status": records[name]["status"]}
    row.update({metric: lookup(summary, metric) for metric in config.metrics})
    rows.append(row)
  columns = list(rows[0])
  if config.peer_key:
    peer = short[config.peer_key]
    ours = _text(lookup(config.base.to_dict(), config.peer_key))
    others = [short[k] for k in keys if k != config.peer_key]
    for name in dict.fromkeys(row[peer] for row in rows if row[peer] != ours):
      for metric in config.peer_metrics:
        column = f"{metric} {name}/ours"
        columns.append(column)
        for row in rows:
          match = [r for r in rows if r[peer] == name and all(r[k] == row[k] for k in others)]
          mine, theirs = row.get(metric), match[0].get(metric) if match and row[peer] == ours else None
          row[column] = theirs / mine if mine and theirs else None
  for row, name in zip(rows, points):
    row["seconds"] = records[name]["seconds"]
  return columns + ["seconds"], rows


def _cell(value):
  if isinstance(value, float):
    return f"{value:.4g}"
  return "" if value is None else str(value)


def write_tables(workdir, columns, rows, title):
  text = io.StringIO()
  writer = csv.DictWriter(text, columns)
  writer.writeheader()
  writer.writerows(rows)
  with atomic.writing(os.path.join(workdir, "results.csv"), "w") as f:
    f.write(text.getvalue())
  lines = [title, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
  runlog.write_table(workdir, "\n".join(lines) + "\n", {"rows": rows, "environment": runlog.environment()},
                     name="results")


def write_contact_sheet(workdir, rows, image, swept):
  tiles = []
  for row in rows:
    matches = sorted(glob.glob(os.path.join(glob.escape(os.path.join(workdir, POINTS, row["point"])), image)))
    if row["status"] == "done" and matches:
      tiles.append(compare.captioned(images.load_image(matches[-1]), "\n".join(f"{k}={row[k]}" for k in swept)))
  if tiles:
    per_row = compare.TILES_PER_ROW
    compare.contact_sheet([tiles[k:k + per_row] for k in range(0, len(tiles), per_row)],
                          os.path.join(workdir, "contact_sheet.png"))


def write_plot(workdir, rows, plot, short):
  """plot.y against plot.x, one line per combination of the other swept values that vary."""
  x = short[plot.x]
  varying = [k for k in short.values() if k != x and len({row[k] for row in rows}) > 1]
  lines = {}
  for row in rows:
    if row["status"] == "done" and row.get(plot.y) is not None:
      label = ", ".join(f"{k}={row[k]}" for k in varying) or plot.y
      lines.setdefault(label, []).append((float(row[x]), float(row[plot.y])))
  runlog.plot_lines(lines, os.path.join(workdir, "plot.png"), x, plot.y)


def check(config):
  if config.base.get("job") not in launch.JOBS or config.base.job == "sweep":
    raise UserError(f"config.base must be the config of a job other than sweep, not {config.base.get('job')!r}")
  swept = {key for block in config.sweep for key in block}
  needed = [k for k in (config.peer_key, config.plot.x) if k and k not in swept]
  if needed or (config.plot.x and not config.plot.y) or (config.peer_key and not config.peer_metrics):
    raise UserError(f"peer_key and plot.x must be swept keys (not: {', '.join(needed) or '-'}); "
                    "plot.x needs plot.y, peer_key needs peer_metrics")


def run(config, workdir):
  check(config)
  points = expand(config.sweep)
  resolved = {name: configs.override(config.base, values) for name, values in points.items()}
  os.makedirs(workdir, exist_ok=True)
  runlog.write_config(workdir, config)
  folders = {name: os.path.join(workdir, POINTS, name) for name in points}
  records = {name: read_record(folder) for name, folder in folders.items()}
  ran = {name for name in points if is_done(records[name], resolved[name])}  # done before, or now
  bar = runlog.progress(len(points), "sweep", unit="point", initial=len(ran))
  running, interrupted = None, False
  try:
    for name, folder in folders.items():
      if name in ran:
        continue
      running = name
      bar.set_postfix_str(name)
      records[name] = {"name": name, "values": points[name], **run_point(resolved[name], folder)}
      runlog.write_json(os.path.join(folder, "point.json"), records[name])
      ran.add(name)
      bar.update(1)  # a stop point, between points
  except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the running point kept what it had; the tables say how far it got
    interrupted = True
    records.update({name: {"status": "interrupted" if name == running else "not run", "seconds": None}
                    for name in points if name not in ran})
  finally:
    bar.close()
  columns, rows = table(config, points, records, resolved)
  title = f"{os.path.basename(os.path.abspath(workdir))}: {len(rows)} points of the {config.base.job} job"
  write_tables(workdir, columns, rows, f"{title}, {runlog.describe_machine()}")
  swept = short_names(list(dict.fromkeys(k for values in points.values() for k in values)))
  if config.image:
    write_contact_sheet(workdir, rows, config.image, list(swept.values()))
  if config.plot.x:
    write_plot(workdir, rows, config.plot, swept)
  if interrupted:
    raise KeyboardInterrupt
  failed = [row["point"] for row in rows if row["status"] != "done"]
  if failed:
    raise UserError(f"{len(failed)} of {len(rows)} points failed ({', '.join(failed)}); "
                    f"see {os.path.join(workdir, POINTS, 'NAME', 'error.txt')}; rerun to retry them")
  return {"points": len(rows), "failed": failed, "rows": rows}
