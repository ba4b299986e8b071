"""The Johnson network (kind "johnson"): paints every pixel; the artistic model and the thesis's §4
photorealistic one (Johnson, Alahi, Fei-Fei 2016; Ulyanov et al. 2016).

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
zeros (transposed convolutions keep zero padding). Instance normalisation makes
a tile's colours depend on the whole image, so large images go through exact
tiled inference (`tiles`, stylejax.core.tiling).
"""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from stylejax.core.networks import base

UPSAMPLINGS = ("transpose", "resize")
PADDINGS = ("zeros", "reflect")


def spatial_mean(x):
  """The mean of x (B, H, W, C) over (H, W), kept as (B, 1, 1, C): the mean over W, then over H (the same
  number, to float32 rounding). XLA:CPU rewrites one reduction over both axes into reduce-windows that do not
  fuse their input; one axis at a time it fuses: instance norm and ReLU at 128×128×128 take 1.3 ms instead
  of 4.2 (docs/benchmarks.md, "Stylisation: instance norm and the last convolution")."""
  return x.mean(2, keepdims=True).mean(1, keepdims=True)


def moments(x):
  """Per image and channel mean and variance of x (B, H, W, C) over (H, W) (`spatial_mean`), in float32, in two
  passes:

      μ = mean(x),   σ² = mean((x − μ)²).

  The one-pass form σ² = mean(x²) − μ² cancels where |μ| ≫ σ (float32: 26% off at |μ| = 2000 σ, 5e-8 here).
  """
  x = x.astype(jnp.float32)
  mean = spatial_mean(x)
  return mean, spatial_mean(jnp.square(x - mean))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def instance_norm(x, scale, bias, epsilon):
  """y = γ · x̂ + β, x̂ = (x − μ) / √(σ² + ε), μ and σ² of each image and channel over (H, W) (`moments`);
  x (B, H, W, C), γ and β (C,); y in float32. Its gradient is written out (`_instance_norm_bwd`): two sums
  over (g, x) and one pass for dx, where autodiff of the formula above differentiates through μ and σ² and
  writes out several intermediate images."""
  return _instance_norm_fwd(x, scale, bias, epsilon)[0]


def _instance_norm_fwd(x, scale, bias, epsilon):
  mean, var = moments(x)
  inv = jax.lax.rsqrt(var + epsilon)
  gain = inv * scale  # y = x · gain + (β − μ · gain): one multiply-add a pixel
  return x.astype(jnp.float32) * gain + (bias - mean * gain), (x, mean, inv, scale)


def _instance_norm_bwd(epsilon, residuals, g):
  """The gradient of instance normalisation (Ioffe & Szegedy 2015's batch-norm gradient, per image and channel),
  n = H·W, means over (H, W):

      dx = γ / √(σ² + ε) · (g − mean(g) − x̂ · mean(g · x̂)),   dγ = Σ_{B,H,W} g · x̂,   dβ = Σ_{B,H,W} g.
  """
  x, mean, inv, scale = residuals
  del epsilon  # in `inv`
  g = g.astype(jnp.float32)
  x_hat = (x.astype(jnp.float32) - mean) * inv
  mean_g, mean_gx = spatial_mean(g), spatial_mean(g * x_hat)
  dx = (scale * inv) * (g - mean_g - x_hat * mean_gx)
  pixels = x.shape[1] * x.shape[2]
  return dx.astype(x.dtype), pixels * mean_gx.sum((0, 1, 2)), pixels * mean_g.sum((0, 1, 2))


instance_norm.defvjp(_instance_norm_fwd, _instance_norm_bwd)


