"""Feed-forward style transfer networks, fully convolutional, any input size (`KINDS`):

- `TransformNet` ("johnson"): paints every pixel; the artistic model and the thesis's §4
  photorealistic one (Johnson, Alahi, Fei-Fei 2016; Ulyanov et al. 2016);
- `BilateralNet` ("bilateral"): predicts local affine colour transforms of the photo
  (Gharbi et al. 2017; Xia et al. 2020), photorealistic by construction; see its docstring.

`TransformNet` is the network of Johnson et al.'s supplementary table, as the thesis reproduces it;
fully convolutional, any input size:

  conv 9×9, 32 → conv 3×3, 64, stride 2 → conv 3×3, 128, stride 2
  → 5 residual blocks (two 3×3, 128 convs + shortcut)
  → ×2 upsampling to 64 → ×2 upsampling to 32 → conv 9×9, 3 → (tanh + 1) · 127.5

Instance norm and ReLU after every convolution but the last. Upsampling is a
stride-2 transposed convolution (the thesis) or nearest resize + 3×3 conv
(`upsample="resize"`, the usual cure for checkerboard artefacts); each
upsampling returns exactly the size of the matching encoder stage, so odd sizes
round-trip. `padding="reflect"` pads the convolutions by reflection instead of
zeros (transposed convolutions keep zero padding). Written
with flax.linen: parameters are a plain pytree, which keeps training steps pure
functions for jit, optax and orbax.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylejax.core import bilateral

UPSAMPLINGS = ("transpose", "resize")
PADDINGS = ("zeros", "reflect")


class InstanceNorm(nn.Module):
  """Instance normalisation (Ulyanov, Vedaldi, Lempitsky 2016), per image and channel:

      y = γ · (x − μ) / √(σ² + ε) + β,   μ, σ² the mean and variance of x over (H, W).

  For exact tiled inference (stylejax.tiling) μ and σ² can come from outside:
  where the `norm_stats` collection holds {"mean", "var", "use"} for this layer
  and `use` is 1, those (whole-image) statistics replace the tile's own; the
  layer's input is sown as `intermediates` `norm_input` when that collection is mutable.
  """
  epsilon: float = 1e-6
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (channels,))
    bias = self.param("bias", nn.initializers.zeros, (channels,))
    self.sow("intermediates", "norm_input", x)
    x32 = x.astype(jnp.float32)
    mean = x32.mean((1, 2), keepdims=True)
    var = jnp.square(x32 - mean).mean((1, 2), keepdims=True)
    if self.has_variable("norm_stats", "mean"):
      use = self.get_variable("norm_stats", "use")
      mean = jnp.where(use, self.get_variable("norm_stats", "mean"), mean)
      var = jnp.where(use, self.get_variable("norm_stats", "var"), var)
    y = (x32 - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias
    return y.astype(self.dtype)


class ConvNormAct(nn.Module):
  """Conv (zero or reflection padding) → instance norm → optional ReLU."""
  features: int
  kernel: int
  stride: int = 1
  padding: str = "zeros"
  relu: bool = True
  norm: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    pad = self.kernel // 2
    if self.padding == "reflect":
      x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
      conv_padding = "VALID"
    else:
      conv_padding = [(pad, pad), (pad, pad)]
    x = nn.Conv(self.features, (self.kernel, self.kernel), (self.stride, self.stride), conv_padding,
                dtype=self.dtype)(x)
    if self.norm:
      x = InstanceNorm(dtype=self.dtype)(x)
    return nn.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
  padding: str = "zeros"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    y = ConvNormAct(x.shape[-1], 3, padding=self.padding, dtype=self.dtype)(x)
    y = ConvNormAct(x.shape[-1], 3, padding=self.padding, relu=False, dtype=self.dtype)(y)
    return x + y


class Upsample(nn.Module):
  """×2 upsampling to exactly `size` (h, w), then instance norm and ReLU."""
  features: int
  mode: str = "transpose"
  padding: str = "zeros"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, size):
    if self.mode == "transpose":
      x = nn.ConvTranspose(self.features, (3, 3), (2, 2), "SAME", dtype=self.dtype)(x)[:, :size[0], :size[1]]
      return nn.relu(InstanceNorm(dtype=self.dtype)(x))
    x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)[:, :size[0], :size[1]]  # nearest ×2, pixel-aligned
    return ConvNormAct(self.features, 3, padding=self.padding, dtype=self.dtype)(x)


class TransformNet(nn.Module):
  """Image (B, H, W, 3) in 0..255 → stylised image of the same size in 0..255."""
  upsample: str = "transpose"
  padding: str = "zeros"
  residual_blocks: int = 5
  dtype: jnp.dtype = jnp.float32
  width: int = 32  # channels at full resolution (Johnson's 32); 2x and 4x that at 1/2 and 1/4

  @nn.compact
  def __call__(self, images):
    if self.upsample not in UPSAMPLINGS or self.padding not in PADDINGS:
      raise ValueError(f"upsample must be one of {UPSAMPLINGS} and padding one of {PADDINGS}")
    conv = lambda f, k, s=1: ConvNormAct(f, k, s, self.padding, dtype=self.dtype)  # noqa: E731
    x = images.astype(self.dtype) / 127.5 - 1.0
    full = conv(self.width, 9)(x)
    half = conv(2 * self.width, 3, 2)(full)
    x = conv(4 * self.width, 3, 2)(half)
    for _ in range(self.residual_blocks):
      x = ResidualBlock(self.padding, self.dtype)(x)
    x = Upsample(2 * self.width, self.upsample, self.padding, self.dtype)(x, half.shape[1:3])
    x = Upsample(self.width, self.upsample, self.padding, self.dtype)(x, full.shape[1:3])
    x = ConvNormAct(3, 9, padding=self.padding, relu=False, norm=False, dtype=self.dtype)(x)
    return ((jnp.tanh(x.astype(jnp.float32)) + 1.0) * 127.5)


def blend(stylized, content, strength):
  """strength · stylized + (1 − strength) · content: the stylisation's strength (0: the content)."""
  return strength * stylized + (1.0 - strength) * content


