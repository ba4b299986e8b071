"""Test helpers: tiny synthetic VGG weights and a numpy reference VGG."""

import numpy as np

from stylejax.core import vgg as vgg_lib

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
