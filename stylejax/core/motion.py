"""Synthetic clips with known motion, made from still photos: the exact flow and visibility that the warping
error (stylejax.core.warping) needs, and test material for video with no video data.

A camera looks at a photo (the "world"): frame t shows the world point A_t(p) at its pixel p, with

  A_t(p) = centre_world + z_t · (p − centre_frame) + t · velocity,    z_t = zoom^(−t)

(a pan: velocity; a zoom: zoom > 1 moves in). The point p of frame t is then at
A_{t+1}⁻¹(A_t(p)) in frame t+1, so the forward flow is exact:

  f_t(p) = centre_frame + (z_t · (p − centre_frame) − velocity) / z_{t+1} − p.

On top, optionally: a disc cut from a second photo that moves across the frame (it occludes the
background it covers next; its own pixels move with it), a brightness ramp (lighting), per-frame Gaussian
noise (a sensor), and a hard cut to the second photo halfway (no pixel of the last frame before the cut
is visible after it). Frames are rendered by bilinear sampling in float64 and rounded to uint8.
"""

import dataclasses

import numpy as np
import PIL.Image
import scipy.ndimage

MOTIONS = ("pan", "zoom", "object", "light", "cut")


@dataclasses.dataclass(frozen=True)
class Motion:
  """What a synthetic clip does; `preset(name)` gives the named ones (MOTIONS)."""
  velocity: tuple = (0.0, 3.0)  # (dy, dx) world pixels per frame
  zoom: float = 1.0  # scale per frame (> 1: in)
  object_velocity: tuple = (0.0, 0.0)  # (dy, dx) frame pixels per frame of the pasted disc; (0, 0): no disc
  brightness: float = 0.0  # brightness change per frame (0.01: +1 % a frame)
  noise: float = 0.0  # σ of the per-frame Gaussian noise, in levels of 0..255
  cut: bool = False  # switch to the second photo halfway


def preset(name, noise=0.0):
  """The named motion (MOTIONS), with sensor noise σ = `noise`."""
  motions = {"pan": Motion((1.0, 3.0)), "zoom": Motion((0.0, 0.0), zoom=1.01),
             "object": Motion((0.0, 1.0), object_velocity=(1.0, -5.0)),
             "light": Motion((0.0, 1.0), brightness=0.015), "cut": Motion((1.0, 3.0), cut=True)}
  if name not in motions:
    raise ValueError(f"unknown motion {name!r}; choose one of {', '.join(MOTIONS)}")
  return dataclasses.replace(motions[name], noise=noise)


@dataclasses.dataclass
class Clip:
  """Frames (H, W, 3) uint8; flows[t] (H, W, 2) float32 from frame t to t+1 (`stylejax.core.warping`);
  masks[t] (H, W) bool: the pixels of frame t that frame t+1 shows."""
  frames: list
  flows: list
  masks: list


def _sample(photo, y, x):
  return np.stack([scipy.ndimage.map_coordinates(photo[..., c], [y, x], order=1, mode="reflect")
                   for c in range(3)], axis=-1)


def _world(photo, height, width, motion, frames):
  """The photo as float64, resized (antialiased) so that every frame's view just stays inside it, and blurred
by σ = 0.7 px (a lens): sampling it between pixels then loses little (the clip's own warping error is small)."""
  reach_y = height / 2 + abs(motion.velocity[0]) * frames + 8
  reach_x = width / 2 + abs(motion.velocity[1]) * frames + 8
  scale = 1.05 * max(2 * reach_y / photo.shape[0], 2 * reach_x / photo.shape[1])
  size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
  photo = np.asarray(PIL.Image.fromarray(np.asarray(photo, np.uint8)).resize(size, PIL.Image.LANCZOS), np.float64)
  return scipy.ndimage.gaussian_filter(photo, (0.7, 0.7, 0))


def synthetic_clip(photo, motion, frames=24, size=(216, 384), other=None, seed=0):
  """A Clip of `frames` frames of `size` (H, W) looking at `photo` (H', W', 3) with `motion` (Motion);
  `other` (a second photo) is the disc's texture and the world after a cut (default: `photo` mirrored)."""
  height, width = size
  other = np.asarray(photo)[:, ::-1] if other is None else other
  worlds = [_world(photo, height, width, motion, frames), _world(other, height, width, motion, frames)]
  rng = np.random.default_rng(seed)
  ys, xs = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
  centre = np.array([(height - 1) / 2, (width - 1) / 2])
  velocity = np.asarray(motion.velocity, np.float64)
  radius = min(height, width) / 5
  disc_start = np.array([height / 2, width * 0.8])

  def disc(t):
    """(centre, inside (H, W)) of the pasted disc in frame t, or (None, all False) with no disc."""
    if not any(motion.object_velocity):
      return None, np.zeros((height, width), bool)
    middle = disc_start + t * np.asarray(motion.object_velocity)
    return middle, (ys - middle[0]) ** 2 + (xs - middle[1]) ** 2 <= radius**2

  cut_at = frames // 2 if motion.cut else frames
  rendered, flows, masks = [], [], []
  for t in range(frames):
    world = worlds[t >= cut_at]
    zoom_t = motion.zoom ** -t
    world_centre = (np.array(world.shape[:2]) - 1) / 2 + t * velocity
    frame = _sample(world, world_centre[0] + zoom_t * (ys - centre[0]), world_centre[1] + zoom_t * (xs - centre[1]))
    middle, inside = disc(t)
    if middle is not None:
      texture = _sample(worlds[1], ys - middle[0] + worlds[1].shape[0] / 2, xs - middle[1] + worlds[1].shape[1] / 2)
      frame = np.where(inside[..., None], texture, frame)
    frame = frame * (1 + motion.brightness * t) + rng.normal(0.0, motion.noise, frame.shape) * (motion.noise > 0)
    rendered.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    if t == frames - 1:
      break
    zoom_next = motion.zoom ** -(t + 1)
    target_y = centre[0] + (zoom_t * (ys - centre[0]) - velocity[0]) / zoom_next
    target_x = centre[1] + (zoom_t * (xs - centre[1]) - velocity[1]) / zoom_next
    next_middle, next_inside = disc(t + 1)
    if middle is not None:  # the disc's pixels move with it; what it covers next is occluded
      target_y = np.where(inside, ys + next_middle[0] - middle[0], target_y)
      target_x = np.where(inside, xs + next_middle[1] - middle[1], target_x)
    flow = np.stack([target_y - ys, target_x - xs], axis=-1)
    inside_next = (target_y >= 0) & (target_y <= height - 1) & (target_x >= 0) & (target_x <= width - 1)
    covered = scipy.ndimage.map_coordinates(next_inside.astype(np.float64), [target_y, target_x], order=1) > 0
    mask = inside_next & (inside | ~covered) & (t + 1 != cut_at)
    flows.append(flow.astype(np.float32))
    masks.append(mask)
  return Clip(rendered, flows, masks)
