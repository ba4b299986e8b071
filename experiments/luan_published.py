"""The Luan preset on one of Luan's example pairs, scored beside his published result and the photo itself.

  python run.py --config experiments/luan_published.py:3 --workdir runs/published3    (pairs 3, 29, 53)

Runs configs/luan.py unchanged except for the pair and its mask files
(../shared/data/photo: inN.png, tarN.png, inN_seg.png, tarN_seg.png,
luan_resultN.png) and writes the compare job's contact sheet (content | style
| Luan | photo | ours) and score table (stylejax.core.scoring).
"""

import os

import ml_collections

from configs import luan

PHOTO = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "photo")


def pair_run(pair, run=None):
  """configs/luan.py (or `run`) on pair `pair` of the development data, with its mask files."""
  run = run or luan.get_config()
  path = lambda name: os.path.join(PHOTO, f"{name}.png")  # noqa: E731
  run.content, run.style = path(f"in{pair}"), (path(f"tar{pair}"),)
  run.masks.source, run.masks.content, run.masks.style = "files", path(f"in{pair}_seg"), path(f"tar{pair}_seg")
  return run


def references(pair):
  """Luan's published result and the unchanged photo, as compare-job references."""
  return ml_collections.ConfigDict({"luan": os.path.join(PHOTO, f"luan_result{pair}.png"),
                                    "photo": os.path.join(PHOTO, f"in{pair}.png")})


def get_config(arg=None):
  pair = arg or "3"
  config = ml_collections.ConfigDict()
  config.job = "compare"
  config.runs = ml_collections.ConfigDict({"ours": pair_run(pair)})
  config.references = references(pair)
  return config
