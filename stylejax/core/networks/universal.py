"""The universal photorealistic network (kind "universal"): one network for any style photo, given beside the
content at inference; a bilateral grid of local affine colour transforms conditioned on the style, so the
output is photorealistic by construction and any size takes one pass. See `UniversalNet`.

Sources: Gharbi et al. 2017, "Deep bilateral learning for real-time image
enhancement" (the grid, its local and global paths, the guide and the
slicing); Xia et al. 2020, "Joint Bilateral Learning for Real-time Universal
Photorealistic Style Transfer" (a grid network conditioned on the style by
"style-based splatting": AdaIN of the content's features to the style's at
several levels of an encoder); Huang & Belongie 2017, "Arbitrary style
transfer in real-time with adaptive instance normalization" (AdaIN, eq. 8); Pitié & Kokaram 2007, "The
linear Monge-Kantorovitch linear colour mapping for example-based colour transfer" (the closed-form global
colour transfer the grid refines).
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylejax.core import bilateral as grids, temporal
from stylejax.core.networks import base, bilateral

EPSILON = 1e-5  # added to the variances of the feature statistics
COLOUR_EPSILON = 1e-3  # added to the colour covariances' diagonals (0..1 scale): a grey photo's chroma gains ≤ ~3×
REGION_PRIOR = 0.01  # a region's share of the pixels at which its colour statistics are half its own, half global
EMPTY_CELL_MASS = 1e-2  # pixels' worth of the global colour transfer in each cell of the region transfer's grid


def moments(features):
  """Per-image, per-channel mean and standard deviation √(var + ε) over the spatial axes of (B, H, W, C),
  in float32: two (B, 1, 1, C) arrays."""
  features = features.astype(jnp.float32)
  mean = jnp.mean(features, axis=(1, 2), keepdims=True)
  return mean, jnp.sqrt(jnp.var(features, axis=(1, 2), keepdims=True) + EPSILON)


def adain(content, style):
  """AdaIN(x, y) = σ(y) · (x − μ(x)) / σ(x) + μ(y), per image and channel over the spatial axes (Huang &
  Belongie 2017, eq. 8): the content's features (B, H, W, C) with the style's (B, h, w, C) first and second
  moments; in the content's dtype."""
  content_mean, content_std = moments(content)
  style_mean, style_std = moments(style)
  return (style_std * (content.astype(jnp.float32) - content_mean) / content_std + style_mean).astype(content.dtype)


def splat(features, batch):
  """Style-based splatting (after Xia et al. 2020, §3.2) on one encoder level's features (2B, H, W, C): the
  content's B images first, then their styles'. The content stream becomes [F_c, AdaIN(F_c, F_s)]: its own
  features beside the same features moved to the style's statistics, so the next layer knows both the source
  and the target. The style stream becomes [F_s, F_s] (AdaIN(F_s, F_s) = F_s), so one shared layer takes both
  streams in one call. Returns (2B, H, W, 2C)."""
  content, style = features[:batch], features[batch:]
  return jnp.concatenate([jnp.concatenate([content, adain(content, style)], axis=-1),
                          jnp.concatenate([style, style], axis=-1)])


def colour_moments(views):
  """Each view's RGB mean μ (B, 3) and colour covariance Σ = E[(I − μ)(I − μ)ᵀ] (B, 3, 3) of images
  (B, h, w, 3), in float32."""
  flat = views.reshape(views.shape[0], -1, 3).astype(jnp.float32)
  mean = flat.mean(1)
  centred = flat - mean[:, None]
  return mean, jnp.einsum("bpi,bpj->bij", centred, centred) / flat.shape[1]


def colour_statistics(views):
  """(B, 9) of low-resolution views (B, h, w, 3) in [0, 1]: each view's RGB mean and the six entries of its
  colour covariance (`colour_moments`) on and above the diagonal."""
  mean, covariance = colour_moments(views)
  rows, columns = jnp.triu_indices(3)
  return jnp.concatenate([mean, covariance[:, rows, columns]], axis=-1)


