"""The photorealistic methods' painting guard (stylejax.core.texture) on every photo and painting we have: the share
of smooth blocks of each, which pictures it flags, and a sheet of the flagged photos.

  python experiments/painting_guard.py --out experiments/results/painting_guard

Photos: both photos of each of Luan's development pairs and his published results (not pair 21's style, which is
van Gogh's Starry Night), the shared content photos and the package's bundled photos. Paintings: the bundled three
(at most 512 px), the shared copies they were made from (up to 1528 px) and Luan's copy of Starry Night, each whole
and as four random crops of 2/3 its sides.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs import photos  # noqa: E402
from stylejax.core import texture  # noqa: E402
from stylejax.io import assets, images  # noqa: E402
from stylejax.tools import compare  # noqa: E402

PAINTING_IN_PAIRS = "tar21.png"  # Starry Night, a style of Luan's pairs


def pictures():
  """{"photo": [(name, path)], "painting": [(name, path)]}."""
  pairs = [f"{side}{n}.png" for n in photos.pairs() if photos.usable(n) for side in ("in", "tar", "luan_result")]
  pairs = [name for name in pairs if os.path.isfile(os.path.join(photos.PAIRS, name))]
  content, styles = os.path.join(photos.SHARED, "content"), os.path.join(photos.SHARED, "styles")
  bundled = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "grace_hopper.jpg", "rocket.jpg"]
  return {
      "photo": ([(name, os.path.join(photos.PAIRS, name)) for name in pairs if name != PAINTING_IN_PAIRS]
                + [(name, os.path.join(content, name)) for name in sorted(os.listdir(content))]
                + [(name, assets.path(name)) for name in bundled]),
      "painting": ([(f"assets/{name}", assets.path(name)) for name in ("starry_night.jpg", "the_scream.jpg",
                                                                     "woman_with_a_hat.jpg")]
                   + [(f"styles/{name}", os.path.join(styles, name)) for name in sorted(os.listdir(styles))]
                   + [(PAINTING_IN_PAIRS, os.path.join(photos.PAIRS, PAINTING_IN_PAIRS))]),
  }


def crops(image, count=4, seed=0):
  """`count` random crops of 2/3 of `image`'s sides."""
  rng = np.random.default_rng(seed)
  h, w = image.shape[0] * 2 // 3, image.shape[1] * 2 // 3
  corners = zip(rng.integers(0, image.shape[0] - h + 1, count), rng.integers(0, image.shape[1] - w + 1, count))
  return [image[y:y + h, x:x + w] for y, x in corners]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default="experiments/results/painting_guard")
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  found = pictures()
  shares = {"photo": {}, "painting": {}}
  flagged_photos = []
  for kind, listed in found.items():
    for name, path in listed:
      image = np.asarray(images.read_rgb(path))
      views = [image] + (crops(image) if kind == "painting" else [])
      shares[kind][name] = [texture.smooth_share(view) for view in views]
      if kind == "photo" and texture.textured_all_over(image):
        flagged_photos.append(compare.captioned(image, f"{name}: s = {shares[kind][name][0]:.4f}"))
  photo_shares = np.array([s for values in shares["photo"].values() for s in values])
  painting_shares = np.array([s for values in shares["painting"].values() for s in values])
  summary = {
      "threshold": texture.PAINTED,
      "photos": len(photo_shares), "photos_flagged": int((photo_shares < texture.PAINTED).sum()),
      "flagged": sorted(name for name, values in shares["photo"].items() if values[0] < texture.PAINTED),
      "photo_share_percentiles_0_5_50": np.percentile(photo_shares, [0, 5, 50]).round(4).tolist(),
      "painting_views": len(painting_shares),
      "painting_views_flagged": int((painting_shares < texture.PAINTED).sum()),
      "painting_share_max": round(float(painting_shares.max()), 4),
      "shares": shares,
  }
  with open(os.path.join(args.out, "painting_guard.json"), "w") as f:
    json.dump(summary, f, indent=1)
  if flagged_photos:
    rows = [flagged_photos[i:i + 4] for i in range(0, len(flagged_photos), 4)]
    compare.contact_sheet(rows, os.path.join(args.out, "flagged_photos.jpg"))
  print(json.dumps({key: value for key, value in summary.items() if key != "shares"}, indent=1))


if __name__ == "__main__":
  main()
