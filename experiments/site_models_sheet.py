"""The website's models on five photos none of them was trained on: one contact sheet, a row per model.

  python experiments/site_models_sheet.py --out experiments/results/site_models.jpg [--models DIR ...] [--size 384]

The photos are the content photos (inN) of the first five held-out pairs of configs/photos.py: the `photos`
presets never train on them, and the older models trained on the bundled samples only. Each model stylises them
at --size px (long side) with its own style; a universal model takes each pair's own style photo (tarN). The
first row shows the photos, then each model's row starts with its style.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs import photos  # noqa: E402
from stylejax import api  # noqa: E402
from stylejax.io import images  # noqa: E402
from stylejax.tools import compare  # noqa: E402
from stylejax.web import catalog  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default="experiments/results/site_models.jpg")
  parser.add_argument("--models", nargs="*", default=[catalog.bundled_dir()], help="folders of model directories")
  parser.add_argument("--size", type=int, default=384)
  args = parser.parse_args()
  pairs = photos.held_out_pairs()[:5]
  contents = [images.at_long_side(images.read_rgb(os.path.join(photos.PAIRS, f"in{n}.png")), args.size) for n in pairs]
  styles = [images.read_rgb(os.path.join(photos.PAIRS, f"tar{n}.png")) for n in pairs]
  rows = [[compare.captioned(content, f"in{n} (held out)") for n, content in zip(pairs, contents)]]
  for name, model in catalog.models(args.models).items():
    loaded = api.load_model(model.path)
    row = [compare.captioned(images.read_rgb(model.style), f"{name}: its style")] if model.style else []
    for n, content, style in zip(pairs, contents, styles):
      result = loaded.stylize(content, style if model.takes_style else None)
      row.append(compare.captioned(result, f"{name}, in{n}" + (f" in the style of tar{n}" if model.takes_style else "")))
    rows.append(row)
    print(f"{name}: done", flush=True)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  compare.contact_sheet(rows, args.out)
  print(args.out)


if __name__ == "__main__":
  main()
