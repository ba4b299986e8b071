"""One fixed protocol to score any stylised image, whatever settings made it.

Every output is scored the same way, so runs with different networks, weights,
sizes or methods (ours, Luan's published results, a peer's) compare directly:

- working size: output and content at long side SIZE (the content's size),
  the style at long side SIZE; masks resized nearest (their regions are the
  content's for the output, since the output keeps the content's layout);
- network: the embedded VGG16 (torchvision ImageNet weights), whatever the run used;
- style distance: the mean over STYLE_LAYERS of 1/N² Σ (Ĝ[O] − Ĝ[S])², Ĝ the
  position-averaged Gram (Gatys et al. 2016, eq. 4 in the "mean" normalisation
  of stylejax.core.losses, Johnson et al.'s); with masks, each region's Gram
  against the style's same region, weighted by the region's share of the output
  (Luan et al. 2017, eq. 4);
- content distance: mean (F[O] − F[C])² at CONTENT_LAYER;
- colour distance: the mean over R, G, B of the 1-D Wasserstein-1 distance
  between the output's and the style's pixel values (0..1 units: the average
  shift each channel's values need to match the style's histogram);
- affine energy: Σ_c V_cᵀ L V_c / N under the content's matting Laplacian
  (ε = 1e-7, 3×3 windows; Luan et al. 2017, eq. 3), 0 for any locally affine
  colour transform of the content;
- gradient SSIM: SSIM of the gradient-magnitude images of content and output
  (1 when every edge stays where it was).
"""

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.core import losses, masks as masks_lib, metrics

SIZE = 384
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
MATTING_EPS, MATTING_RADIUS = 1e-7, 1


def feature_distances(vgg, output, content, style, output_masks=None, style_masks=None):
  """(style distance, content distance) of (H, W, 3) 0..255 `output`: its Gram distance to `style` (per region
  when (H, W, K) masks are given) and its mean squared feature difference to `content` (the same size)."""
  return tuple(float(value) for value in _feature_distances(
      vgg, *(jnp.asarray(image, jnp.float32) for image in (output, content, style)), output_masks, style_masks))


@jax.jit
def _feature_distances(vgg, output, content, style, output_masks, style_masks):
  """feature_distances as one program per shape (run op by op, its masked Grams were hundreds of small ones).
  Each image goes through VGG once, alone and to the same layers, so an output equal to its content or to its
  style is exactly 0 apart."""
  out_features, content_features, style_features = (vgg.features(image[None], (*STYLE_LAYERS, CONTENT_LAYER))
                                                    for image in (output, content, style))
  content_distance = losses.content_loss(out_features[CONTENT_LAYER], content_features[CONTENT_LAYER], "mean")
  if output_masks is None:
    return jnp.mean(jnp.stack([losses.style_layer_loss(losses.gram_matrix(out_features[layer]),
                                                       losses.gram_matrix(style_features[layer]), "mean")
                               for layer in STYLE_LAYERS])), content_distance
  shapes = lambda features: {layer: features[layer].shape[1:3] for layer in STYLE_LAYERS}  # noqa: E731
  out_masks = masks_lib.layer_masks(output_masks, shapes(out_features))
  sty_masks = masks_lib.layer_masks(style_masks, shapes(style_features))
  return jnp.mean(jnp.stack([
      losses.masked_style_layer_loss(losses.masked_gram_matrices(out_features[layer], out_masks[layer]),
                                     losses.masked_gram_matrices(style_features[layer], sty_masks[layer]),
                                     out_masks[layer], "mean")
      for layer in STYLE_LAYERS])), content_distance


def color_distance(output, style):
  """Mean over R, G, B of the Wasserstein-1 distance between the two images' value histograms (0..1)."""
  def cdf(image, channel):
    counts = np.bincount(np.clip(np.asarray(image)[..., channel], 0, 255).astype(np.uint8).ravel(), minlength=256)
    return np.cumsum(counts) / counts.sum()
  return float(np.mean([np.abs(cdf(output, c) - cdf(style, c)).sum() / 255.0 for c in range(3)]))


def score(vgg, output, content, style, content_masks=None, style_masks=None):
  """{style, content, color, affine_energy, gradient_ssim} of `output` (see the module docstring).

  output, content: (H, W, 3) 0..255 at the working size, the same size; style:
  (H', W', 3) at the working size; masks: (H, W, K) and (H', W', K) or None.
  """
  # Scored as the 8-bit images people see.
  output, content, style = (np.round(np.clip(np.asarray(image, np.float32), 0, 255)) for image in (output, content, style))
  style_distance, content_distance = feature_distances(vgg, output, content, style, content_masks, style_masks)
  return {
      "style": style_distance,
      "content": content_distance,
      "color": color_distance(output, style),
      "affine_energy": metrics.affine_energy(output, content, MATTING_EPS, MATTING_RADIUS),
      "gradient_ssim": metrics.gradient_ssim(output, content),
  }
