"""Semantic masks for masked style transfer (Luan et al. 2017): one channel per region.

Sources:
- `color_masks`: Luan's colour-coded PNGs (9 colours, tolerance 0.1 per
  channel on a 0..1 scale); a colour present in only one image is dropped.
- `label_masks`: integer label maps (e.g. ADE20K's 150 classes, from any
  segmenter) grouped into channels by a table (`assets/ade20k_groups.tsv`:
  the thesis's K = 10 groups).
- `auto_masks`: no segmentation network is available offline, so regions are
  found by k-means on the deep VGG features of content and style together
  (so matching regions share a channel), spatially smoothed.
Masks are float arrays (H, W, K) with channels summing to 1; `layer_masks`
resizes them to every VGG layer used; `to_color_image` draws them for people.
"""

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage

from stylejax.errors import UserError

# Luan's convention (deep-photo-styletransfer), in his order.
LUAN_COLORS = {
    "blue": (0, 0, 1), "green": (0, 1, 0), "black": (0, 0, 0), "white": (1, 1, 1), "red": (1, 0, 0),
    "yellow": (1, 1, 0), "grey": (0.5, 0.5, 0.5), "lightblue": (0, 1, 1), "purple": (1, 0, 1),
}
TOLERANCE = 0.1
MAX_UNKNOWN_FRACTION = 0.05  # more pixels than this matching no colour is an error


@dataclasses.dataclass(frozen=True)
class MaskSettings:
  """Where a masked transfer's semantic regions come from (configs/common.py's `masks` section)."""
  source: str = "none"  # none | files (Luan's colour PNGs) | labels (label maps) | auto (VGG k-means)
  content_name: str = "content mask"  # the mask files' names, for messages
  style_name: str = "style mask"
  label_groups: str = ""  # labels: a label -> group table file; empty: ADE20K's groups
  regions: int = 3  # auto: k of the k-means
  seed: int = 0


def _labels(segmentation, path):
  """Index into LUAN_COLORS per pixel of an (H, W, 3) 0..255 image.

  Pixels within the tolerance of no colour (anti-aliased edges, stray pixels)
  take the label of the nearest pixel that has one.
  """
  colours = np.array(list(LUAN_COLORS.values()), np.float32)
  pixels = np.asarray(segmentation, np.float32) / 255.0
  distance = np.abs(pixels[..., None, :] - colours).max(-1)  # (H, W, 9), Chebyshev
  labels = distance.argmin(-1)
  unknown = distance.min(-1) >= TOLERANCE
  if unknown.mean() > MAX_UNKNOWN_FRACTION:
    values, counts = np.unique(np.round(pixels[unknown] * 255).astype(int), axis=0, return_counts=True)
    example = "#%02x%02x%02x" % tuple(values[counts.argmax()])
    raise UserError(f"{path}: {unknown.mean():.0%} of the mask's pixels match none of Luan's 9 colours "
                    f"(e.g. {example}); colours are {', '.join(LUAN_COLORS)}")
  if unknown.any():
    nearest = scipy.ndimage.distance_transform_edt(unknown, return_distances=False, return_indices=True)
    labels = labels[nearest[0], nearest[1]]
  return labels


def _common_channels(content_labels, style_labels, names):
  """One-hot (H, W, K) masks of the labels both images use; the others are dropped with a warning."""
  in_content, in_style = set(np.unique(content_labels)), set(np.unique(style_labels))
  for k in sorted(in_content ^ in_style):
    where = "content" if k in in_content else "style"
    warnings.warn(f"mask region {names[k]} appears only in the {where} mask; it gets no style of its own "
                  f"(dropped)", stacklevel=3)
  common = sorted(in_content & in_style)
  if not common:
    raise UserError("the content and style masks share no region")
  one_hot = lambda labels: (labels[..., None] == np.array(common)).astype(np.float32)  # noqa: E731
  return one_hot(content_labels), one_hot(style_labels), [names[k] for k in common]


def color_masks(content_seg, style_seg, content_path="content mask", style_path="style mask"):
  """(content (H, W, K), style (H', W', K), names) for the colours both masks use (paths name them in errors)."""
  return _common_channels(_labels(content_seg, content_path), _labels(style_seg, style_path), list(LUAN_COLORS))


def label_masks(content_labels, style_labels, groups, names):
  """Masks from integer label maps, labels grouped into channels: `groups` maps a
  label to its group name, `names` lists the groups ('other' takes the rest)."""
  other = names.index("other")
  lookup = np.full(max(groups) + 1, other)
  lookup[list(groups)] = [names.index(g) for g in groups.values()]

  def to_group(labels):
    return np.where((labels >= 0) & (labels < len(lookup)), lookup[np.clip(labels, 0, len(lookup) - 1)], other)

  return _common_channels(to_group(content_labels), to_group(style_labels), names)


