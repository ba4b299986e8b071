"""The bilateral-grid network (kind "bilateral"): predicts local affine colour transforms of the photo
(Gharbi et al. 2017; Xia et al. 2020), photorealistic by construction; see `BilateralNet`. Its parts
(`low_resolution`, `conv3x3`, `predict_grid`, `render`, `Guide`) also build the universal network
(stylejax.core.networks.universal), which conditions the grid on a style photo.
"""

import dataclasses
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylejax.core import bilateral as grids
from stylejax.core import temporal
from stylejax.core.networks import base
from stylejax.core.networks.johnson import PADDINGS


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
    mix = self.param("mix", lambda _: jnp.full((3,), 1.0 / 3.0, jnp.float32))  # strongly typed, as updates are
    offset = self.param("offset", nn.initializers.zeros, ())
    # Written as sums of elementwise terms (no matrix products), so XLA fuses the whole guide into one
    # loop over the pixels and a 4K photo needs no per-knot buffers.
    y = [sum(images[..., j] * colour[j, c] for j in range(3)) + colour_bias[c] for c in range(3)]
    curves = [sum(slopes[c, k] * jnp.maximum(y[c] - k / self.knots, 0.0) for k in range(self.knots))
              for c in range(3)]
    return jnp.clip(sum(mix[c] * curves[c] for c in range(3)) + offset, 0.0, 1.0)


def conv3x3(features, stride=1, padding="reflect", dtype=jnp.float32):
  """A 3×3 convolution, padded by reflection (`padding="reflect"`) or with zeros, as a function of
  (B, H, W, C). Called in a compact module's body: its layer is created (and named) there, at the call."""
  reflect = padding == "reflect"
  layer = nn.Conv(features, (3, 3), (stride, stride), "VALID" if reflect else "SAME", dtype=dtype)
  return lambda x: layer(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), "reflect") if reflect else x)


def predict_grid(x, features, grid_depth, padding="reflect", dtype=jnp.float32, statistics=None):
  """Gharbi et al. 2017's (§3.1) paths from low-resolution features x (B, gh, gw, C) to a grid of affine colour
  transforms (B, gh, gw, grid_depth, 3, 4) in float32, in a compact module's body:

    local path: two 3×3 convs (`features`) at gh × gw
    global path: two stride-2 3×3 convs, flattened [beside `statistics` (B, S)], dense 256, 128, `features`
    → ReLU(local + global) → 1×1 conv to grid_depth·12 coefficients per cell.

  The last layer starts at zero weights and identity-transform biases: every cell is [I₃ | 0]."""
  conv = functools.partial(conv3x3, padding=padding, dtype=dtype)
  local = conv(features)(nn.relu(conv(features)(x)))
  glob = nn.relu(conv(features, 2)(nn.relu(conv(features, 2)(x))))
  glob = glob.reshape(glob.shape[0], -1)
  if statistics is not None:
    glob = jnp.concatenate([glob, statistics.astype(glob.dtype)], axis=-1)
  for units in (256, 128):
    glob = nn.relu(nn.Dense(units, dtype=dtype)(glob))
  glob = nn.Dense(features, dtype=dtype)(glob)
  fused = nn.relu(local + glob[:, None, None, :])
  identity = jnp.tile(jnp.eye(3, 4).ravel(), grid_depth)
  coefficients = nn.Conv(grid_depth * 12, (1, 1), kernel_init=nn.initializers.zeros,
                         bias_init=lambda *_: identity, dtype=dtype)(fused)
  return coefficients.astype(jnp.float32).reshape(*coefficients.shape[:3], grid_depth, 3, 4)


def render(module, grid, photo, strength=1.0):
  """The photo (B, H, W, 3) in [0, 1] through `grid` at full resolution, in `module`'s compact body: the grid's
  smoothness (`grids.smoothness`) sown as `losses/grid_smoothness`, the grid blended with the identity by
  `strength`, sliced at a learned `Guide` of the photo and applied to each pixel's own colour
  (`grids.apply`), clipped; returns 0..255."""
  module.sow("losses", "grid_smoothness", grids.smoothness(grid))
  grid = base.blend(grid, grids.identity_grid(*grid.shape[:4]), strength)
  guide = Guide()(photo)
  module.sow("intermediates", "guide", guide)
  return sliced(guide, photo, grid)


