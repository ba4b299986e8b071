"""Feed-forward style transfer networks as plug-ins: one module per kind, one registry (`KINDS`).

- johnson: Johnson et al.'s transformation network (the artistic model);
- thesis: the same network trained with the thesis's input blend (its §4 photorealistic model);
- bilateral: a bilateral grid of local affine colour transforms (photorealistic by construction);
- universal: the same grid conditioned on a style photo given at inference (one network for any style).

Every kind is a `base.Network` (its typed settings, `init`, `apply`, `train_apply`
and what it needs: tiling, a style input, regularisers); `build` makes one from
a config's `net` section. Adding a network is one module here, its class
listed below
(or `register` called on a class defined anywhere, e.g. in a test) plus a preset.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from stylejax.core import temporal, xla
from stylejax.core.networks.base import Network, blend

KINDS = {}  # net.kind -> Network subclass


def register(cls):
  """Adds a Network subclass to KINDS under its `kind`; returns it (usable as a decorator)."""
  if not (isinstance(cls, type) and issubclass(cls, Network) and dataclasses.is_dataclass(cls)):
    raise TypeError(f"{cls!r} is not a dataclass subclassing stylejax.core.networks.Network")
  KINDS[cls.kind] = cls
  return cls


def build(kind, settings, dtype="float32"):
  """The network of kind `kind` with `settings` ({field: value}; missing fields take their defaults).
  Unknown kinds, unknown settings and bad values are ValueErrors that name them."""
  if kind not in KINDS:
    raise ValueError(f"unknown net.kind {kind!r}; choose one of {', '.join(KINDS)}")
  cls = KINDS[kind]
  names = {field.name for field in dataclasses.fields(cls)} - {"dtype"}
  unknown = sorted(set(settings) - names)
  if unknown:
    raise ValueError(f"net.{unknown[0]} is not a setting of a {kind} network; its settings are "
                     f"{', '.join(sorted(names))}")
  return cls(**settings, dtype=dtype)


@functools.partial(xla.jit, static_argnames="net")
def stylize(net, params, content, style=None, strength=1.0, masks=None):
  """`net.apply` on any numeric (B, H, W, 3) in 0..255, jitted (stylejax.core.xla): stylised images in 0..255
  (float32). masks: (the contents', the styles') region masks, for a kind that `takes_masks`."""
  content = content.astype(jnp.float32)
  style = None if style is None else style.astype(jnp.float32)
  if masks is None:
    return net.apply(params, content, style, strength).astype(jnp.float32)
  return net.apply(params, content, style, strength, masks=masks).astype(jnp.float32)


@functools.partial(xla.jit, static_argnames="net")
def stylize_frames(net, params, frames, state, style=None, strength=1.0):
  """`net.stylize_frames` on the next frames (B, H, W, 3) of a clip, jitted like `stylize`: (stylised frames in
  0..255 (float32), the state after them)."""
  style = None if style is None else style.astype(jnp.float32)
  out, state = net.stylize_frames(params, frames.astype(jnp.float32), state, style, strength)
  return out.astype(jnp.float32), state


def clip_start(net, params, frames_shape, style=None, smoothing=temporal.Smoothing()):
  """The state before a clip's first frame for frames of `frames_shape` (B, H, W, 3) [with `style`]: every
  variable the kind keeps (zero: nothing seen yet) and `smoothing`'s settings, so that each batch of the clip
  runs one compiled program."""
  settings = smoothing.variables()
  shapes = jax.eval_shape(lambda p, s: net.stylize_frames(p, jnp.zeros(frames_shape), settings, s)[1], params, style)
  return {**jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), shapes), **settings}


from stylejax.core.networks import bilateral, johnson, thesis, universal  # noqa: E402  (after register: built-in kinds)

for _kind in (johnson.Johnson, thesis.Thesis, bilateral.Bilateral, universal.Universal):
  register(_kind)

__all__ = ["KINDS", "Network", "blend", "build", "clip_start", "register", "stylize", "stylize_frames"]
