"""Steadiness in time for networks that predict low-resolution transforms (the bilateral-grid kinds).

A network applied frame by frame flickers: small changes of the input change its predicted transforms
more than the frame changed. A bilateral-grid network's transforms are tiny (a 16×16×8 grid of 3×4
matrices), so they can be smoothed in time at almost no cost, by an exponential moving average that
restarts at every scene cut:

  s_t = v_t                          at the clip's first frame and at a cut,
  s_t = decay · s_{t−1} + (1 − decay) · v_t   otherwise.

A frame starts a new shot when the mean absolute difference of its thumbnail (the network's low-resolution
view, averaged to THUMBNAIL² pixels, in [0, 1]) and the previous frame's exceeds `cut`. decay = 0 is the
network frame by frame.

Networks keep the state between batches of frames in the flax collection VIDEO ("video"): the previous
frame's smoothed transforms and thumbnail, the frames seen, and `decay` and `cut` (`Smoothing.variables`).
Applied without that collection mutable (images), `shot_starts` and `steady` change nothing.
"""

import dataclasses

import jax
import jax.numpy as jnp

VIDEO = "video"  # the flax collection that carries a clip's state from one batch of frames to the next
THUMBNAIL = 32  # side of the thumbnails that scene cuts are detected on


@dataclasses.dataclass(frozen=True)
class Smoothing:
  """How transforms are smoothed in time (module docstring)."""
  decay: float = 0.8  # weight of the past in the moving average; 0: frame by frame
  cut: float = 0.1  # mean absolute thumbnail difference (0..1) that starts a new shot

  def __post_init__(self):
    if not 0.0 <= self.decay < 1.0:
      raise ValueError(f"smoothing decay must be in [0, 1), got {self.decay}")
    if not 0.0 < self.cut <= 1.0:
      raise ValueError(f"scene-cut threshold must be in (0, 1], got {self.cut}")

  def variables(self):
    """The settings as the VIDEO collection holds them."""
    return {"decay": jnp.float32(self.decay), "cut": jnp.float32(self.cut)}


def moving_average(values, starts, previous, decay):
  """(smoothed values (T, ...), the last one): the module docstring's s_t over axis 0 of `values`, continuing
  from `previous` (s_{−1}); starts (T,) bool marks the frames that restart it."""
  def step(last, inputs):
    value, start = inputs
    smoothed = jnp.where(start, value, decay * last + (1.0 - decay) * value)
    return smoothed, smoothed

  last, smoothed = jax.lax.scan(step, previous, (values, starts))
  return smoothed, last


def thumbnails(views):
  """(B, THUMBNAIL, THUMBNAIL, C) box averages of views (B, H, W, C) whose sides are multiples of THUMBNAIL
  (a network's low-resolution views), else a linear resize."""
  batch, height, width, channels = views.shape
  if height % THUMBNAIL or width % THUMBNAIL:
    return jax.image.resize(views, (batch, THUMBNAIL, THUMBNAIL, channels), "linear")
  return views.reshape(batch, THUMBNAIL, height // THUMBNAIL, THUMBNAIL, width // THUMBNAIL, channels).mean((2, 4))


def shot_starts(module, views):
  """(B,) bool: which of these consecutive frames start a shot (the clip's first, or after a cut; module
  docstring), from their low-resolution views (B, h, w, C) in [0, 1], in a compact module's body; None when
  the module is not applied to a video."""
  if not (module.is_mutable_collection(VIDEO) and module.has_variable(VIDEO, "cut")):  # not a video: init, images
    return None
  small = thumbnails(views.astype(jnp.float32))
  previous = module.variable(VIDEO, "thumbnail", jnp.zeros, small.shape[1:], jnp.float32)
  seen = module.variable(VIDEO, "frames", lambda: jnp.zeros((), jnp.int32))
  before = jnp.concatenate([previous.value[None], small[:-1]])
  change = jnp.mean(jnp.abs(small - before), axis=(1, 2, 3))
  starts = (change > module.get_variable(VIDEO, "cut")) | (seen.value + jnp.arange(small.shape[0]) == 0)
  previous.value, seen.value = small[-1], seen.value + small.shape[0]
  return starts


def steady(module, name, values, starts):
  """values (B, ...) of consecutive frames, smoothed in time (`moving_average` with the VIDEO collection's
  decay, continuing from the state kept under `name`), in a compact module's body; unchanged when `starts`
  is None (not a video)."""
  if starts is None:
    return values
  previous = module.variable(VIDEO, name, jnp.zeros, values.shape[1:], values.dtype)
  smoothed, previous.value = moving_average(values, starts, previous.value, module.get_variable(VIDEO, "decay"))
  return smoothed