def sliced(guide, photo, grid):
  """The photo (B, H, W, 3) in [0, 1] through `grid` sliced at `guide` (B, H, W), clipped: 0..255."""
  return jnp.clip(grids.apply(grid, guide, photo), 0.0, 1.0) * 255.0


class GridNet(nn.Module):
  """The settings of a network that predicts a bilateral grid from a low_res² view (`BilateralNet`, the
  universal network), and the sizes they imply."""
  low_res: int = 256
  grid_size: int = 16
  grid_depth: int = 8
  width: int = 8
  padding: str = "reflect"
  dtype: jnp.dtype = jnp.float32

  @property
  def downsamplings(self):
    """Stride-2 convolutions from low_res² to grid_size²."""
    return int(round(math.log2(self.low_res / self.grid_size)))

  @property
  def grid_features(self):
    """Channels of the last downsampling (width, doubling with each): the grid paths' width."""
    return self.width * 2**max(self.downsamplings - 1, 0)


class BilateralNet(GridNet):
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
  inside, and it learned bright frames there: experiments/fast_photo_vs_luan.md).
  `strength` (0..1) blends the predicted transforms with the
  identity. The grid's neighbour differences (`grids.smoothness`) are
  sown as `losses/grid_smoothness`. Applied to a video (stylejax.core.temporal), the grid
  is smoothed in time, restarting at scene cuts. Its parts after the downsampling
  (`predict_grid`, `render`) are those of the universal network too
  (stylejax.core.networks.universal).
  """

  @nn.compact
  def __call__(self, images, strength=1.0):
    photo = images.astype(jnp.float32) / 255.0
    view = low_resolution(photo, self.low_res)
    starts = temporal.shot_starts(self, view)
    x = view.astype(self.dtype)
    for k in range(self.downsamplings):
      x = nn.relu(conv3x3(self.width * 2**k, 2, self.padding, self.dtype)(x))
    grid = predict_grid(x, self.grid_features, self.grid_depth, self.padding, self.dtype)
    return render(self, temporal.steady(self, "grid", grid, starts), photo, strength)


@dataclasses.dataclass(frozen=True)
class Bilateral(base.Network):
  """`BilateralNet`'s settings; its grid's smoothness is a regulariser of the training loss."""
  kind = "bilateral"
  photorealistic = True
  regularizers = ("grid_smoothness",)
  smooths_in_time = True
  module_class = BilateralNet  # the flax module these settings build (a subclass's own: the universal network)

  low_res: int = 256  # the network's view of every photo, low_res² (aspect ratio not kept)
  grid_size: int = 16  # grid cells per side
  grid_depth: int = 8  # grid cells over the guide's range
  width: int = 8  # channels of the first convolution, doubling with each stride
  padding: str = "reflect"  # reflect | zeros (zeros: the network learns bright frames at the borders)

  def __post_init__(self):
    super().__post_init__()
    if self.padding not in PADDINGS:
      raise ValueError(f"unknown padding {self.padding!r}; choose one of {', '.join(PADDINGS)}")
    power = self.low_res / self.grid_size if self.grid_size else 0
    if not (4 <= self.grid_size <= 256 and 2 <= self.grid_depth <= 256 and self.low_res <= 4096) or power < 1 \
        or power != 2 ** round(math.log2(power)):
      raise ValueError(f"low_res ({self.low_res}, at most 4096) must be grid_size ({self.grid_size}, 4..256) times "
                       f"a power of 2, and grid_depth ({self.grid_depth}) in 2..256")
    if not 1 <= self.width <= 1024:
      raise ValueError(f"width must be in 1..1024, got {self.width}")

  def module(self):
    return self.module_class(self.low_res, self.grid_size, self.grid_depth, self.width, self.padding,
                             self.compute_dtype)

  def stylize_frames(self, params, frames, state, style=None, strength=1.0):
    """`apply` to the next frames of a clip, with the predicted transforms smoothed in time (state: the
    stylejax.core.temporal.VIDEO collection)."""
    out, variables = self.module().apply({"params": params, temporal.VIDEO: state}, *self.inputs(frames, style),
                                         strength, mutable=[temporal.VIDEO])
    return out, variables[temporal.VIDEO]

  def apply(self, params, content, style=None, strength=1.0):
    """Strength blends the predicted transforms with the identity (the grid, not the output: the two
    agree up to the final clipping, as slicing and applying a grid are linear in it)."""
    return self.module().apply({"params": params}, *self.inputs(content, style), strength)
