"""The loss every method minimises: a weighted set of terms (stylejax.core.terms), and its targets.

For an output O (NHWC pixels 0..255) and a content image C:

    total = Σ_t w_t · t(O),

with the terms t of the config (stylejax.settings.objective): content (Gatys
et al. 2016, eq. 1), Gram style (eqs. 3–5) or the masked style of Luan et al.
2017 (eq. 4), TV, the matting-Laplacian photorealism term in Luan's or the
thesis's form, and a network's own regularisers in training. The VGG features
of every term's layers are computed once per evaluation, in the objective's
normalisation ("luan": as if the network saw 0..255 inputs).

The pixel optimisation (stylejax.methods.pixels) and the feed-forward training
step (stylejax.methods.training) both call `Objective.terms` with targets from
`Objective.targets`; the same objective is the score of every comparison tool.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from stylejax.core import losses, masks as masks_lib, terms as terms_lib
from stylejax.core import vgg as vgg_lib

@dataclasses.dataclass(frozen=True)
class Objective:
  """Σ_t w_t · t(O) over `weighted` ((term, weight), ...); hashable, so jit specialises on it."""
  weighted: tuple
  normalization: str  # stylejax.core.losses.NORMALIZATIONS
  dtype: str = "float32"

  def __post_init__(self):
    if self.normalization not in losses.NORMALIZATIONS:
      raise ValueError(f"unknown loss normalization {self.normalization!r}; choose one of "
                       f"{', '.join(losses.NORMALIZATIONS)}")
    if self.dtype not in vgg_lib.DTYPES:
      raise ValueError(f"unknown compute dtype {self.dtype!r}; choose one of {', '.join(vgg_lib.DTYPES)}")
    names = [term.name for term, _ in self.weighted]
    if len(set(names)) != len(names):
      raise ValueError(f"an objective has each term once, got {', '.join(names)}")

  @property
  def names(self):
    return tuple(term.name for term, _ in self.weighted)

  def term(self, name):
    """The term called `name`, or None."""
    return next((term for term, _ in self.weighted if term.name == name), None)

  def weight(self, name):
    return next((weight for term, weight in self.weighted if term.name == name), 0.0)

  def without(self, name):
    """This objective without the term `name` (e.g. Luan's first stage, without "affine")."""
    return dataclasses.replace(self, weighted=tuple((t, w) for t, w in self.weighted if t.name != name))

  @property
  def layers(self):
    """Every VGG layer the terms read, each once, in order."""
    return tuple(dict.fromkeys(layer for term, _ in self.weighted for layer in term.layers()))

  @property
  def style_layers(self):
    style = self.term("style")
    return style.layers() if style is not None else ()

  @property
  def needed_targets(self):
    """The keys `terms` reads from its targets."""
    return tuple(dict.fromkeys(key for term, _ in self.weighted for key in term.needs))

  def check_layers(self, arch):
    vgg_lib.check_layers(arch, self.layers)

  def features(self, vgg, image, layers):
    """VGG features of 0..255 `image`; for the "luan" normalisation as if the network saw 0..255 inputs
    (features times the input scale mean(std), 1 for Caffe/MatConvNet weights, ≈57.6 for torchvision's),
    so Luan's published weights keep their balance on any network."""
    feats = vgg.features(image, layers, vgg_lib.DTYPES[self.dtype])
    if self.normalization == "luan":
      scale = jnp.mean(vgg.std)
      feats = {layer: f * scale for layer, f in feats.items()}
    return feats

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
    """(H, W, K) region masks of an image of that size -> {style layer: (1, h, w, K)}; a batch's (B, H, W, K)
    -> {style layer: (B, h, w, K)}."""
    return masks_lib.layer_masks(masks, self.layer_shapes(vgg, *masks.shape[-3:-1]))

  def blended_style_grams(self, vgg, styles, blend=None, style_masks=None):
    """Σ_i b_i Ĝ(S_i) / Σ_i b_i over style images (H_i, W_i, 3) 0..255 (Gatys et al. 2016, §style mixing).

    With `style_masks` (one (H, W, K) array per style) the Grams are per region.
    """
    blend = [1.0] * len(styles) if blend is None else blend
    total = {}
    for k, (style, weight) in enumerate(zip(styles, blend)):
      per_layer = None if style_masks is None else self.layer_masks(vgg, style_masks[k])
      for layer, gram in _style_grams(self, vgg, jnp.asarray(style)[None], per_layer).items():
        total[layer] = total.get(layer, 0.0) + weight / sum(blend) * gram
    return total

  def targets(self, vgg, content, style_grams, content_masks=None, reference=None):
    """What `terms` compares against, for a content batch (B, H, W, 3) 0..255: each term's own targets
    (stylejax.core.terms), from the content, the style Grams (from `blended_style_grams`, once per style),
    the content's region masks ((H, W, K) at the content's size, or (B, H, W, K) per example, for the masked
    style term) and the training's reference images ((images, present), for the reference term)."""
    context = terms_lib.TargetContext(self, vgg, content, style_grams, content_masks, reference)
    targets = {}
    for term, _ in self.weighted:
      targets.update(term.targets(context))
    return targets

  def moves(self, key, content):
    """(moved content, flows, masks) for the term that compares the output on moved content (`Term.moves`), or
    None when no term does."""
    return next((moved for term, _ in self.weighted if (moved := term.moves(key, content)) is not None), None)

  def terms(self, image, vgg, targets, network=None, moved=None):
    """{name: unweighted value} of every term for NHWC `image`; `network`: the network's own terms; `moved`: the
    output on moved content with its flows and masks (`moves`)."""
    missing = [key for key in self.needed_targets if key not in targets]
    if missing:
      raise ValueError(f"the objective needs targets {', '.join(missing)}: build them with Objective.targets")
    seen = terms_lib.Seen(image, self.features(vgg, image, self.layers), targets, network or {}, self.normalization,
                          moved)
    return {term.name: term(seen) for term, _ in self.weighted}

  def total(self, values):
    return sum(weight * values[term.name] for term, weight in self.weighted)


@functools.partial(jax.jit, static_argnames="objective")
def _style_grams(objective, vgg, style, masks):
  """`Objective.style_grams`, compiled once per objective and shape (not once per call)."""
  return objective.style_grams(vgg, style, masks)
