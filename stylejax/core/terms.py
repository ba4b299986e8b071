"""Loss terms as plug-ins: each term is one class that says what it reads and how it scores an output.

A term is a frozen dataclass (hashable, so jit specialises on it) with

- `name`: the key of its value in the terms dict; its weight is the config's
  `loss.<name>_weight` (stylejax.settings);
- `layers()`: the VGG layers of the output it reads (computed once for all terms);
- `targets(context)`: what it compares against, built from the content, the
  style's Gram matrices and the content's masks (`TargetContext`);
- `__call__(seen)`: its unweighted value for an output (`Seen`);
- `moves(key, content)`: for a term that compares the output on moved content (temporal), that content;
- `configure(loss, masked)`: the term for a config's loss section ({key: value},
  lists as tuples), or None when another class of the same name applies.

`TERMS` lists the classes settings choose from. Adding a term is one class
here plus its `<name>_weight` entry in the config (configs/common.py). A
network's own regularisers (sown by its flax module) enter as `NetworkTerm`s.
Every loss is the mean over the batch (stylejax.core.losses).
"""

import dataclasses
import functools
import math
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.core import losses, matting, warping


class TargetContext(NamedTuple):
  """What targets are built from: the objective (its feature extractor), the VGG, the content batch
  (B, H, W, 3) in 0..255, the style's Gram targets ({layer: G}, from `Objective.blended_style_grams`),
  the content's region masks ((H, W, K), (B, H, W, K) per example, or None) and, in training with reference
  pairs (stylejax.methods.training), each example's known right answer: (images (B, H, W, 3) in 0..255,
  present (B,) 1 where the example has one, else 0), or None."""
  objective: Any
  vgg: Any
  content: Any
  style_grams: Any
  content_masks: Any
  reference: Any = None


class Seen(NamedTuple):
  """What a term scores: the output image (B, H, W, 3) 0..255, its VGG features at every term's layers,
  the targets, the network's own terms ({name: value}), the loss normalisation and, in training with a term that
  `moves` the content, (the network's output on the moved content, the flows, the masks)."""
  image: Any
  features: dict
  targets: dict
  network: dict
  normalization: str
  moved: Any = None


@dataclasses.dataclass(frozen=True)
class Term:
  """Base of every loss term."""
  name: ClassVar[str]
  needs: ClassVar[tuple] = ()  # the target keys __call__ reads
  always: ClassVar[bool] = False  # computed (and logged) even at weight 0: cheap and worth watching

  def layers(self):
    return ()

  def targets(self, context):
    return {}

  def __call__(self, seen):
    raise NotImplementedError

  def moves(self, key, content):
    """For a term that compares the network's output on moved content: (moved content, flows, masks), drawn by
    `key`; the training step then applies the network to it too (`Seen.moved`). None for the others."""
    return None

  @classmethod
  def configure(cls, loss, masked):
    return cls()


def _layer_weights(loss):
  """((layer, w_l), ...) of `style_layers` and `style_layer_weights` (empty: 1/L each)."""
  layers, weights = tuple(loss["style_layers"]), tuple(float(w) for w in loss["style_layer_weights"])
  weights = weights or (1.0 / len(layers),) * len(layers)
  if len(weights) != len(layers):
    raise ValueError(f"loss.style_layer_weights has {len(weights)} values for {len(layers)} style layers")
  if not all(math.isfinite(w) and w >= 0 for w in weights):
    raise ValueError(f"loss.style_layer_weights must be finite numbers >= 0, got {weights}")
  return tuple(zip(layers, weights))


@dataclasses.dataclass(frozen=True)
class Content(Term):
  """Content loss (Gatys et al. 2016, eq. 1): Σ_l content_l(F_l[O], F_l[C]) over `content_layers`
  (`losses.content_loss`: 1/2 Σ (F − P)² or its mean, by normalisation)."""
  name = "content"
  needs = ("content",)
  always = True
  content_layers: tuple = ("relu4_2",)

  def layers(self):
    return self.content_layers

  def targets(self, context):
    features = jax.jit(context.objective.features, static_argnums=2)
    return {"content": features(context.vgg, context.content, self.content_layers)}

  def __call__(self, seen):
    return sum(losses.content_loss(seen.features[layer], seen.targets["content"][layer], seen.normalization)
               for layer in self.content_layers)

  @classmethod
  def configure(cls, loss, masked):
    return cls(tuple(loss["content_layers"]))


