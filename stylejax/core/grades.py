"""Random colour grades: one photo set turned into many photo styles for training (config section `augment`).

A grade is what a colourist or a photo filter does to a whole photo, the same
at every pixel: a function of each pixel's colour only. Here it is, in order,

1. a channel mix near the identity, x + E x, the rows of E summing to 0 (greys stay grey);
2. saturation, a lerp away from (s > 0) or towards (s < 0) the luminance Y (Rec. 601
   weights): x + s (x − Y);
3. a monotone tone curve per channel with a black and a white point: piecewise
   linear over CURVE_SEGMENTS equal segments of [0, 1], with random positive
   slopes, normalised to run from the black point b to the white point w;
4. contrast about mid-grey and brightness: x + (c − 1)(x − 127.5) + β;

then clipped to 0..255. Each part is stored as its change from the identity
(`Grade`), so a Grade of zeros is the identity, exactly: the image comes back
bit for bit. A grey ramp stays monotone in every channel through every grade
(greys pass the mix and the saturation unchanged; curves, contrast and the clip
are monotone).

The idea of training colour-style transfer on random grades is Neural Preset
(Ke et al., "Neural Preset for Color Style Transfer", CVPR 2023): the same
grade applied to two photos gives a style photo and the known right answer for
the other (stylejax.methods.training, `augment.pair_probability`). Everything
here is pure jnp, batched and jittable; the strength of each part comes from
`Augment` (hashable, so jit specialises on it).
"""

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

CURVE_SEGMENTS = 8  # equal segments of a tone curve over [0, 1]
LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luminance weights
MID_GREY = 127.5


@dataclasses.dataclass(frozen=True)
class Augment:
  """The config's `augment` section: how often a training style is graded or made a reference pair
  (stylejax.methods.training), and the strength of each part of a random grade (`random_grades`)."""
  grade_probability: float = 0.0  # each example's style image graded at random
  pair_probability: float = 0.0  # each example made a reference pair: style G(C_j), reference G(C_k)
  mix: float = 0.1  # off-diagonal channel-mix weights uniform in ±mix
  curve: float = 0.5  # log-slopes of the tone curves' segments: normal, this standard deviation
  levels: float = 0.1  # black point uniform in [0, levels], white point in [1 − levels, 1]
  saturation: float = 0.3  # saturation change s uniform in ±saturation (−1: grey)
  contrast: float = 0.2  # contrast c = exp(u), u uniform in ±contrast
  brightness: float = 0.05  # offset β uniform in ±brightness·255

  def __post_init__(self):
    limits = {"grade_probability": 1.0, "pair_probability": 1.0, "mix": 0.5, "curve": 2.0, "levels": 0.45,
              "saturation": 1.0, "contrast": 1.0, "brightness": 0.5}
    for name, high in limits.items():
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value)
                                                                                and 0.0 <= value <= high):
        raise ValueError(f"augment.{name} must be a number from 0 to {high:g}, got {value!r}")

  @property
  def active(self):
    """Whether any training example is graded."""
    return self.grade_probability > 0 or self.pair_probability > 0


class Grade(NamedTuple):
  """Per-example grade parameters, each the change from the identity (all zeros: the identity).

  mix (B, 3, 3): E of x + E x, rows summing to 0; curve (B, 3, CURVE_SEGMENTS + 1): the curve's knots
  minus the diagonal, at x = k / CURVE_SEGMENTS on the 0..1 scale; saturation (B,): s; contrast (B,):
  log c; brightness (B,): β in 0..255 units.
  """
  mix: jax.Array
  curve: jax.Array
  saturation: jax.Array
  contrast: jax.Array
  brightness: jax.Array


def _knots():
  return jnp.arange(CURVE_SEGMENTS + 1, dtype=jnp.float32) / CURVE_SEGMENTS


def random_grades(key, batch, augment):
  """`batch` random grades (a Grade) at the strengths of `augment` (an Augment); zero strengths give the
  identity exactly."""
  keys = jax.random.split(key, 7)

  def uniform(key, shape, low=-1.0):
    return jax.random.uniform(key, shape, jnp.float32, low, 1.0)

  off_diagonal = uniform(keys[0], (batch, 3, 3)) * (1.0 - jnp.eye(3))
  mix = augment.mix * (off_diagonal - jnp.sum(off_diagonal, axis=2)[..., None] * jnp.eye(3))
  slopes = jnp.exp(augment.curve * jax.random.normal(keys[1], (batch, 3, CURVE_SEGMENTS)))
  rising = jnp.concatenate([jnp.zeros((batch, 3, 1)), jnp.cumsum(slopes, axis=2)], axis=2)
  rising = rising / rising[..., -1:]  # 0 -> 1 over the segments
  black = augment.levels * uniform(keys[2], (batch, 3, 1), 0.0)
  white = 1.0 - augment.levels * uniform(keys[3], (batch, 3, 1), 0.0)
  curve = black + (white - black) * rising - _knots()
  return Grade(mix, curve, augment.saturation * uniform(keys[4], (batch,)),
               augment.contrast * uniform(keys[5], (batch,)), 255.0 * augment.brightness * uniform(keys[6], (batch,)))


def where(pick, grade):
  """`grade` for the examples where `pick` (B,) is true, the identity for the others."""
  return jax.tree.map(lambda part: jnp.where(pick.reshape((-1,) + (1,) * (part.ndim - 1)), part, 0.0), grade)


def apply_grade(grade, images):
  """Each image of (B, H, W, 3) in 0..255 through its grade (see the module docstring), clipped to 0..255."""
  def per_image(part):
    return part[:, None, None, None]

  x = images + jnp.einsum("bij,bhwj->bhwi", grade.mix, images, precision=jax.lax.Precision.HIGHEST)
  x = x + per_image(grade.saturation) * (x - jnp.tensordot(x, jnp.asarray(LUMA), axes=1)[..., None])
  curve = jax.vmap(jax.vmap(jnp.interp, in_axes=(-1, None, 0), out_axes=-1), in_axes=(0, None, 0))
  x = x + 255.0 * curve(x / 255.0, _knots(), grade.curve)
  x = x + jnp.expm1(per_image(grade.contrast)) * (x - MID_GREY) + per_image(grade.brightness)
  return jnp.clip(x, 0.0, 255.0)
