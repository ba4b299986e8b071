"""Exact tiled inference of a Johnson network (stylejax.core.networks.johnson, any kind with `tiles`) for images
too large for the device.

The image is cut into a grid of cores whose sides are multiples of 4 px (so
the network's two stride-2 stages see the whole image's pixel grid); each core
is processed inside a tile with a margin of context at least the network's
receptive radius, and keeps only its core. Convolutions are local, so this
alone would be exact, but instance normalisation is not: each tile would use
its own mean and variance and get its own colours (visible seams). Instead,
the whole-image statistics of the L normalisation layers are gathered from the
tiles' cores one layer at a time: pass j fixes layers < j to their whole-image
statistics, so layer j's inputs inside every core equal the untiled network's,
and its core means and variances are merged (Chan et al.'s parallel variance).
A last pass stylises every tile with all statistics fixed. The result equals
the untiled network's up to float rounding (tested) for (L + 1) passes of
compute and one tile of memory.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from stylejax.core import networks, xla

ALIGN = 4  # two stride-2 stages


def margin(net):
  """Context around each core: the receptive radius (9×9 convs 4 + 4, strided and
  upsampling stages 1 + 2 + 4 + 2, two 3×3 convs per residual block at ¼ scale),
  plus one aligned step of slack, rounded up to a multiple of 4."""
  radius = 17 + 8 * net.residual_blocks + ALIGN
  return -(-radius // ALIGN) * ALIGN


def cores(length, core):
  """[(start, end), ...] covering 0..length in steps of `core` (a multiple of 4)."""
  starts = list(range(0, length, core))
  return list(zip(starts, starts[1:] + [length]))


def _box_mask(shape, box, factor):
  """(h, w) mask of the core box (y0, y1, x0, x1), given in tile pixels, at a layer of 1/factor scale."""
  rows, cols = jnp.arange(shape[0]), jnp.arange(shape[1])
  y0, y1, x0, x1 = box[0] // factor, -(-box[1] // factor), box[2] // factor, -(-box[3] // factor)
  return (((rows >= y0) & (rows < y1))[:, None] & ((cols >= x0) & (cols < x1))[None, :]).astype(jnp.float32)


@functools.partial(xla.jit, static_argnames="net")
def _tile_pass(net, params, stats, tile, box):
  """Stylised tile and, per norm layer, (count, mean, M2) of its input over the core box."""
  out, state = net.module().apply({"params": params, "norm_stats": stats}, tile, mutable=["intermediates"])
  moments = {}
  for key, (x,) in traverse_util.flatten_dict(state["intermediates"]).items():
    x = x[0].astype(jnp.float32)
    factor = next(f for f in (1, 2, ALIGN) if -(-tile.shape[1] // f) == x.shape[0])
    mask = _box_mask(x.shape[:2], box, factor)[..., None]
    count = mask.sum()
    mean = (x * mask).sum((0, 1)) / count
    moments[key[:-1]] = (count, mean, (jnp.square(x - mean) * mask).sum((0, 1)))
  return out[0], moments


def _merge(a, b):
  """Chan, Golub, LeVeque's pairwise update of (count, mean, M2), in float64."""
  (na, ma, sa), (nb, mb, sb) = a, b
  n = na + nb
  delta = mb - ma
  return n, ma + delta * nb / n, sa + sb + delta**2 * na * nb / n


def stylize_tiled(net, params, image, core=1024, strength=1.0):
  """The network's output for one (H, W, 3) image (0..255), computed tile by tile, blended with the
  image by `strength` as `networks.stylize` does.

  `core` (a multiple of 4) is the side of the part of each tile that is kept;
  tiles add `margin(net)` pixels of context on each side.
  """
  if core % ALIGN:
    raise ValueError(f"core must be a multiple of {ALIGN}, got {core}")
  height, width = image.shape[:2]
  pad = margin(net)
  tiles = []
  for y0, y1 in cores(height, core):
    for x0, x1 in cores(width, core):
      ty0, tx0 = max(0, y0 - pad), max(0, x0 - pad)
      ty1, tx1 = min(height, y1 + pad), min(width, x1 + pad)
      box = np.array([y0 - ty0, y1 - ty0, x0 - tx0, x1 - tx0], np.int32)
      tiles.append(((ty0, ty1, tx0, tx1), box))

  def run(stats):
    stats = traverse_util.unflatten_dict({layer + (k,): v for layer, d in stats.items() for k, v in d.items()})
    for (ty0, ty1, tx0, tx1), box in tiles:
      tile = jnp.asarray(image[ty0:ty1, tx0:tx1], jnp.float32)[None]
      yield (ty0, tx0), box, _tile_pass(net, params, stats, tile, box)

  shapes = jax.eval_shape(lambda x: net.module().apply({"params": params}, x, mutable=["intermediates"])[1],
                          jax.ShapeDtypeStruct((1, 8, 8, 3), jnp.float32))
  channels = {key[:-1]: shape.shape[-1] for key, (shape,) in traverse_util.flatten_dict(shapes["intermediates"]).items()}
  layers = list(channels)  # in call order
  stats = {layer: {"mean": np.zeros((1, 1, 1, channels[layer]), np.float32),
                   "var": np.ones((1, 1, 1, channels[layer]), np.float32), "use": np.bool_(False)}
           for layer in layers}
  for layer in layers:
    total = (0.0, np.zeros(channels[layer]), np.zeros(channels[layer]))
    for _, _, (_, moments) in run(stats):
      total = _merge(total, tuple(np.asarray(m, np.float64) for m in moments[layer]))
    count, mean, m2 = total
    stats[layer] = {"mean": mean.reshape(1, 1, 1, -1).astype(np.float32),
                    "var": (m2 / count).reshape(1, 1, 1, -1).astype(np.float32), "use": np.bool_(True)}

  result = np.empty((height, width, 3), np.float32)
  for (ty0, tx0), box, (out, _) in run(stats):
    y0, y1, x0, x1 = box
    result[ty0 + y0:ty0 + y1, tx0 + x0:tx0 + x1] = np.asarray(out)[y0:y1, x0:x1]
  return networks.blend(result, image, strength)