@dataclasses.dataclass(frozen=True)
class Style(Term):
  """Gram style loss (Gatys et al. 2016, eqs. 3–5): Σ_l w_l E_l, E_l the normalised squared distance
  of O's Gram matrix G_l = F_lᵀ F_l from the style's (`losses.style_loss`)."""
  name = "style"
  needs = ("style",)
  always = True
  layer_weights: tuple = ()  # ((layer, w_l), ...)

  def layers(self):
    return tuple(layer for layer, _ in self.layer_weights)

  def targets(self, context):
    return {"style": context.style_grams}

  def __call__(self, seen):
    return losses.style_loss(seen.features, seen.targets["style"], dict(self.layer_weights), seen.normalization)

  @classmethod
  def configure(cls, loss, masked):
    return None if masked else cls(_layer_weights(loss))


@dataclasses.dataclass(frozen=True)
class MaskedStyle(Style):
  """Masked style loss (Luan et al. 2017, eq. 4): Σ_l w_l Σ_c E_l,c over semantic regions c, with
  Gram matrices of the features times each region's mask (`losses.masked_style_layer_loss`)."""
  needs = ("style", "masks")

  def targets(self, context):
    if context.content_masks is None:
      raise ValueError("a masked objective needs the content's region masks")
    return {"style": context.style_grams, "masks": context.objective.layer_masks(context.vgg, context.content_masks)}

  def __call__(self, seen):
    masks = seen.targets["masks"]
    return sum(weight * losses.masked_style_layer_loss(
        losses.masked_gram_matrices(seen.features[layer], masks[layer]), seen.targets["style"][layer], masks[layer],
        seen.normalization) for layer, weight in self.layer_weights)

  @classmethod
  def configure(cls, loss, masked):
    return cls(_layer_weights(loss)) if masked else None


@dataclasses.dataclass(frozen=True)
class TotalVariation(Term):
  """Total variation (Mahendran & Vedaldi 2015; Johnson et al. 2016): Σ (O[i+1,j] − O[i,j])² +
  (O[i,j+1] − O[i,j])², summed or averaged by normalisation (`losses.total_variation`)."""
  name = "tv"
  always = True

  def __call__(self, seen):
    return losses.total_variation(seen.image, seen.normalization)


@dataclasses.dataclass(frozen=True)
class Affine(Term):
  """Base of the matting-Laplacian photorealism terms on V = O/255, L the matting Laplacian of the content
  (Levin, Lischinski, Weiss 2008), built once for a concrete single image with `laplacian_backend`, or
  matrix-free inside the step for a traced batch (training, any batch size)."""
  name = "affine"
  needs = ("laplacian",)
  laplacian_backend: str = "banded"
  matting_eps: float = 1e-7
  matting_radius: int = 1
  form: ClassVar[str]

  def __post_init__(self):
    if self.laplacian_backend not in matting.BACKENDS:
      raise ValueError(f"unknown laplacian backend {self.laplacian_backend!r}; choose one of "
                       f"{', '.join(matting.BACKENDS)}")
    if not (math.isfinite(self.matting_eps) and self.matting_eps > 0) or self.matting_radius < 1:
      raise ValueError(f"loss.matting_eps must be > 0 and loss.matting_radius >= 1, got {self.matting_eps}, "
                       f"{self.matting_radius}")

  def targets(self, context):
    scaled = context.content / 255.0
    if isinstance(scaled, jax.core.Tracer) or scaled.shape[0] > 1 or self.laplacian_backend == "matrix_free":
      if self.laplacian_backend != "matrix_free":
        raise ValueError("a batch's Laplacian is built inside the step: use laplacian_backend=matrix_free")
      return {"laplacian": scaled}
    return {"laplacian": matting.prepare(self.laplacian_backend, np.asarray(scaled[0]), self.matting_eps,
                                         self.matting_radius)}

  def laplacian(self, seen):
    """x -> L x for the content's Laplacian."""
    return functools.partial(matting.apply, self.laplacian_backend, seen.targets["laplacian"], eps=self.matting_eps,
                             radius=self.matting_radius)

  @classmethod
  def configure(cls, loss, masked):
    if loss["affine_form"] not in AFFINE_FORMS:
      raise ValueError(f"unknown affine form {loss['affine_form']!r}; choose one of {', '.join(AFFINE_FORMS)}")
    if loss["affine_form"] != cls.form:
      return None
    return cls(loss["laplacian_backend"], float(loss["matting_eps"]), int(loss["matting_radius"]))


@dataclasses.dataclass(frozen=True)
class AffineEnergy(Affine):
  """Luan et al. 2017's photorealism regulariser (eq. 3): Σ_c V_cᵀ L V_c (`losses.matting_energy`)."""
  form = "energy"

  def __call__(self, seen):
    return losses.matting_energy(seen.image / 255.0, self.laplacian(seen))


