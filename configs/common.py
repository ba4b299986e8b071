"""Config sections shared by every preset: one place for the loss, masks and VGG settings.

Lists are tuples (a comma string works too on the command line:
`--config.loss.style_layers=relu1_1,relu2_1`). Files bundled with the package
are named `bundled:NAME` (stylejax/assets). A preset's argument
(`configs/NAME.py:a,b`) is read with `arguments`.
"""

import dataclasses

import ml_collections

from stylejax.core import grades, terms


def arguments(arg, allowed):
  """The items of a preset's argument (`configs/NAME.py:a,b`), each one of `allowed`, in order."""
  items = [item for item in (arg or "").split(",") if item]
  for item in items:
    if item not in allowed:
      raise ValueError(f"unknown config argument {item!r}; use {', '.join(allowed)}, comma-separated")
  return items


def vgg():
  section = ml_collections.ConfigDict()
  section.arch = "vgg16"  # vgg16 (embedded) | vgg19 (install with configs/weights.py)
  section.weights = ""  # a weights file; empty: the cache or the embedded VGG16
  section.pooling = "avg"  # avg (Gatys) | max
  return section


def loss():
  """stylejax.core.objective: content (Gatys eq. 1) + style (Gram, eqs. 3-5) + TV [+ matting term]."""
  section = ml_collections.ConfigDict()
  section.content_layers = ("relu4_2",)
  section.style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
  section.style_layer_weights = ()  # empty: 1/L each (thesis: 1/5)
  section.normalization = "mean"  # mean (losses as means: size-independent) | sum (the thesis's sums) | luan
  section.content_weight = 1.0
  section.style_weight = 20.0
  section.tv_weight = 1e-3
  # Photorealism (Luan et al. 2017): the matting-Laplacian term of the content image.
  section.affine_weight = 0.0  # φ, on pixels in [0, 1] (Luan: 1e4, with normalization=luan)
  section.affine_form = "energy"  # energy: Luan's Σ_c V_cᵀ L V_c | difference: thesis §4, 1/N Σ_c ‖L V_c[O] − L V_c[C]‖²
  section.laplacian_backend = "banded"  # banded | matrix_free (training) | sparse (BCOO)
  section.matting_eps = 1e-7
  section.matting_radius = 1
  # Training a network that takes a style, with augment.pair_probability > 0: the mean squared difference
  # from the known right answer of each self-supervised pair (on pixels in [0, 1]; stylejax.core.terms.Reference).
  section.reference_weight = 0.0
  # Training for video: the network's output should move with its input (stylejax.core.terms.Temporal), on
  # random motions of the content photos: shifts up to temporal_shift px, rotations up to temporal_degrees,
  # scales within 1 ± temporal_zoom, noise σ up to temporal_noise levels.
  section.temporal_weight = 0.0
  for key, value in dataclasses.asdict(terms.Temporal()).items():  # temporal_shift, _degrees, _zoom, _noise
    section[f"temporal_{key}"] = value
  return section


def augment():
  """Random colour grades of the training styles, for a network that takes a style: the fields of
  stylejax.core.grades.Augment with their defaults and meanings (channel mix, tone curves with black and white
  points, saturation, contrast and brightness; how often a style is graded or made a reference pair)."""
  return ml_collections.ConfigDict(dataclasses.asdict(grades.Augment()))


def masks():
  """Semantic regions for the masked style loss (Luan et al. 2017)."""
  section = ml_collections.ConfigDict()
  section.source = "none"  # none | files (Luan's colour PNGs) | labels (label maps) | auto (VGG k-means)
  section.content = ""  # files/labels: the content's mask file
  section.style = ""
  section.label_groups = ""  # labels: label->group table; empty: ADE20K's 150 classes in 10 groups
  section.regions = 3  # auto: k of the k-means
  return section