def kmeans(points, k, seed=0, iterations=30):
  """Lloyd's k-means with k-means++ seeding; points (P, D) -> (labels (P,), centres (k, D)). Deterministic."""
  rng = np.random.default_rng(seed)
  centres = [points[rng.integers(len(points))]]
  for _ in range(1, k):
    distance = np.min([np.sum((points - c) ** 2, -1) for c in centres], axis=0)
    centres.append(points[rng.choice(len(points), p=distance / distance.sum())])
  labels, centres = _lloyd(jnp.asarray(points), jnp.asarray(np.stack(centres)), iterations=iterations)
  return np.asarray(labels), np.asarray(centres)


@functools.partial(jax.jit, static_argnames="iterations")
def _lloyd(points, centres, *, iterations):
  """`iterations` Lloyd steps from `centres`; the points are an argument, never a
  compile-time constant (XLA:GPU would spend minutes constant-folding them)."""
  k = centres.shape[0]

  def step(centres, _):
    labels = jnp.argmin(jnp.sum((points[:, None] - centres[None]) ** 2, -1), -1)
    one_hot = jax.nn.one_hot(labels, k)
    counts = one_hot.sum(0)
    new = (one_hot.T @ points) / jnp.maximum(counts, 1)[:, None]
    return jnp.where(counts[:, None] > 0, new, centres), labels

  centres, labels = jax.lax.scan(step, centres, None, length=iterations)
  return labels[-1], centres


def auto_masks(vgg, content, style, k=3, layers=("relu4_1", "relu5_1"), smooth_px=2.0, seed=0):
  """Regions from k-means on L2-normalised deep VGG features of both images jointly.

  content, style: (H, W, 3) 0..255. Each layer's features are upsampled to the
  relu4_1 grid and concatenated; labels are upsampled to the image, smoothed
  (Gaussian on the one-hot maps, `smooth_px` pixels) and re-binarised.
  Returns (content_masks, style_masks, names) like `color_masks`.
  """
  def grid_features(image):
    feats = vgg.features(jnp.asarray(image)[None], layers)
    size = feats[layers[0]].shape[1:3]
    parts = [jax.image.resize(f[0], (*size, f.shape[-1]), "linear") for f in feats.values()]
    parts = [p / (jnp.linalg.norm(p, axis=-1, keepdims=True) + 1e-6) for p in parts]
    return np.asarray(jnp.concatenate(parts, -1))

  grids = [grid_features(content), grid_features(style)]
  points = np.concatenate([g.reshape(-1, g.shape[-1]) for g in grids])
  labels, centres = kmeans(points, k, seed)
  split = grids[0].shape[0] * grids[0].shape[1]
  # A region only one image has would get no style of its own: its points join the nearest shared region.
  shared = sorted(set(labels[:split]) & set(labels[split:]))
  if not shared:
    return (np.ones((*content.shape[:2], 1), np.float32), np.ones((*style.shape[:2], 1), np.float32), ["all"])
  distance = np.sum((points[:, None] - centres[shared][None]) ** 2, -1)
  labels = np.where(np.isin(labels, shared), np.searchsorted(shared, labels).clip(0, len(shared) - 1),
                    distance.argmin(-1))
  k = len(shared)
  masks = []
  for grid, lab, image in zip(grids, (labels[:split], labels[split:]), (content, style)):
    one_hot = np.eye(k, dtype=np.float32)[lab.reshape(grid.shape[:2])]
    up = np.asarray(jax.image.resize(one_hot, (*image.shape[:2], k), "linear"))
    up = scipy.ndimage.gaussian_filter(up, (smooth_px, smooth_px, 0))
    masks.append(np.eye(k, dtype=np.float32)[up.argmax(-1)])
  return masks[0], masks[1], [f"region{c}" for c in shared]


def resize(masks, height, width):
  """(H, W, K) region masks resized (linear) to (height, width, K)."""
  return np.asarray(jax.image.resize(jnp.asarray(masks), (height, width, masks.shape[-1]), "linear"))


def layer_masks(masks, shapes):
  """{layer: (1, h, w, K)} masks averaged down to each layer's (h, w); one jitted program per shape."""
  return _layer_masks(jnp.asarray(masks), tuple((layer, tuple(size)) for layer, size in shapes.items()))


@functools.partial(jax.jit, static_argnames="shapes")
def _layer_masks(masks, shapes):
  return {layer: jax.image.resize(masks, (h, w, masks.shape[-1]), "linear", antialias=True)[None]
          for layer, (h, w) in shapes}


def to_color_image(masks, names=()):
  """(H, W, K) masks drawn as 0..255 RGB for people to check: channels named after
  one of Luan's colours keep it, the others take his colours in order."""
  if names and all(name in LUAN_COLORS for name in names):
    palette = np.array([LUAN_COLORS[name] for name in names], np.float32) * 255
  else:
    palette = np.array(list(LUAN_COLORS.values()), np.float32) * 255
    extra = np.random.default_rng(0).uniform(0, 255, (max(0, masks.shape[-1] - len(palette)), 3))
    palette = np.concatenate([palette, extra])
  return palette[np.asarray(masks).argmax(-1)]
