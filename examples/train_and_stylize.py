"""Train a small feed-forward network for one style and stylise a photo with it, on arrays (Johnson et al.
2016): a network kind from the registry, the preset's loss, one jitted training step, no workdir.

  python examples/train_and_stylize.py --steps 300 --size 128 --out fast.png

The `train` job (configs/johnson.py) adds the data pipeline, sharding over devices, checkpoints and logs
around the same step; `stylejax.load_model(workdir)` then loads what it wrote.
"""

import argparse

import jax
import numpy as np
import optax

from stylejax import api, settings
from stylejax.core import networks
from stylejax.io import assets, data, images, weights
from stylejax.methods import training


def training_crops(size, count, seed):
  """`count` random square crops of the bundled photos, uint8 (count, size, size, 3)."""
  rng = np.random.default_rng(seed)
  photos = [images.read_rgb(path) for path in data.sample_paths()]
  return np.stack([data.square_crop(photos[k % len(photos)], size, rng) for k in range(count)])


def main(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--size", type=int, default=128, help="training crops, pixels")
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--width", type=int, default=16, help="the network's channels at full resolution")
  parser.add_argument("--out", default="fast.png")
  args = parser.parse_args(argv)

  config = api.preset("johnson")  # the loss: content relu4_2, Gram style relu1_1..relu5_1, TV
  objective = settings.objective(config)
  net = networks.build("johnson", {"width": args.width, "residual_blocks": 3, "upsample": "resize"})
  vgg = weights.load_vgg()
  grams, _ = api.style_targets(objective, vgg, assets.path("starry_night.jpg"), 256)
  tx = optax.adam(1e-3)
  state = training.init_state(net, tx, args.size, seed=0)
  crops = training_crops(args.size, 64, seed=0)

  for step in range(args.steps):
    batch = crops[np.arange(step * args.batch, (step + 1) * args.batch) % len(crops)]
    state, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx)
    if (step + 1) % max(1, args.steps // 5) == 0 or step == 0:
      print(f"step {step + 1}: " + ", ".join(f"{name} {float(value):.4g}" for name, value in metrics.items()))
  if int(state["bad"]) >= 0:
    raise SystemExit(f"the loss went NaN at step {int(state['bad']) + 1}")

  photo = images.load_image(assets.path("rocket.jpg"), 256)
  stylised = networks.stylize(net, state["params"], jax.numpy.asarray(photo)[None])[0]
  images.save_image(args.out, np.concatenate([photo, np.asarray(stylised)], axis=1))
  print(f"wrote {args.out}: the photo and its stylisation")


if __name__ == "__main__":
  main()