def region_moments(views, weights):
  """`colour_moments` of each region: the RGB means (B, K, 3) and colour covariances (B, K, 3, 3) of views
  (B, h, w, 3) weighted by soft region masks (B, h, w, K), each region's statistics shrunk towards the whole
  view's by its share m of the pixels, as m / (m + REGION_PRIOR): a region of 1 % of the photo gets half its own
  statistics and half the photo's (a few pixels give no reliable covariance). In float32."""
  flat = views.reshape(views.shape[0], -1, 3).astype(jnp.float32)
  weights = weights.reshape(weights.shape[0], -1, weights.shape[-1]).astype(jnp.float32)
  mass = weights.sum(1)  # (B, K)
  normalised = weights / jnp.maximum(mass, 1e-8)[:, None]
  share = mass / flat.shape[1]
  mean = jnp.einsum("bpk,bpi->bki", normalised, flat)
  second = jnp.einsum("bpk,bpi,bpj->bkij", normalised, flat, flat)
  global_mean, global_cov = colour_moments(views)
  global_second = global_cov + global_mean[:, :, None] * global_mean[:, None, :]
  share = (share / (share + REGION_PRIOR))[..., None]
  mean = share * mean + (1 - share) * global_mean[:, None]
  second = share[..., None] * second + (1 - share[..., None]) * global_second[:, None]
  return mean, second - mean[..., :, None] * mean[..., None, :]


def _sqrtm(matrices):
  """The symmetric square root of symmetric positive semi-definite (..., 3, 3) matrices (by eigh)."""
  values, vectors = jnp.linalg.eigh(matrices)
  return jnp.einsum("...ij,...j,...kj->...ik", vectors, jnp.sqrt(jnp.maximum(values, 0.0)), vectors)


def monge_kantorovitch(content_mean, content_cov, style_mean, style_cov):
  """The linear Monge-Kantorovitch colour mapping (Pitié & Kokaram 2007) between colour distributions of means
  (..., 3) and covariances (..., 3, 3): the affine map x ↦ T(x − μ_c) + μ_s that moves the content's colour mean
  μ_c and covariance Σ_c to the style's (T Σ_c Tᵀ = Σ_s) with the least total displacement,

    T = Σ_c^(−1/2) (Σ_c^(1/2) Σ_s Σ_c^(1/2))^(1/2) Σ_c^(−1/2),   Σ + COLOUR_EPSILON·I for both,

  as (..., 3, 4) [T | μ_s − T μ_c]."""
  content_cov, style_cov = (cov + COLOUR_EPSILON * jnp.eye(3) for cov in (content_cov, style_cov))
  root = _sqrtm(content_cov)
  inverse_root = jnp.linalg.inv(root)
  transform = inverse_root @ _sqrtm(root @ style_cov @ root) @ inverse_root
  offset = style_mean - jnp.einsum("...ij,...j->...i", transform, content_mean)
  return jnp.concatenate([transform, offset[..., None]], axis=-1)


def colour_transfer(content_views, style_views):
  """`monge_kantorovitch` between low-resolution views (B, h, w, 3) in [0, 1]: per example the affine map of the
  content's colour mean and covariance to the style's, (B, 3, 4). A function of the inputs only (no gradient
  flows through it)."""
  return monge_kantorovitch(*colour_moments(jax.lax.stop_gradient(content_views)),
                            *colour_moments(jax.lax.stop_gradient(style_views)))


def luminance(images):
  """(B, H, W) Rec. 601 luma of images (B, H, W, 3) in [0, 1], clipped to [0, 1]: the guide of the region
  transfer's grid."""
  return jnp.clip(images @ jnp.array([0.299, 0.587, 0.114], jnp.float32), 0.0, 1.0)


