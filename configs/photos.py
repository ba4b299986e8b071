"""The development photos in ../shared/data (beside the repository): Luan's photorealistic pairs and the content
photos, split into training photos and held-out evaluation pairs. Presets train on `training_photos()` (their
`photos` argument); experiments/universal_vs_luan.py evaluates on `held_out_pairs()`."""

import os

SHARED = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
PAIRS = os.path.join(SHARED, "photo")  # Luan's pairs: inN.png, tarN.png, inN_seg.png, tarN_seg.png, luan_resultN.png


def _is_png(path):
  try:
    with open(path, "rb") as f:
      return f.read(8) == b"\x89PNG\r\n\x1a\n"
  except OSError:
    return False


def pairs():
  """The numbers N of Luan's development pairs, ascending."""
  names = os.listdir(PAIRS) if os.path.isdir(PAIRS) else []
  return sorted(int(name[2:-4]) for name in names if name.startswith("in") and name[2:-4].isdigit())


def usable(pair):
  """Whether both photos of `pair` are PNG files (tar23.png of the shared copy is a 23-byte text stub, a link in
  Luan's repository)."""
  return all(_is_png(os.path.join(PAIRS, f"{side}{pair}.png")) for side in ("in", "tar"))


def held_out_pairs():
  """Every fourth pair (the 1st, 5th, ...), never trained on: the evaluation's pairs (the usable ones)."""
  return [n for n in pairs()[::4] if usable(n)]


def training_pairs():
  """The usable pairs that are not held out: trained on, and the pairs settings are chosen on."""
  held_out = set(pairs()[::4])
  return [n for n in pairs() if n not in held_out and usable(n)]


def training_photos():
  """Both photos of every training pair, then the shared content photos."""
  photos = [os.path.join(PAIRS, f"{side}{n}.png") for n in training_pairs() for side in ("in", "tar")]
  content = os.path.join(SHARED, "content")
  names = os.listdir(content) if os.path.isdir(content) else []
  return photos + sorted(os.path.join(content, name) for name in names)


def listed():
  """`training_photos()` comma-separated (a preset's `data` as `files:` + this, or its `style`); where they are
  missing, the folder they should be in, so a preset with the `photos` argument still builds (another
  --config.data can replace them, as on the GPU machine) and a run that uses them names the missing folder."""
  return ",".join(training_photos()) or PAIRS
