"""Semantic masks for masked style transfer (Luan et al. 2017): one channel per region.

Sources:
- `color_masks`: Luan's colour-coded PNGs (9 colours, tolerance 0.1 per
  channel on a 0..1 scale); a colour present in only one image is dropped.
- `label_masks`: integer label maps (e.g. ADE20K's 150 classes, from any
  segmenter) grouped into channels by a table (`assets/ade20k_groups.tsv`:
  the thesis's K = 10 groups).
- `auto_masks`: no segmentation network is available offline, so regions are
  found by k-means on the deep VGG features of content and style together
  (so matching regions share a channel), spatially smoothed; `batch_regions`
  is its traceable batch form, for training.
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


REGION_LAYERS = ("relu4_1", "relu5_1")  # the features automatic regions are found in


def region_features(vgg, images, layers=REGION_LAYERS):
  """(B, h, w, D): the points automatic regions cluster, for images (B, H, W, 3) 0..255: each layer's VGG
  features upsampled (linear) to the first layer's grid and L2-normalised at every position, concatenated."""
  feats = vgg.features(jnp.asarray(images), layers)
  batch, height, width, _ = feats[layers[0]].shape
  parts = [jax.image.resize(f, (batch, height, width, f.shape[-1]), "linear") for f in feats.values()]
  return jnp.concatenate([p / (jnp.linalg.norm(p, axis=-1, keepdims=True) + 1e-6) for p in parts], -1)


def shared_labels(points, labels, centres, split):
  """k-means labels (P,) of points (P, D), the first `split` the content's and the rest the style's, with a
  region only one image has merged into the nearest region both have (its points would get no style of their
  own); all 0 (one region) when no region is shared. Traceable."""
  k = centres.shape[0]
  counts = jax.nn.one_hot(labels, k)
  shared = (counts[:split].sum(0) > 0) & (counts[split:].sum(0) > 0)
  distance = jnp.sum((points[:, None] - centres[None]) ** 2, -1)
  nearest = jnp.argmin(jnp.where(shared, distance, jnp.inf), -1)
  return jnp.where(shared.any(), jnp.where(shared[labels], labels, nearest), 0)


def auto_masks(vgg, content, style, k=3, layers=REGION_LAYERS, smooth_px=2.0, seed=0):
  """Regions from k-means on L2-normalised deep VGG features of both images jointly (`region_features`).

  content, style: (H, W, 3) 0..255. Labels (`kmeans`, then `shared_labels`) are
  upsampled to the image, smoothed (Gaussian on the one-hot maps, `smooth_px`
  pixels) and re-binarised. Returns (content_masks, style_masks, names) like
  `color_masks`: one channel per shared region.
  """
  grids = [np.asarray(region_features(vgg, image[None], layers)[0]) for image in (content, style)]
  points = np.concatenate([g.reshape(-1, g.shape[-1]) for g in grids])
  split = grids[0].shape[0] * grids[0].shape[1]
  labels, centres = kmeans(points, k, seed)
  labels = np.asarray(shared_labels(points, labels, centres, split))
  shared = sorted(set(labels))
  labels, k = np.searchsorted(shared, labels), len(shared)
  masks = []
  for grid, lab, image in zip(grids, (labels[:split], labels[split:]), (content, style)):
    one_hot = np.eye(k, dtype=np.float32)[lab.reshape(grid.shape[:2])]
    up = np.asarray(jax.image.resize(one_hot, (*image.shape[:2], k), "linear"))
    up = scipy.ndimage.gaussian_filter(up, (smooth_px, smooth_px, 0))
    masks.append(np.eye(k, dtype=np.float32)[up.argmax(-1)])
  return masks[0], masks[1], [f"region{c}" for c in shared]


def batch_regions(vgg, contents, styles, k, key, iterations=10):
  """Soft masks (the contents' (B, H, W, k), the styles' (B, h, w, k)) of up to k regions that each content
  (B, H, W, 3) and its style (B, h, w, 3), 0..255, share: per example, k-means (k-means++ seeding drawn by
  `key`, then `iterations` Lloyd steps) of both images' `region_features` jointly, `shared_labels`, and the
  one-hot labels upsampled (linear) to the images. A region no pixel has is an empty channel. Traceable, for
  the training step (auto_masks is its one-image, smoothed and re-binarised form)."""
  content_grid, style_grid = region_features(vgg, contents), region_features(vgg, styles)
  split = content_grid.shape[1] * content_grid.shape[2]

  def labels(content_points, style_points, key):
    points = jnp.concatenate([content_points.reshape(split, -1), style_points.reshape(-1, style_points.shape[-1])])
    return shared_labels(points, *_lloyd(points, _kmeans_plus_plus(points, k, key), iterations=iterations), split)

  one_hot = jax.nn.one_hot(jax.vmap(labels)(content_grid, style_grid, jax.random.split(key, len(contents))), k)
  masks = []
  for grid, size, part in ((content_grid, contents.shape[1:3], one_hot[:, :split]),
                           (style_grid, styles.shape[1:3], one_hot[:, split:])):
    masks.append(jax.image.resize(part.reshape(*grid.shape[:3], k), (grid.shape[0], *size, k), "linear"))
  return tuple(masks)


def _kmeans_plus_plus(points, k, key):
  """k-means++ seeding (Arthur & Vassilvitskii 2007) of points (P, D): the first centre uniform, each next one
  drawn with probability ∝ its squared distance to the nearest chosen centre; (k, D). Traceable."""
  def distances(centre):
    return jnp.sum((points - centre) ** 2, -1)

  def pick(i, carry):
    centres, nearest = carry
    centre = points[jax.random.categorical(jax.random.fold_in(key, i), jnp.log(nearest + 1e-12))]
    return centres.at[i].set(centre), jnp.minimum(nearest, distances(centre))

  first = points[jax.random.randint(key, (), 0, points.shape[0])]
  centres = jnp.zeros((k, points.shape[-1]), points.dtype).at[0].set(first)
  return jax.lax.fori_loop(1, k, pick, (centres, distances(first)))[0]


def resize(masks, height, width):
  """(H, W, K) region masks resized (linear) to (height, width, K)."""
  return np.asarray(jax.image.resize(jnp.asarray(masks), (height, width, masks.shape[-1]), "linear"))


def layer_masks(masks, shapes):
  """{layer: (1, h, w, K)} of masks (H, W, K), or {layer: (B, h, w, K)} of a batch's (B, H, W, K), averaged
  down to each layer's (h, w); one jitted program per shape."""
  masks = jnp.asarray(masks)
  return _layer_masks(masks if masks.ndim == 4 else masks[None],
                      tuple((layer, tuple(size)) for layer, size in shapes.items()))


@functools.partial(jax.jit, static_argnames="shapes")
def _layer_masks(masks, shapes):
  return {layer: jax.image.resize(masks, (masks.shape[0], h, w, masks.shape[-1]), "linear", antialias=True)
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
