"""Writes a model directory's example.jpg, the picture the website's home page shows for it: the bundled photo of
Chelsea the cat stylised at 320 px (long side); a model that takes a style photo gets the bundled coffee photo.

  python experiments/model_example.py MODEL_DIR [MODEL_DIR ...]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stylejax import api  # noqa: E402
from stylejax.io import assets, images  # noqa: E402

SIDE = 320


def main(folders):
  photo = images.at_long_side(images.read_rgb(assets.path("chelsea.jpg")), SIDE)
  style = images.read_rgb(assets.path("coffee.jpg"))
  for folder in folders:
    model = api.load_model(folder)
    result = model.stylize(photo, style if model.net.takes_style else None)
    images.save_image(os.path.join(folder, "example.jpg"), result, quality=88)
    print(os.path.join(folder, "example.jpg"))


if __name__ == "__main__":
  main(sys.argv[1:])
