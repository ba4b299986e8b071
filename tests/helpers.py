"""Test helpers: paths, tiny presets, synthetic VGG weights, a numpy reference VGG, test images."""

import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from configs import fast_photo, johnson, stylize as stylize_config
from stylejax import api
from stylejax.core import vgg as vgg_lib
from stylejax.io import assets, checkpoints, images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")

TINY_WIDTHS = (4, 5, 6, 6, 6)  # small stand-ins for 64, 128, 256, 512, 512


def tiny_params(arch, seed=0):
  """{'conv1_1': {'kernel': HWIO, 'bias': O}, ...} with tiny widths and random values."""
  rng = np.random.default_rng(seed)
  params, channels_in = {}, 3
  for name in vgg_lib.conv_names(arch):
    channels_out = TINY_WIDTHS[int(name[4]) - 1]
    params[name] = {"kernel": rng.normal(0, 0.4, (3, 3, channels_in, channels_out)).astype(np.float32),
                    "bias": rng.normal(0, 0.1, channels_out).astype(np.float32)}
    channels_in = channels_out
  return params


def numpy_vgg(params, arch, image, mean, std, pooling="avg"):
  """Reference VGG forward in plain numpy for one (H, W, 3) image in 0..255: {tap: (H, W, C)}."""
  x = (np.asarray(image, np.float64) - mean) / std
  out = {}
  for tap in vgg_lib.tap_names(arch):
    if tap.startswith("conv"):
      kernel, bias = params[tap]["kernel"].astype(np.float64), params[tap]["bias"]
      padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
      h, w = x.shape[:2]
      x = bias + sum(padded[dy:dy + h, dx:dx + w] @ kernel[dy, dx] for dy in range(3) for dx in range(3))
    elif tap.startswith("relu"):
      x = np.maximum(x, 0)
    else:
      h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
      blocks = x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1)
      x = blocks.mean((1, 3)) if pooling == "avg" else blocks.max((1, 3))
    out[tap] = x
  return out


# Small enough for a 2-core CPU: 32 px crops, batch 2, a one-block network.
OVERRIDES = {"image_size": 32, "style_size": 64, "preview_size": 32, "total_steps": 6, "log_every_steps": 2,
             "sample_every_steps": 3, "checkpoint_every_steps": 2, "num_threads": 2}


def tiny_config(arg="tiny", **overrides):
  config = johnson.get_config(arg)
  config.net.residual_blocks = 1
  config.update({**OVERRIDES, **overrides})
  return config


def tiny_photo_config(preset=fast_photo, arg="tiny", **overrides):
  """configs/fast_photo.py:tiny (or fast_photo_thesis.py:tiny) at the sizes of OVERRIDES."""
  config = preset.get_config(arg)
  if "residual_blocks" in config.net:  # the thesis's network
    config.net.residual_blocks = 1
  config.update({**OVERRIDES, **overrides})
  return config


def final_params(workdir, step=None):
  """The parameters of a train workdir's checkpoint `step` (default: the newest) as numpy arrays."""
  manager = checkpoints.manager(workdir)
  step = step or manager.latest_step()
  restored = manager.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore()))
  manager.close()
  return jax.tree.map(np.asarray, restored.params)


def assert_bitwise_equal(a, b):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  assert all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b))


def random_params(net, seed=0):
  """Initial parameters plus noise, so that biases and norm scales matter too."""
  inputs = jnp.zeros((1, 32, 32, 3))
  params = net.init(jax.random.key(seed), inputs, inputs if net.takes_style else None)
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
  return jax.tree.unflatten(tree, [p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])


def smooth_image(rng, height, width):
  coarse = rng.uniform(0, 255, (height // 8 + 2, width // 8 + 2, 3)).astype(np.float32)
  return np.asarray(jax.image.resize(coarse, (height, width, 3), "linear"))


BLUE, RED, GREEN = (0, 0, 255), (255, 0, 0), (0, 255, 0)


def segmentation(h, w, top, bottom, split=0.5):
  seg = np.zeros((h, w, 3), np.float32)
  seg[: int(h * split)] = top
  seg[int(h * split):] = bottom
  return seg



def free_port():
  """A TCP port on loopback that nothing listens on now."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def run_py(config, workdir):
  """A stylize config's job through run.py in its own process (its keys that differ from configs/stylize.py's
  as --config flags). Ray then starts its own local cluster, on this machine's two cores, and never runs inside
  the test suite's process."""
  overrides = [f"--config.{key}={value}" for key, value in config.items() if value != stylize_config.get_config()[key]]
  return subprocess.run([sys.executable, "run.py", "--config=configs/stylize.py", f"--workdir={workdir}", *overrides],
                        cwd=ROOT, capture_output=True, text=True, timeout=900)


def stylize_cfg(model_dir, photo_tree, out, **overrides):
  """configs/stylize.py from `model_dir` on `photo_tree` (a folder, file or glob) to `out`: PNG, batches of 2, tiles
  of 64 px above 100x100 pixels, then `overrides`."""
  config = stylize_config.get_config()
  config.update({"checkpoint": model_dir, "input": str(photo_tree), "output": str(out), "output_format": "png",
                 "batch_size": 2, "num_threads": 2, "tile_pixels": 100 * 100, "tile_size": 64, **overrides})
  return config


def cat_beside_cup():
  """(photo, style, warm cat, cool cup): a 96x192 photo of the bundled cat beside the cup, and a style of the same
  cup graded cool beside the same cat graded warm (float 0..255): regions of one meaning in both, in other places
  and colours, for automatic regions."""
  cat, cup = (images.at_long_side(api.as_image(assets.path(name)), 160)[:96, 30:126]
              for name in ("chelsea.jpg", "coffee.jpg"))
  warm, cool = np.clip(cat * (1.2, 0.8, 0.5), 0, 255), np.clip(cup * (0.5, 0.8, 1.2), 0, 255)
  return np.concatenate([cat, cup], 1), np.concatenate([cool, warm], 1), warm, cool
