"""The shape of a sweep preset (the `sweep` job, stylejax/tools/sweep.py; presets in configs/sweeps/)."""

import ml_collections


def make(base, blocks, metrics, image="", plot=("", ""), peer_key="", peer_metrics=("ms",)):
  """A sweep of `base` (any job's config) over `blocks` ([{dotted key: [values]}]: product within a block,
  union across).

  metrics: dotted paths into each point's summary, the table's columns.
  image: a file (or glob) in each point's folder, for the contact sheet.
  plot: (x key, y metric), one line per combination of the other swept values.
  peer_key: the key whose value in `base` is ours and whose other values are peers: a ratio column
    (peer / ours) per peer and `peer_metrics` entry.
  """
  config = ml_collections.ConfigDict()
  config.job = "sweep"
  config.base = base
  config.sweep = tuple(blocks)
  config.metrics = tuple(metrics)
  config.image = image
  config.plot = ml_collections.ConfigDict(dict(zip(("x", "y"), plot)))
  config.peer_key = peer_key
  config.peer_metrics = tuple(peer_metrics) if peer_key else ()
  return config