def low_resolution(images, size):
  """(B, H, W, C) -> (B, size, size, C), aspect ratio not kept: a box average by the largest whole
  factor that stays at or above `size`, then an antialiased linear resize (so a 4K image costs
  one pass over its pixels, not a 4K-wide resampling matrix)."""
  batch, height, width, channels = images.shape
  fy, fx = max(1, height // size), max(1, width // size)
  if fy > 1 or fx > 1:
    images = images[:, :height // fy * fy, :width // fx * fx]
    images = images.reshape(batch, height // fy, fy, width // fx, fx, channels).mean((2, 4))
  return jax.image.resize(images, (batch, size, size, channels), "linear")


class Guide(nn.Module):
  """The full-resolution guide of Gharbi et al. 2017 (§3.4.1): per pixel, a 3×3 colour transform,
  a learned curve per channel (`knots` ramps: Σ_k s_ck·max(y_c − k/knots, 0)) and a channel mix,
  clipped to [0, 1]. Starts as the mean of the three channels."""
  knots: int = 16

  @nn.compact
  def __call__(self, images):  # (B, H, W, 3) in [0, 1] -> (B, H, W)
    colour = self.param("colour", lambda _: jnp.eye(3))
    colour_bias = self.param("colour_bias", nn.initializers.zeros, (3,))
    slopes = self.param("slopes", lambda _: jnp.zeros((3, self.knots)).at[:, 0].set(1.0))
    mix = self.param("mix", lambda _: jnp.full((3,), 1.0 / 3.0))
    offset = self.param("offset", nn.initializers.zeros, ())
    # Written as sums of elementwise terms (no matrix products), so XLA fuses the whole guide into one
    # loop over the pixels and a 4K photo needs no per-knot buffers.
    y = [sum(images[..., j] * colour[j, c] for j in range(3)) + colour_bias[c] for c in range(3)]
    curves = [sum(slopes[c, k] * jnp.maximum(y[c] - k / self.knots, 0.0) for k in range(self.knots))
              for c in range(3)]
    return jnp.clip(sum(mix[c] * curves[c] for c in range(3)) + offset, 0.0, 1.0)


class BilateralNet(nn.Module):
  """Photo (B, H, W, 3) in 0..255 -> its local affine recolouring in 0..255, at any size, in one pass.

  After Gharbi et al. 2017 ("Deep bilateral learning for real-time image
  enhancement", §3) and Xia et al. 2020 ("Joint bilateral learning for
  real-time universal photorealistic style transfer"): a small network sees
  the photo at `low_res`² and predicts a bilateral grid of 3×4 affine colour
  transforms (`grid_size`² cells × `grid_depth` intensity cells):

    low_res² photo → log2(low_res / grid_size) stride-2 3×3 convs (`width`, doubling)
      ├ local path: two 3×3 convs at grid_size²
      └ global path: two stride-2 3×3 convs, three dense layers (256, 128, 64)
    → ReLU(local + global) → 1×1 conv to grid_depth·12 coefficients per cell.

  The grid is sliced at the full-resolution `Guide` (stylejax.core.bilateral)
  and each pixel's transform is applied to its own colour: the output is
  locally affine in the photo by construction and keeps all its detail. The
  last layer starts at zero weights and identity-transform biases, so the
  untrained network returns the photo. The 3×3 convolutions pad by reflection
  (`padding="reflect"`; with zeros the network can tell the border from the
  inside, and it learned bright frames there: README, fast photorealistic
  section). `strength` (0..1) blends the predicted transforms with the
  identity. The grid's neighbour differences (`bilateral.smoothness`) are
  sown as `losses/grid_smoothness`.
  """
  low_res: int = 256
  grid_size: int = 16
  grid_depth: int = 8
  width: int = 8
  padding: str = "reflect"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, images, strength=1.0):
    downsamplings = int(round(math.log2(self.low_res / self.grid_size)))
    if self.padding not in PADDINGS:
      raise ValueError(f"padding must be one of {PADDINGS}")
    if self.grid_size < 4 or self.grid_depth < 2 or self.low_res != self.grid_size * 2**downsamplings:
      raise ValueError(f"low_res ({self.low_res}) must be grid_size ({self.grid_size}, at least 4) times a power "
                       f"of 2, and grid_depth ({self.grid_depth}) at least 2")
    photo = images.astype(jnp.float32) / 255.0
    reflect = self.padding == "reflect"

    def conv(features, stride=1):  # 3×3, padded by reflection or with zeros
      layer = nn.Conv(features, (3, 3), (stride, stride), "VALID" if reflect else "SAME", dtype=self.dtype)
      return lambda x: layer(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), "reflect") if reflect else x)

    x = low_resolution(photo, self.low_res).astype(self.dtype)
    for k in range(downsamplings):
      x = nn.relu(conv(self.width * 2**k, 2)(x))
    features = self.width * 2**max(downsamplings - 1, 0)
    local = conv(features)(nn.relu(conv(features)(x)))
    glob = nn.relu(conv(features, 2)(nn.relu(conv(features, 2)(x))))
    glob = glob.reshape(glob.shape[0], -1)
    for units in (256, 128):
      glob = nn.relu(nn.Dense(units, dtype=self.dtype)(glob))
    glob = nn.Dense(features, dtype=self.dtype)(glob)
    fused = nn.relu(local + glob[:, None, None, :])
    identity = jnp.tile(jnp.eye(3, 4).ravel(), self.grid_depth)
    coefficients = nn.Conv(self.grid_depth * 12, (1, 1), kernel_init=nn.initializers.zeros,
                           bias_init=lambda *_: identity, dtype=self.dtype)(fused)
    grid = coefficients.astype(jnp.float32).reshape(*coefficients.shape[:3], self.grid_depth, 3, 4)
    self.sow("losses", "grid_smoothness", bilateral.smoothness(grid))
    grid = blend(grid, bilateral.identity_grid(*grid.shape[:4]), strength)
    out = bilateral.apply(grid, Guide()(photo), photo)
    return jnp.clip(out, 0.0, 1.0) * 255.0


KINDS = {"johnson": TransformNet, "bilateral": BilateralNet}  # config.net.kind -> network


@functools.partial(jax.jit, static_argnames="net")
def stylize(net, params, images, strength=1.0):
  """Stylised (B, H, W, 3) images in 0..255 (float32) from any numeric (B, H, W, 3) in 0..255.

  strength < 1 blends a BilateralNet's transforms with the identity, and a
  TransformNet's output with the content (`blend`); the two agree up to the
  final clipping, as slicing and applying a grid are linear in it.
  """
  images = images.astype(jnp.float32)
  if isinstance(net, BilateralNet):
    return net.apply({"params": params}, images, strength)
  return blend(net.apply({"params": params}, images), images, strength)