def region_transfer(content_views, style_views, content_masks, style_masks, cells, depth):
  """The colour transfer per semantic region, as a bilateral grid (B, cells, cells, depth, 3, 4) to slice at the
  photo's `luminance`: one `monge_kantorovitch` map per region from the views' `region_moments` (content region
  k to style region k), and in each cell of the grid the maps of the regions whose pixels fall in it, weighted by
  their share of the cell (the masks splatted into the grid: the transpose of its trilinear slicing at the view's
  luminance), spread over neighbouring cells (`_spread_over_cells`). A bright sky and a dark ridge below it fall in
  different cells of the luminance axis, so the border between two regions follows the photo's own edge rather
  than the masks' rough outline. A cell no pixel reaches holds the global `colour_transfer`. Views (B, h, w, 3) in
  [0, 1], masks (B, h, w, K) soft, at the views' size; region k of one matches region k of the other. Without
  gradient, as `colour_transfer`."""
  content_views, style_views, content_masks, style_masks = (jax.lax.stop_gradient(x.astype(jnp.float32)) for x in (
      content_views, style_views, content_masks, style_masks))
  maps = monge_kantorovitch(*region_moments(content_views, content_masks), *region_moments(style_views, style_masks))
  guide = luminance(content_views)
  cells_of = jnp.zeros((content_masks.shape[0], cells, cells, depth, content_masks.shape[-1]), jnp.float32)
  mass, = jax.linear_transpose(lambda grid: grids.slice_coefficients(grid, guide), cells_of)(content_masks)
  mass = _spread_over_cells(mass)
  weighted = jnp.einsum("byxzk,bkij->byxzij", mass, maps)
  empty = EMPTY_CELL_MASS * colour_transfer(content_views, style_views)[:, None, None, None]
  return (weighted + empty) / (mass.sum(-1) + EMPTY_CELL_MASS)[..., None, None]


def _spread_over_cells(mass):
  """Region masses (B, gh, gw, gd, K) of a grid's cells smoothed over its two spatial axes, [1, 4, 6, 4, 1] / 16
  along each (edges repeated): a region's share changes over a few cells, not from one cell to the next (which
  showed as blotches where two regions share their colours, e.g. a hazy sky and grey buildings)."""
  kernel = jnp.array([1.0, 4.0, 6.0, 4.0, 1.0], jnp.float32) / 16
  for axis in (1, 2):
    padded = jnp.concatenate([jnp.repeat(jax.lax.slice_in_dim(mass, 0, 1, axis=axis), 2, axis), mass,
                              jnp.repeat(jax.lax.slice_in_dim(mass, -1, None, axis=axis), 2, axis)], axis)
    mass = sum(weight * jax.lax.slice_in_dim(padded, k, k + mass.shape[axis], axis=axis)
               for k, weight in enumerate(kernel))
  return mass


def apply_affine(affine, images):
  """Affine colour maps applied to images (B, H, W, 3) in [0, 1] (no clipping): one per image (B, 3, 4), or a
  bilateral grid of them (B, gh, gw, gd, 3, 4) sliced at the images' `luminance` (`region_transfer`)."""
  if affine.ndim == 3:
    return jnp.einsum("bij,bhwj->bhwi", affine[..., :3], images) + affine[:, None, None, :, 3]
  return grids.apply(affine, luminance(images), images)


def feature_statistics(features):
  """(B, 2C): the per-channel mean and standard deviation of features (B, H, W, C) (`moments`)."""
  mean, std = moments(features)
  return jnp.concatenate([mean[:, 0, 0], std[:, 0, 0]], axis=-1)


