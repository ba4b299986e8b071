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

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylejax.core.networks import base

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
