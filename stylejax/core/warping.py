"""Optical-flow warping, occlusion masks and the warping error of a clip (jax, jitted).

A flow (H, W, 2) holds, per pixel p = (y, x) of frame t, the displacement (dy, dx) to where
that point is in frame t+1: the point p of frame t is the point p + flow(p) of frame t+1.

Warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency", §4.1):

  E_pair(t) = Σ_p M_t(p) ‖V_t(p) − V̂_{t+1}(p)‖² / Σ_p M_t(p),   E = mean over t of E_pair(t)

with frames in [0, 1], V̂_{t+1} = frame t+1 warped back to frame t along the flow (bilinear), and M_t
the pixels that stay visible: inside frame t+1 and not occluded by the forward-backward check of
Sundaram et al. 2010 (as Ruder et al. 2016 and Lai et al. use it):

  occluded(p) ⟺ ‖f(p) + b(p + f(p))‖² > 0.01 (‖f(p)‖² + ‖b(p + f(p))‖²) + 0.5

(f: the flow from t to t+1, b: from t+1 to t, in pixels).
"""

import jax
import jax.numpy as jnp


def warp(image, flow):
  """(image sampled at p + flow(p) for every pixel p (bilinear; (H, W, C) float32), valid (H, W): whether
  p + flow(p) lies inside the image). image (H', W', C), flow (H, W, 2)."""
  height, width = flow.shape[:2]
  ys, xs = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32), jnp.arange(width, dtype=jnp.float32),
                        indexing="ij")
  y, x = ys + flow[..., 0], xs + flow[..., 1]
  valid = (y >= 0) & (y <= image.shape[0] - 1) & (x >= 0) & (x <= image.shape[1] - 1)
  sample = lambda channel: jax.scipy.ndimage.map_coordinates(channel, [y, x], order=1, mode="nearest")  # noqa: E731
  warped = jnp.stack([sample(image[..., c].astype(jnp.float32)) for c in range(image.shape[-1])], axis=-1)
  return warped, valid


def random_moves(key, images, shift=4.0, degrees=1.0, zoom=0.03, noise=4.0):
  """(moved images, flows, masks): each image (B, H, W, 3) in 0..255 moved by its own random affine motion about
  its centre (a shift up to `shift` px, a rotation up to `degrees`, a scale within 1 ± `zoom`), resampled
  (bilinear) and with Gaussian sensor noise of σ up to `noise` levels: a synthetic next frame with a known
  flow. moved(p) = image(p + flow(p)); masks (B, H, W): the pixels whose source lies inside the image."""
  batch, height, width, _ = images.shape
  keys = jax.random.split(key, 5)
  uniform = lambda k, bound, shape=(batch,): jax.random.uniform(k, shape, minval=-bound, maxval=bound)  # noqa: E731
  angle, scale = jnp.deg2rad(uniform(keys[0], degrees)), 1.0 + uniform(keys[1], zoom)
  offset = uniform(keys[2], shift, (batch, 2))
  ys, xs = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32) - (height - 1) / 2,
                        jnp.arange(width, dtype=jnp.float32) - (width - 1) / 2, indexing="ij")
  cos, sin = (jnp.cos(angle) * scale)[:, None, None], (jnp.sin(angle) * scale)[:, None, None]
  source_y = cos * ys - sin * xs + offset[:, 0, None, None]
  source_x = sin * ys + cos * xs + offset[:, 1, None, None]
  flows = jnp.stack([source_y - ys, source_x - xs], axis=-1)
  moved, masks = jax.vmap(warp)(images, flows)
  sigma = jax.random.uniform(keys[3], (batch, 1, 1, 1), maxval=noise)
  moved = jnp.clip(moved + sigma * jax.random.normal(keys[4], moved.shape), 0.0, 255.0)
  return moved, flows, masks


def visible(forward, backward):
  """(H, W) bool: the pixels of frame t that frame t+1 shows (module docstring: inside it, not occluded)."""
  back_at_target, inside = warp(backward, forward)
  mismatch = jnp.sum((forward + back_at_target) ** 2, axis=-1)
  bound = 0.01 * (jnp.sum(forward**2, axis=-1) + jnp.sum(back_at_target**2, axis=-1)) + 0.5
  return inside & (mismatch <= bound)


@jax.jit
def pair_error(frame, following, forward, mask):
  """E_pair of the module docstring: frames (H, W, 3) in 0..255, `forward` the flow from `frame` to
  `following`, `mask` (H, W) the visible pixels. NaN where no pixel is visible."""
  warped, _ = warp(following.astype(jnp.float32) / 255.0, forward)
  squared = jnp.sum((frame.astype(jnp.float32) / 255.0 - warped) ** 2, axis=-1)
  return jnp.sum(jnp.where(mask, squared, 0.0)) / jnp.sum(mask)


def warping_error(frames, flows, masks):
  """(E, [E_pair(t)]): the warping error of frames V_0..V_T (each (H, W, 3), 0..255) with flows[t] from V_t to
  V_{t+1} and masks[t] its visible pixels (`visible`); pairs with no visible pixel (a scene cut) are left out
  of the mean and are NaN in the list."""
  pairs = [float(pair_error(frames[t], frames[t + 1], flows[t], masks[t])) for t in range(len(frames) - 1)]
  kept = [e for e in pairs if e == e]
  return (sum(kept) / len(kept) if kept else float("nan")), pairs
