"""Gatys et al. 2016 on arrays: the objective, its targets and the optimiser loop, no config files or workdirs.

  python examples/gatys_on_arrays.py --size 256 --steps 200 --out gatys.png

The same pieces the `optimize` job composes (configs/gatys.py): a loss of weighted terms
(content, Gram style, TV) on VGG features, jitted chunks of optimiser steps on the pixels.
"""

import argparse

import numpy as np

import stylejax
from stylejax import settings
from stylejax.io import assets, images, weights
from stylejax.methods import pixels


def main(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument("--size", type=int, default=256, help="long side of the result, pixels")
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--out", default="gatys.png")
  args = parser.parse_args(argv)

  content = images.load_image(assets.path("chelsea.jpg"), args.size)  # (H, W, 3) float32 in 0..255
  style = images.load_image(assets.path("starry_night.jpg"), args.size)
  objective = settings.objective(stylejax.preset("gatys"))  # content + style + TV, the preset's weights
  vgg = weights.load_vgg()  # the embedded VGG16
  targets = objective.targets(vgg, content[None], objective.blended_style_grams(vgg, [style]))

  def report(step, x, terms, seconds):
    print(f"step {step}: " + ", ".join(f"{name} {float(value):.4g}" for name, value in terms.items()))

  result, halted_at, _ = pixels.optimize(content[None], vgg, targets, objective, steps=args.steps,
                                         chunk=max(1, args.steps // 5), on_chunk=report)
  assert halted_at is None, f"the loss went NaN at step {halted_at}"
  images.save_image(args.out, np.asarray(result[0]))
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