class UniversalNet(bilateral.GridNet):
  """(content photos (B, H, W, 3), style photos (B, h, w, 3)), 0..255, any sizes -> the contents' local affine
  recolourings towards their styles, 0..255, at the contents' sizes, in one pass:

    content and style, each at low_res² in [0, 1] (`bilateral.low_resolution`)
    → `colour_transfer`: the closed-form global affine map of the content's colour mean and covariance to the
      style's (Pitié & Kokaram 2007), applied to the full-resolution content (and, as it commutes with the
      low-resolution view, to its view): a photorealistic global transfer that the grid then refines locally
    → the two views as one batch of 2B → splat → log2(low_res / grid_size) levels of [stride-2 3×3 conv
      (`width`, doubling), ReLU, splat], the convolutions shared by both streams (`splat`: the content stream
      gets its AdaIN'd features beside its own at every level, the pixels included)
    → the content stream at grid_size² → `bilateral.predict_grid`: local path, global path whose dense
      layers also see the statistics (content and style: per-channel mean and std of the deepest
      features, RGB mean and colour covariance of the low-resolution views), fusion, coefficients
    → `bilateral.render`: the grid sliced at a learned full-resolution guide and applied to each pixel's
      colour after the global transfer; its smoothness sown as `losses/grid_smoothness`; `strength` blends
      both the global transfer and the grid with the identity (0: the content).
    Applied to a video (stylejax.core.temporal), the global transfer and the grid are smoothed in time,
    restarting at scene cuts.

  Xia et al. splat VGG features of both photos; this encoder is learned and small, so the style's encoding
  costs a low_res² pass of a few convolutions (no VGG at inference). The coefficient head starts at zero
  weights and identity biases: the untrained network returns the global colour transfer of the content to
  the style. Without that prior the network learned the style's influence too slowly on a CPU budget: after
  2000 steps of `:cpu,photos` its output's mean colour hardly depended on the style (docs/fast_photo.md).
  The 3×3 convolutions pad by reflection (`padding`; see `bilateral.BilateralNet`).
  """

  @nn.compact
  def __call__(self, images, style, strength=1.0, masks=None, grid=None):
    batch = images.shape[0]
    photo = images.astype(jnp.float32) / 255.0
    content_view = bilateral.low_resolution(photo, self.low_res)
    style_view = bilateral.low_resolution(style.astype(jnp.float32) / 255.0, self.low_res)
    starts = temporal.shot_starts(self, content_view)
    if masks is None:
      transfer = colour_transfer(content_view, style_view)
    else:
      transfer = region_transfer(content_view, style_view,
                                 *(bilateral.low_resolution(m, self.low_res) for m in masks), self.grid_size,
                                 self.grid_depth)
    transfer = temporal.steady(self, "transfer", transfer, starts)
    transfer = base.blend(transfer, jnp.eye(3, 4), strength)  # 0: the identity
    photo = apply_affine(transfer, photo)  # the colour transfer, which the grid refines
    self.sow("intermediates", "photo", photo)
    if grid is not None:  # a given grid (stylejax.methods.refine) in place of the predicted one
      return bilateral.render(self, grid, photo, strength)
    # An affine map per image commutes with the (linear) low-resolution view: no second pass over the photo (a
    # region transfer's grid, sliced at the view's own luminance, nearly so).
    views = jnp.concatenate([apply_affine(transfer, content_view), style_view])
    deepest = views.astype(self.dtype)
    x = splat(deepest, batch)
    for k in range(self.downsamplings):
      deepest = nn.relu(bilateral.conv3x3(self.width * 2**k, 2, self.padding, self.dtype)(x))
      x = splat(deepest, batch)
    statistics = jnp.concatenate([feature_statistics(deepest[:batch]), feature_statistics(deepest[batch:]),
                                  colour_statistics(views[:batch]), colour_statistics(views[batch:])], axis=-1)
    grid = bilateral.predict_grid(x[:batch], self.grid_features, self.grid_depth, self.padding, self.dtype,
                                  statistics)
    self.sow("intermediates", "grid", grid)
    return bilateral.render(self, temporal.steady(self, "grid", grid, starts), photo, strength)


@dataclasses.dataclass(frozen=True)
class Universal(bilateral.Bilateral):
  """`UniversalNet`'s settings: the bilateral network's (the same fields, checked by `Bilateral`), plus a style
  input; strength blends its grid with the identity as there (`Bilateral.apply`)."""
  kind = "universal"
  takes_style = True
  photorealistic = True
  takes_masks = True
  refines = True
  regularizers = ("grid_smoothness",)
  module_class = UniversalNet  # built by `Bilateral.module` from the same settings

  def apply(self, params, content, style=None, strength=1.0, masks=None, grid=None):
    """`Bilateral.apply`; masks: None, or (the contents' (B, H, W, K), the styles' (B, h, w, K)) soft region masks
    at any sizes, region k of one matching region k of the other: the colour transfer is then made per region
    (`region_transfer`); grid: None, or a grid (`predict_grid`'s shape) rendered instead of the predicted one."""
    return self.module().apply({"params": params}, *self.inputs(content, style), strength, masks, grid)

  sliced = staticmethod(bilateral.sliced)  # (guide, photo, grid) -> the output at full strength

  def predict_grid(self, params, content, style, masks=None):
    """(grid, guide, photo): the grid (B, grid_size, grid_size, grid_depth, 3, 4) the network predicts for the
    contents and styles (before `strength`), which `apply(..., grid=)` renders, and the guide (B, H, W) and the
    colour-transferred photo (B, H, W, 3) in [0, 1] it is sliced at and applied to: `sliced(guide, photo, grid)`
    is `apply` at full strength, for any grid."""
    _, sown = self.module().apply({"params": params}, content, style, 1.0, masks, mutable=["intermediates"])
    return tuple(sown["intermediates"][name][0] for name in ("grid", "guide", "photo"))
