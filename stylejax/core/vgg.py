"""VGG16/VGG19 convolutional feature extractor with named taps.

Taps are `conv{b}_{i}` (pre-activation), `relu{b}_{i}` and `pool{b}`, as in
Simonyan & Zisserman (2015) and the style-transfer literature. Only the layers
up to the deepest requested tap are computed. Inputs are NHWC images in 0..255;
each weight source brings its own normalisation `(x - mean) / std` (in 0..255
units), applied here so callers never preprocess by hand.
"""

import jax
import jax.numpy as jnp
from flax import struct

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}  # compute dtypes of the VGG and the networks

# Convolutions per block; block b has WIDTHS[b] output channels.
LAYOUTS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
POOLINGS = ("avg", "max")


def conv_names(arch):
  """Names of the convolutions of `arch` in network order."""
  return [f"conv{b + 1}_{i + 1}" for b, n in enumerate(LAYOUTS[arch]) for i in range(n)]


def tap_names(arch):
  """Every tap of `arch` in network order: conv, relu per convolution, pool per block."""
  names = []
  for b, n in enumerate(LAYOUTS[arch]):
    for i in range(n):
      names += [f"conv{b + 1}_{i + 1}", f"relu{b + 1}_{i + 1}"]
    names.append(f"pool{b + 1}")
  return names


def check_layers(arch, layers):
  """Raises ValueError naming the first layer `arch` does not have."""
  known = set(tap_names(arch))
  for layer in layers:
    if layer not in known:
      raise ValueError(f"unknown {arch} layer {layer!r}; layers are {', '.join(tap_names(arch))}")


def conv_flops(arch, height, width, layers):
  """Multiply-add FLOPs (2 per MAC) of the convolutions needed for `layers`."""
  order = tap_names(arch)
  deepest = max(order.index(layer) for layer in layers)
  flops, h, w, channels_in = 0, height, width, 3
  for tap in order[:deepest + 1]:
    if tap.startswith("conv"):
      channels_out = WIDTHS[int(tap[4]) - 1]
      flops += 2 * h * w * 9 * channels_in * channels_out
      channels_in = channels_out
    elif tap.startswith("pool"):
      h, w = h // 2, w // 2
  return flops


def _pool(x, kind):
  """2x2, stride 2 pooling (odd trailing rows/columns dropped, as torchvision)."""
  b, h, w, c = x.shape
  blocks = x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c)
  return blocks.mean((2, 4)) if kind == "avg" else blocks.max((2, 4))


@struct.dataclass
class Vgg:
  """Pretrained VGG weights plus the input normalisation of their source.

  params: {"conv1_1": {"kernel": (3, 3, in, out) HWIO, "bias": (out,)}, ...}.
  mean, std: (3,) in 0..255 units; the network sees (x - mean) / std.
  """
  params: dict
  mean: jax.Array
  std: jax.Array
  arch: str = struct.field(pytree_node=False)
  pooling: str = struct.field(pytree_node=False, default="avg")

  def features(self, images, layers, dtype=jnp.float32):
    """{layer: NHWC float32 features} of 0..255 NHWC `images`.

    `dtype` is the compute type (e.g. bfloat16); features are returned in fp32.
    """
    wanted = set(layers)
    x = ((images - self.mean) / self.std).astype(dtype)
    out = {}
    for tap in tap_names(self.arch):
      if not wanted - out.keys():
        break
      if tap.startswith("conv"):
        p = self.params[tap]
        x = jax.lax.conv_general_dilated(
            x, p["kernel"].astype(dtype), (1, 1), "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["bias"].astype(dtype)
      elif tap.startswith("relu"):
        x = jax.nn.relu(x)
      else:
        x = _pool(x, self.pooling)
      if tap in wanted:
        out[tap] = x.astype(jnp.float32)
    return out
