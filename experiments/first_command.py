"""README's first command before and after issue 22, side by side: content | 500 Adam steps | the CPU schedule.

  /usr/bin/time -f %e python run.py --config configs/gatys.py --workdir runs/first_command   # on a CPU: schedule cpu
  /usr/bin/time -f %e python run.py --config configs/gatys.py --workdir runs/full --config.schedule=full
  python experiments/first_command.py runs/first_command SECONDS [runs/full FULL_SECONDS]   # the commands' times

Scores the bundled cat photo, today's reference result of 500 Adam steps
(results/gatys_default_512.jpg, a JPEG) and the run's result.png with one
objective at one size: configs/gatys.py's loss at 512 px
(stylejax.settings.objective + stylejax.methods.pixels.evaluate), and with
the fixed scoring protocol (stylejax.api.score). The run's result is also
scored after a JPEG round trip with the reference's quantisation tables, so
both pictures pay the same compression; the `--config.schedule=full` run, if
given, adds its result.png (lossless) and its time to the caption. Writes
results/gatys_first_command.jpg (losses and wall times under each picture) and
prints the numbers as JSON.
"""

import io
import json
import os
import sys

import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw, JpegImagePlugin

from stylejax import api, settings
from stylejax.io import assets
from stylejax.methods import pixels
from stylejax.tools import compare

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
REFERENCE = os.path.join(RESULTS, "gatys_default_512.jpg")


def jpeg_like(image, reference):
  """`image` (PIL) after a JPEG round trip with `reference`'s quantisation tables and chroma subsampling."""
  buffer = io.BytesIO()
  image.save(buffer, "JPEG", qtables=reference.quantization, subsampling=JpegImagePlugin.get_sampling(reference))
  return Image.open(buffer).convert("RGB")


def main(workdir, seconds, full_workdir=None, full_seconds=None):
  config = api.preset("gatys")  # the loss; the schedule plays no part in scoring
  vgg, objective = api.load_vgg(config), settings.objective(config)
  content_image, style_image = (api.as_image(assets.resolve(p)) for p in (config.content, config.style[0]))
  content = api.fit(content_image, config.image_size)
  grams = objective.blended_style_grams(vgg, [api.fit(style_image, config.image_size)])
  targets = objective.targets(vgg, jnp.asarray(content)[None], grams)
  reference = Image.open(REFERENCE)
  new = Image.open(os.path.join(workdir, "result.png")).convert("RGB")
  with open(os.path.join(RESULTS, "gatys_default_512_summary.json")) as f:
    reference_seconds = json.load(f)["wall_time_s"]
  with open(os.path.join(workdir, "summary.json")) as f:
    run = json.load(f)
  pictures = {"content": content_image, "reference": reference.convert("RGB"), "new": new,
              "new_jpeg": jpeg_like(new, reference)}
  if full_workdir:
    pictures["full_png"] = Image.open(os.path.join(full_workdir, "result.png")).convert("RGB")
  numbers = {}
  for name, picture in pictures.items():
    array = np.asarray(picture.resize(content.shape[1::-1], Image.Resampling.LANCZOS), np.float32)
    losses = pixels.evaluate(vgg, targets, jnp.asarray(array)[None], objective=objective)
    numbers[name] = {"loss": {k: float(v) for k, v in losses.items()},
                     "score": api.score(picture, content_image, style_image)}
  numbers["reference"]["seconds"], numbers["new"]["seconds"] = reference_seconds, seconds
  if full_workdir:
    numbers["full_png"]["seconds"] = full_seconds
  numbers["new"]["schedule"] = {key: run.get(key) for key in ("schedule", "optimizer", "steps")}

  def caption(title, name, time):
    loss = numbers[name]["loss"]
    return f"{title}\nstyle {loss['style']:.4f}  content {loss['content']:.3f}  total {loss['total']:.3f}\n{time}"

  tiles = [(pictures["content"], caption("content (the bundled cat photo)", "content", "")),
           (pictures["reference"], caption("before: 500 Adam steps", "reference", (
               f"{full_seconds / 60:.1f} min (the whole command); " if full_workdir else "")
               + f"{reference_seconds / 60:.1f} min beside a test run (the optimisation)")),
           (new, caption(f"now, on a CPU: {run['steps']} L-BFGS steps", "new_jpeg",
                         f"{seconds / 60:.1f} min (the whole command)"))]
  height, gap = content.shape[0], 4
  sheet = Image.new("RGB", (3 * content.shape[1] + 2 * gap, height + compare.CAPTION_HEIGHT), "white")
  for k, (picture, text) in enumerate(tiles):
    x = k * (content.shape[1] + gap)
    sheet.paste(picture.resize(content.shape[1::-1], Image.Resampling.LANCZOS), (x, 0))
    ImageDraw.Draw(sheet).multiline_text((x + 4, height + 3), text, fill="black", spacing=2)
  sheet.save(os.path.join(RESULTS, "gatys_first_command.jpg"), quality=90)
  print(json.dumps(numbers, indent=1))


if __name__ == "__main__":
  main(sys.argv[1], float(sys.argv[2]), *sys.argv[3:4], *map(float, sys.argv[4:5]))
