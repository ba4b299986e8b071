"""The loss every method minimises, and the one builder of what it compares against.

For an output O (NHWC pixels 0..255) and a content image C:

    total = α Σ_l content_l + β Σ_l w_l E_l + γ TV(O) + φ affine

- content (Gatys et al. 2016, eq. 1): `losses.content_loss` of the VGG
  features of O and C at `content_layers`;
- style (Gatys et al. 2016, eqs. 3–5): `losses.style_loss` of O's Gram matrices
  against the style's, or, with `masked` (Luan et al. 2017, eq. 4),
  `losses.masked_style_layer_loss` with one Gram matrix per semantic region;
- TV (Mahendran & Vedaldi 2015; Johnson et al. 2016): `losses.total_variation`;
- affine, the matting-Laplacian photorealism term on V = O/255 with L the
  matting Laplacian of C (Levin, Lischinski, Weiss 2008), in one of two forms:
  `energy`, Luan et al.'s Σ_c V_cᵀ L V_c (`losses.matting_energy`), or
  `difference`, the thesis's §4 form 1/N Σ_c ‖L V_c[O] − L V_c[C]‖²
  (`losses.matting_difference`).

The pixel optimisation (stylejax.methods.pixels) and the feed-forward training
step (stylejax.methods.training) both call `Objective.terms` with targets from
`Objective.targets`; the same objective is the score of every comparison tool.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.core import losses, masks as masks_lib, matting
from stylejax.core import vgg as vgg_lib

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
AFFINE_FORMS = ("energy", "difference")


@dataclasses.dataclass(frozen=True)
class Objective:
  """Weighted content + style + TV [+ affine] loss; hashable, so jit specialises on it."""
  content_layers: tuple
  style_layer_weights: tuple  # ((layer, w_l), ...)
  content_weight: float
  style_weight: float
  tv_weight: float
  normalization: str = "gatys"
  dtype: str = "float32"
  masked: bool = False  # per-region Grams (targets carry "masks")
  affine_weight: float = 0.0  # matting-Laplacian photorealism term (targets carry "laplacian")
  affine_form: str = "energy"  # energy (Luan) | difference (thesis §4; targets also carry "content_image")
  laplacian_backend: str = "banded"
  matting_eps: float = 1e-7
  matting_radius: int = 1

  def __post_init__(self):
    if self.normalization not in losses.NORMALIZATIONS:
      raise ValueError(f"unknown loss normalization {self.normalization!r}; choose one of "
                       f"{', '.join(losses.NORMALIZATIONS)}")
    if self.dtype not in DTYPES:
      raise ValueError(f"unknown compute dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
    if self.affine_form not in AFFINE_FORMS:
      raise ValueError(f"unknown affine form {self.affine_form!r}; choose one of {', '.join(AFFINE_FORMS)}")
    if self.laplacian_backend not in matting.BACKENDS:
      raise ValueError(f"unknown laplacian backend {self.laplacian_backend!r}; choose one of "
                       f"{', '.join(matting.BACKENDS)}")

  @property
  def style_layers(self):
    return tuple(layer for layer, _ in self.style_layer_weights)

  @property
  def needed_targets(self):
    """The keys `terms` reads from its targets."""
    keys = ["content", "style"] + ["masks"] * self.masked + ["laplacian"] * bool(self.affine_weight)
    return tuple(keys + ["content_image"] * (bool(self.affine_weight) and self.affine_form == "difference"))

  def without_affine(self):
    return dataclasses.replace(self, affine_weight=0.0)

  def check_layers(self, arch):
    vgg_lib.check_layers(arch, self.content_layers + self.style_layers)

  def features(self, vgg, image, layers):
    """VGG features of 0..255 `image`; for the "luan" normalisation as if the network saw 0..255 inputs
    (features times the input scale mean(std), 1 for Caffe/MatConvNet weights, ≈57.6 for torchvision's),
    so Luan's published weights keep their balance on any network."""
    feats = vgg.features(image, layers, DTYPES[self.dtype])
    if self.normalization == "luan":
      scale = jnp.mean(vgg.std)
      feats = {layer: f * scale for layer, f in feats.items()}
    return feats

  def content_targets(self, vgg, content):
    return self.features(vgg, content, self.content_layers)

  def style_grams(self, vgg, style, masks=None):
    """Gram targets of a style image (1, H, W, 3); per region when `masks` ({layer: (1, h, w, K)}) are given."""
    feats = self.features(vgg, style, self.style_layers)
    if masks is None:
      return {layer: losses.gram_matrix(f) for layer, f in feats.items()}
    return {layer: losses.masked_gram_matrices(f, masks[layer]) for layer, f in feats.items()}

  def layer_shapes(self, vgg, height, width):
    """{style layer: (h, w)} for an image of (height, width), without computing anything."""
    shapes = jax.eval_shape(lambda x: self.features(vgg, x, self.style_layers),
                            jax.ShapeDtypeStruct((1, height, width, 3), jnp.float32))
    return {layer: shape.shape[1:3] for layer, shape in shapes.items()}

  def layer_masks(self, vgg, masks):
    """(H, W, K) region masks of an image of that size -> {style layer: (1, h, w, K)}."""
    return masks_lib.layer_masks(masks, self.layer_shapes(vgg, *masks.shape[:2]))

  def blended_style_grams(self, vgg, styles, blend=None, style_masks=None):
    """Σ_i b_i Ĝ(S_i) / Σ_i b_i over style images (H_i, W_i, 3) 0..255 (Gatys et al. 2016, §style mixing).

    With `style_masks` (one (H, W, K) array per style) the Grams are per region.
    """
    blend = [1.0] * len(styles) if blend is None else blend
    grams_fn = jax.jit(self.style_grams)
    total = {}
    for k, (style, weight) in enumerate(zip(styles, blend)):
      per_layer = None if style_masks is None else self.layer_masks(vgg, style_masks[k])
      for layer, gram in grams_fn(vgg, jnp.asarray(style)[None], per_layer).items():
        total[layer] = total.get(layer, 0.0) + weight / sum(blend) * gram
    return total

  def targets(self, vgg, content, style_grams, content_masks=None):
    """What `terms` compares against, for a content batch (B, H, W, 3) 0..255.

    content features, the style Grams (from `blended_style_grams`, once per
    style), the per-layer region masks of the content ((H, W, K) at the
    content's size) when `masked`, and with the affine term the content's
    Laplacian data: built once with the configured backend for a concrete
    single image (the pixel method), the matrix-free data of each image of a
    traced batch (the training step, any batch size).
    """
    targets = {"content": jax.jit(self.content_targets)(vgg, content), "style": style_grams}
    if self.masked:
      if content_masks is None:
        raise ValueError("a masked objective needs the content's region masks")
      targets["masks"] = self.layer_masks(vgg, content_masks)
    if self.affine_weight:
      scaled = content / 255.0
      if isinstance(content, jax.core.Tracer) or content.shape[0] > 1 or self.laplacian_backend == "matrix_free":
        if self.laplacian_backend != "matrix_free":
          raise ValueError("a batch's Laplacian is built inside the step: use laplacian_backend=matrix_free")
        targets["laplacian"] = scaled
      else:
        targets["laplacian"] = matting.prepare(self.laplacian_backend, np.asarray(scaled[0]), self.matting_eps,
                                               self.matting_radius)
      if self.affine_form == "difference":
        targets["content_image"] = scaled
    return targets

  def terms(self, image, vgg, targets):
    """{'content', 'style', 'tv'[, 'affine']}: the unweighted loss terms of NHWC `image`."""
    missing = [key for key in self.needed_targets if key not in targets]
    if missing:
      raise ValueError(f"the objective needs targets {', '.join(missing)}: build them with Objective.targets")
    feats = self.features(vgg, image, self.content_layers + self.style_layers)
    content = sum(losses.content_loss(feats[layer], targets["content"][layer], self.normalization)
                  for layer in self.content_layers)
    if self.masked:
      masks = targets["masks"]
      style = sum(weight * losses.masked_style_layer_loss(losses.masked_gram_matrices(feats[layer], masks[layer]),
                                                          targets["style"][layer], masks[layer], self.normalization)
                  for layer, weight in self.style_layer_weights)
    else:
      style = losses.style_loss(feats, targets["style"], dict(self.style_layer_weights), self.normalization)
    terms = {"content": content, "style": style, "tv": losses.total_variation(image, self.normalization)}
    if self.affine_weight:
      apply = functools.partial(matting.apply, self.laplacian_backend, targets["laplacian"],
                                eps=self.matting_eps, radius=self.matting_radius)
      if self.affine_form == "energy":
        terms["affine"] = losses.matting_energy(image / 255.0, apply)
      else:
        terms["affine"] = losses.matting_difference(image / 255.0, targets["content_image"], apply)
    return terms

  def total(self, terms):
    return (self.content_weight * terms["content"] + self.style_weight * terms["style"]
            + self.tv_weight * terms["tv"] + self.affine_weight * terms.get("affine", 0.0))
