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

from stylejax.core import temporal
from stylejax.core.networks import base, bilateral

EPSILON = 1e-5  # added to the variances of the feature statistics
COLOUR_EPSILON = 1e-3  # added to the colour covariances' diagonals (0..1 scale): a grey photo's chroma gains ≤ ~3×


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


def _sqrtm(matrices):
  """The symmetric square root of symmetric positive semi-definite (B, 3, 3) matrices (by eigh)."""
  values, vectors = jnp.linalg.eigh(matrices)
  return jnp.einsum("bij,bj,bkj->bik", vectors, jnp.sqrt(jnp.maximum(values, 0.0)), vectors)


def colour_transfer(content_views, style_views):
  """The linear Monge-Kantorovitch colour mapping (Pitié & Kokaram 2007) of low-resolution views (B, h, w, 3) in
  [0, 1]: per example the affine map x ↦ T(x − μ_c) + μ_s that moves the content's colour mean μ_c and covariance
  Σ_c to the style's (T Σ_c Tᵀ = Σ_s) with the least total displacement,

    T = Σ_c^(−1/2) (Σ_c^(1/2) Σ_s Σ_c^(1/2))^(1/2) Σ_c^(−1/2),   Σ + COLOUR_EPSILON·I for both,

  as (B, 3, 4) [T | μ_s − T μ_c]. A function of the inputs only (no gradient flows through it)."""
  content_mean, content_cov = colour_moments(jax.lax.stop_gradient(content_views))
  style_mean, style_cov = colour_moments(jax.lax.stop_gradient(style_views))
  content_cov, style_cov = (cov + COLOUR_EPSILON * jnp.eye(3) for cov in (content_cov, style_cov))
  root = _sqrtm(content_cov)
  inverse_root = jnp.linalg.inv(root)
  transform = inverse_root @ _sqrtm(root @ style_cov @ root) @ inverse_root
  offset = style_mean - jnp.einsum("bij,bj->bi", transform, content_mean)
  return jnp.concatenate([transform, offset[..., None]], axis=-1)


def apply_affine(affine, images):
  """(B, 3, 4) affine colour maps applied to images (B, H, W, 3) (no clipping)."""
  return jnp.einsum("bij,bhwj->bhwi", affine[..., :3], images) + affine[:, None, None, :, 3]


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
  def __call__(self, images, style, strength=1.0):
    batch = images.shape[0]
    photo = images.astype(jnp.float32) / 255.0
    content_view = bilateral.low_resolution(photo, self.low_res)
    style_view = bilateral.low_resolution(style.astype(jnp.float32) / 255.0, self.low_res)
    starts = temporal.shot_starts(self, content_view)
    transfer = temporal.steady(self, "transfer", colour_transfer(content_view, style_view), starts)
    transfer = base.blend(transfer, jnp.eye(3, 4), strength)  # 0: the identity
    photo = apply_affine(transfer, photo)  # the global colour transfer, which the grid refines
    # A per-pixel affine map commutes with the (linear) low-resolution view: no second pass over the photo.
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
    return bilateral.render(self, temporal.steady(self, "grid", grid, starts), photo, strength)


@dataclasses.dataclass(frozen=True)
class Universal(bilateral.Bilateral):
  """`UniversalNet`'s settings: the bilateral network's (the same fields, checked by `Bilateral`), plus a style
  input; strength blends its grid with the identity as there (`Bilateral.apply`)."""
  kind = "universal"
  takes_style = True
  photorealistic = True
  regularizers = ("grid_smoothness",)
  module_class = UniversalNet  # built by `Bilateral.module` from the same settings