@dataclasses.dataclass(frozen=True)
class AffineDifference(Affine):
  """The thesis's §4 form: 1/N Σ_c ‖L V_c[O] − L V_c[C]‖² (`losses.matting_difference`)."""
  form = "difference"
  needs = ("laplacian", "content_image")

  def targets(self, context):
    return {**super().targets(context), "content_image": context.content / 255.0}

  def __call__(self, seen):
    return losses.matting_difference(seen.image / 255.0, seen.targets["content_image"], self.laplacian(seen))


@dataclasses.dataclass(frozen=True)
class Reference(Term):
  """Self-supervised reference loss: for the examples k with a known right answer T_k (present m_k = 1),

      R = Σ_k m_k · mean((O_k − T_k)² / 255²) / Σ_k m_k,   0 when no example has one,

  the mean squared difference on the 0..1 scale. In training, T_k = G_k(C_k) for a random colour grade
  G_k whose style image is G_k(C_j), another photo under the same grade (stylejax.core.grades): the
  self-supervised pairs of Neural Preset (Ke et al., CVPR 2023). Without reference images (pixel
  optimisation, scoring) no example has one."""
  name = "reference"
  needs = ("reference",)

  def targets(self, context):
    if context.reference is None:
      return {"reference": {"image": context.content, "present": jnp.zeros(context.content.shape[0])}}
    image, present = context.reference
    return {"reference": {"image": image, "present": present}}

  def __call__(self, seen):
    reference = seen.targets["reference"]
    per_example = jnp.mean(jnp.square((seen.image - reference["image"]) / 255.0), axis=(1, 2, 3))
    return jnp.sum(reference["present"] * per_example) / jnp.maximum(jnp.sum(reference["present"]), 1.0)


@dataclasses.dataclass(frozen=True)
class Temporal(Term):
  """Temporal consistency of a feed-forward network, learnt from still photos (ReReVST, Wang et al. 2020;
  CAP-VSTNet, Wen et al. 2023): with W a random known motion of the content x (an affine warp and sensor noise,
  stylejax.core.warping.random_moves) and M the pixels it keeps inside the frame,

      T = mean over the batch of  Σ_p M(p) ‖N(W(x))(p) − W(N(x))(p)‖² / Σ_p M(p),   pixels in [0, 1],

  i.e. the warping error (stylejax.core.warping) of the two-frame clip (N(x), N(W(x))): the network should move
  its output with its input, not make a new one. Only in training (the step applies N to W(x) beside x)."""
  name = "temporal"
  shift: float = 4.0  # px
  degrees: float = 1.0
  zoom: float = 0.03
  noise: float = 4.0  # σ, levels of 0..255

  def moves(self, key, content):
    if key is None:
      raise ValueError("the temporal term draws random motions: it needs a random key")
    return warping.random_moves(key, content, self.shift, self.degrees, self.zoom, self.noise)

  def __call__(self, seen):
    if seen.moved is None:
      raise ValueError("the temporal term compares two frames: it exists only in training")
    moved_output, flows, masks = seen.moved
    warped = jax.vmap(lambda image, flow: warping.warp(image, flow)[0])(seen.image, flows)
    squared = jnp.sum(jnp.square((moved_output - warped) / 255.0), axis=-1)
    return jnp.mean(jnp.sum(masks * squared, axis=(1, 2)) / jnp.maximum(jnp.sum(masks, axis=(1, 2)), 1.0))

  @classmethod
  def configure(cls, loss, masked):
    return cls(*(float(loss[f"temporal_{key}"]) for key in ("shift", "degrees", "zoom", "noise")))


@dataclasses.dataclass(frozen=True)
class NetworkTerm(Term):
  """A network's own regulariser (e.g. the bilateral grid's smoothness, stylejax.core.bilateral), the value
  its flax module sowed into the `losses` collection; declared by the network kind's `regularizers`."""
  always = True  # computed by the network anyway
  regularizer: str = ""

  @property
  def name(self):
    return self.regularizer

  def __call__(self, seen):
    if self.regularizer not in seen.network:
      raise ValueError(f"the network sowed no {self.regularizer!r} term; it exists only in training")
    return seen.network[self.regularizer]


AFFINE_FORMS = (AffineEnergy.form, AffineDifference.form)
# configure picks among these
TERMS = (Content, Style, MaskedStyle, TotalVariation, AffineEnergy, AffineDifference, Reference, Temporal)


def configure(name, loss, masked):
  """The term `name` (as in loss.<name>_weight) for a config's loss section."""
  for cls in TERMS:
    if cls.name == name:
      term = cls.configure(loss, masked)
      if term is not None:
        return term
  raise ValueError(f"loss.{name}_weight names no loss term; terms are "
                   f"{', '.join(sorted({cls.name for cls in TERMS}))}")
