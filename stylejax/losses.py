"""Pure, jittable style-transfer losses on NHWC batches (float32).

Two normalisations, both from the thesis (SPEC §1 and §2), chosen by name:

- "gatys" (Gatys, Ecker, Bethge 2016, "Image style transfer using CNNs", eqs. 1, 4, 5):
  content  1/2 · Σ (F[O] − F[C])²,
  style    1/(4 N² M²) · Σ_ij (G[O] − G[S])²   (N channels, M = H·W positions),
  TV       Σ (O[i+1,j] − O[i,j])² + (O[i,j+1] − O[i,j])².
- "johnson" (Johnson, Alahi, Fei-Fei 2016, "Perceptual losses", §3.3):
  content  1/(N H W) · ‖F[O] − F[C]‖²,
  style    ‖G[O]/(N H W) − G[S]/(N H W)‖²_F,
  TV       the same squared differences, averaged instead of summed.

Every loss returns the mean over the batch axis.
"""

import jax.numpy as jnp

NORMALIZATIONS = ("gatys", "johnson")


def _check(normalization):
  if normalization not in NORMALIZATIONS:
    raise ValueError(f"unknown loss normalization {normalization!r}; choose one of {NORMALIZATIONS}")


def content_loss(features, target, normalization="gatys"):
  """Content loss of one layer; features and target (B, H, W, N).

  gatys: 1/2 Σ (F − P)²   (Gatys et al. 2016, eq. 1)
  johnson: 1/(N H W) ‖F − P‖²   (Johnson et al. 2016, eq. 2)
  """
  _check(normalization)
  squared = jnp.square(features - target).reshape(features.shape[0], -1)
  per_image = 0.5 * squared.sum(-1) if normalization == "gatys" else squared.mean(-1)
  return per_image.mean()


def gram_matrix(features):
  """Position-averaged Gram matrix Ĝ = Fᵀ F / M of (B, H, W, N) features -> (B, N, N).

  F is the (M, N) matrix of vectorised feature maps, M = H·W (Gatys et al. 2016,
  eq. 3, divided by M so that images of different sizes compare directly).
  Accumulated in float32.
  """
  batch, height, width, channels = features.shape
  flat = features.reshape(batch, height * width, channels).astype(jnp.float32)
  return jnp.einsum("bmi,bmj->bij", flat, flat) / (height * width)


def style_layer_loss(gram, target_gram, normalization="gatys"):
  """Style loss of one layer from position-averaged Grams Ĝ = G / M, (B, N, N).

  gatys: 1/(4 N² M²) Σ (G − A)² = 1/(4 N²) Σ (Ĝ − Â)²   (Gatys et al. 2016, eq. 4)
  johnson: ‖G/(N M) − A/(N M)‖²_F = 1/N² Σ (Ĝ − Â)²   (Johnson et al. 2016, eq. 3)
  """
  _check(normalization)
  channels = gram.shape[-1]
  scale = 0.25 if normalization == "gatys" else 1.0
  per_image = scale / channels**2 * jnp.square(gram - target_gram).sum((-2, -1))
  return per_image.mean()


def style_loss(features, target_grams, layer_weights, normalization="gatys"):
  """Σ_l w_l E_l over style layers (Gatys et al. 2016, eq. 5).

  features: {layer: (B, H, W, N)}; target_grams: {layer: (N, N) or (B, N, N)};
  layer_weights: {layer: w_l}.
  """
  return sum(weight * style_layer_loss(gram_matrix(features[layer]), target_grams[layer], normalization)
             for layer, weight in layer_weights.items())


def total_variation(images, normalization="gatys"):
  """Squared total variation of (B, H, W, C) images (SPEC shared pieces).

  TV(O) = Σ_ij (O[i+1,j] − O[i,j])² + (O[i,j+1] − O[i,j])²; "johnson" averages
  each of the two difference images over its elements instead of summing.
  """
  _check(normalization)
  dy = jnp.square(images[:, 1:] - images[:, :-1]).reshape(images.shape[0], -1)
  dx = jnp.square(images[:, :, 1:] - images[:, :, :-1]).reshape(images.shape[0], -1)
  reduce = jnp.sum if normalization == "gatys" else jnp.mean
  return (reduce(dy, -1) + reduce(dx, -1)).mean()