class InstanceNorm(nn.Module):
  """Instance normalisation (Ulyanov, Vedaldi, Lempitsky 2016), per image and channel:

      y = γ · (x − μ) / √(σ² + ε) + β,   μ, σ² the mean and variance of x over (H, W)

  (`instance_norm`, with its written-out gradient). For exact tiled inference (stylejax.tiling) μ and σ²
  can come from outside: where the `norm_stats` collection holds {"mean", "var", "use"} for this layer
  and `use` is 1, those (whole-image) statistics replace the tile's own; the layer's input is sown as
  `intermediates` `norm_input` when that collection is mutable.
  """
  epsilon: float = 1e-6
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (channels,))
    bias = self.param("bias", nn.initializers.zeros, (channels,))
    self.sow("intermediates", "norm_input", x)
    if not self.has_variable("norm_stats", "mean"):
      return instance_norm(x, scale, bias, self.epsilon).astype(self.dtype)
    mean, var = moments(x)
    use = self.get_variable("norm_stats", "use")
    mean = jnp.where(use, self.get_variable("norm_stats", "mean"), mean)
    var = jnp.where(use, self.get_variable("norm_stats", "var"), var)
    y = (x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias
    return y.astype(self.dtype)


def space_to_depth(x, factor=2):
  """(B, fH, fW, C) → (B, H, W, f²C): each f×f block of pixels as one pixel, channels ordered (row, column, c)."""
  batch, height, width, channels = x.shape
  x = x.reshape(batch, height // factor, factor, width // factor, factor, channels).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(batch, height // factor, width // factor, factor * factor * channels)


def depth_to_space(x, factor=2):
  """(B, H, W, f²C) → (B, fH, fW, C), the inverse of `space_to_depth`."""
  batch, height, width, channels = x.shape
  x = x.reshape(batch, height, width, factor, factor, channels // factor**2).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(batch, factor * height, factor * width, channels // factor**2)


def block_taps(size, factor):
  """Taps a side of a k×k kernel between f×f blocks: T = ⌈(k + f − 1) / f⌉."""
  return -(-(size + factor - 1) // factor)


def block_kernel(kernel, factor=2):
  """The k×k kernel K (k, k, C, O) of a stride-1 convolution as the kernel (T, T, f²C, f²O) (`block_taps`) of the
  same convolution between f×f blocks (`space_to_depth` of its input and of its output): output phase (r, s)
  of block (p, q) reads input phase (a, b) of block (p + t, q + u) through

      K'[t, u, (a, b, c), (r, s, o)] = K[ft + a − r, fu + b − s, c, o]   (0 outside K),

  since y[fp + r] = Σ_i x[fp + r + i]·K[i] and r + i = ft + a. Built by one gather of K padded by zeros, which
  the convolution's jit computes per call (a few thousand numbers)."""
  size = kernel.shape[0]
  taps = block_taps(size, factor)
  phases = np.arange(factor)
  index = factor * np.arange(taps)[:, None, None] + phases[:, None] - phases + factor - 1  # (t, a, r) into padded
  pad = (factor - 1, factor * taps - size)
  blocks = jnp.pad(kernel, (pad, pad, (0, 0), (0, 0)))[index[:, :, :, None, None, None], index]  # (t,a,r,u,b,s,C,O)
  channels, features = kernel.shape[2:]
  return blocks.transpose(0, 3, 1, 4, 6, 2, 5, 7).reshape(taps, taps, factor**2 * channels, factor**2 * features)


def block_conv(x, kernel, factor=2):
  """The stride-1, unpadded ("VALID") convolution of x (B, H, W, C) by kernel (k, k, C, O), computed between f×f
  blocks: x padded with zeros below and right to whole blocks, `space_to_depth`, convolved by `block_kernel`
  (T taps a side, f²C → f²O channels), `depth_to_space`, cropped to (H − k + 1, W − k + 1).

  f = 2, k = 9: 1.23× the multiply-adds of the direct convolution (25·16 against 81 per C·O and block), but 4×
  the channels on each side, which XLA:CPU's convolutions vectorise over: with 3 outputs (or 3 inputs) a 9×9
  kernel is computed several times slower per multiply-add (docs/benchmarks.md, "Profile of the Johnson
  training step"). f = 4 (1.78× the multiply-adds, 48 outputs from 3) computes 3 outputs faster still."""
  size = kernel.shape[0]
  taps = block_taps(size, factor)
  height, width = x.shape[1] - size + 1, x.shape[2] - size + 1
  rows, cols = (factor * (-(-n // factor) + taps - 1) - m for n, m in ((height, x.shape[1]), (width, x.shape[2])))
  blocks = space_to_depth(jnp.pad(x, ((0, 0), (0, rows), (0, cols), (0, 0))), factor)
  y = jax.lax.conv_general_dilated(blocks, block_kernel(kernel, factor), (1, 1), "VALID",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return depth_to_space(y, factor)[:, :height, :width]


class BlockConv(nn.Module):
  """`nn.Conv(features, (kernel, kernel), padding="VALID")`, the same parameters ("kernel" (k, k, C_in, C_out),
  "bias") and map, computed by `block_conv` between `factor`×`factor` blocks."""
  features: int
  kernel: int
  factor: int = 2
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (self.kernel, self.kernel, x.shape[-1],
                                                                   self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    return block_conv(x, kernel, self.factor) + bias


# A stride-1 convolution with a kernel larger than 3×3 and at most this many channels on one side (the network's
# first and last 9×9 convolutions, 3 channels in or out) runs as a `BlockConv`: between 2×2 blocks with few
# inputs, between 4×4 blocks with few outputs (the last convolution at 512² forward 70 → 53 ms, with its
# gradients at 256 px, batch 4, 188 → 167 ms; 4×4 blocks make the first one slower).
BLOCK_CONV_CHANNELS = 4


class ConvNormAct(nn.Module):
  """Conv (zero or reflection padding) → instance norm → optional ReLU. A stride-1 convolution with a large
  kernel and few channels on one side (`BLOCK_CONV_CHANNELS`) is computed between blocks of pixels
  (`BlockConv`, the same parameters)."""
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
    padding = ((pad, pad), (pad, pad))
    if self.padding == "reflect":
      x = jnp.pad(x, ((0, 0), *padding, (0, 0)), mode="reflect")
      padding = ((0, 0), (0, 0))
    if self.stride == 1 and self.kernel > 3 and min(x.shape[-1], self.features) <= BLOCK_CONV_CHANNELS:
      x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
      factor = 4 if self.features <= BLOCK_CONV_CHANNELS else 2
      x = BlockConv(self.features, self.kernel, factor, self.dtype, name="Conv_0")(x)
    else:
      x = nn.Conv(self.features, (self.kernel, self.kernel), (self.stride, self.stride), padding,
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


class ConvTranspose2x(nn.Module):
  """`nn.ConvTranspose(features, (3, 3), (2, 2), "SAME")`, the same parameters ("kernel" (3, 3, C_in, C_out),
  "bias") and the same map, computed as a sub-pixel convolution (Shi et al. 2016), whose gradient XLA:CPU
  computes about 20× faster than that of the input-dilated convolution `lax.conv_transpose` lowers to.

  The transposed convolution of x (H, W) by K is y (2H, 2W), four interleaved phases, x = 0 outside the image:

      y[2i,   2j  ] = x[i−1, j−1]·K[0,0] + x[i−1, j]·K[0,2] + x[i, j−1]·K[2,0] + x[i, j]·K[2,2]
      y[2i,   2j+1] = x[i−1, j]·K[0,1] + x[i, j]·K[2,1]
      y[2i+1, 2j  ] = x[i, j−1]·K[1,0] + x[i, j]·K[1,2]
      y[2i+1, 2j+1] = x[i, j]·K[1,1]                       (+ bias)

  i.e. four stride-1 convolutions of x padded by a row above and a column left, by the taps of K each phase
  reads (2×2, 2×1, 1×2, 1×1), interleaved: 9 taps per input pixel as in the transposed convolution, and
  gradients that are ordinary convolution gradients.
  """
  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    x, k, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    conv = lambda x, taps: jax.lax.conv_general_dilated(x, taps, (1, 1), "VALID",  # noqa: E731
                                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    padded = jnp.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0)))  # padded[i, j] = x[i − 1, j − 1]
    even_rows = jnp.stack([conv(padded, k[0::2, 0::2]), conv(padded[:, :, 1:], k[0::2, 1:2])], 3)
    odd_rows = jnp.stack([conv(padded[:, 1:], k[1:2, 0::2]), conv(x, k[1:2, 1:2])], 3)
    batch, height, width, _ = x.shape
    y = jnp.stack([even_rows, odd_rows], 2)  # (B, H, 2, W, 2, C): y[:, i, a, j, c] = output[:, 2i + a, 2j + c]
    return y.reshape(batch, 2 * height, 2 * width, self.features) + bias


class Upsample(nn.Module):
  """×2 upsampling to exactly `size` (h, w), then instance norm and ReLU."""
  features: int
  mode: str = "transpose"
  padding: str = "zeros"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, size):
    if self.mode == "transpose":
      x = ConvTranspose2x(self.features, self.dtype, name="ConvTranspose_0")(x)[:, :size[0], :size[1]]
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


@dataclasses.dataclass(frozen=True)
class Johnson(base.Network):
  """Johnson et al.'s transformation network: content (B, H, W, 3) in 0..255 -> stylised, same size."""
  kind = "johnson"
  tiles = True

  upsample: str = "transpose"  # transpose (thesis) | resize (nearest + 3×3 conv: no checkerboard)
  padding: str = "zeros"  # zeros | reflect
  residual_blocks: int = 5
  width: int = 32  # channels at full resolution (Johnson's 32); 2x and 4x that at 1/2 and 1/4

  def __post_init__(self):
    super().__post_init__()
    if self.upsample not in UPSAMPLINGS:
      raise ValueError(f"unknown upsample {self.upsample!r}; choose one of {', '.join(UPSAMPLINGS)}")
    if self.padding not in PADDINGS:
      raise ValueError(f"unknown padding {self.padding!r}; choose one of {', '.join(PADDINGS)}")
    if not (0 <= self.residual_blocks <= 64 and 1 <= self.width <= 1024):
      raise ValueError(f"residual_blocks must be in 0..64 and width in 1..1024, got {self.residual_blocks}, "
                       f"{self.width}")

  def module(self):
    return TransformNet(self.upsample, self.padding, self.residual_blocks, self.compute_dtype, self.width)
