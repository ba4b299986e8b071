"""Refinement: slow Luan's objective minimised over a universal network's bilateral grid for one photo.

The network predicts, in one pass, a grid G of local affine colour transforms
of the photo (stylejax.core.networks.universal), sliced at a guide g of the
colour-transferred photo p: O(G) = sliced(g, p, G). `refine` starts from the
predicted grid, resampled to `detail` times as many cells along each axis
(stylejax.core.bilateral.resampled: the same transforms, finer cells, so a
pixel's transform depends less on neighbours of other colours a few pixels
away), and takes Adam steps on

    min_G  Σ_t w_t · t(O(G)) + λ_s · S(G)

for an Objective's terms t (the API passes configs/luan.py's: Luan et al.
2017's content, masked Gram style, matting-Laplacian and TV terms) and the
grid's smoothness S (stylejax.core.bilateral.smoothness: the mean squared
difference of neighbouring cells' transforms, the prior the network is trained
with; Xia et al. 2020), with the photo and the style at long side `side` (or
the photo's own, if smaller); the refined grid is then sliced at the full-size
photo's guide. Whatever the grid's size, the result stays a local affine
recolouring of the photo by construction (each pixel's own colour through a
transform interpolated from the grid), and the optimisation starts from the
network's answer: tens of steps instead of slow Luan's thousand, at the
refinement's size whatever the photo's.
"""

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.core import bilateral, masks as masks_lib
from stylejax.io import images, runlog
from stylejax.methods import pixels

SIDE = 384  # the long side the grid is optimised at (the size slow Luan's preset and the evaluation use)
LEARNING_RATE = 0.01  # Adam on the grid's coefficients
DETAIL = 4  # the refined grid's cells per predicted cell along each axis (64·64·32 at 384 px for :cpu's 16·16·8)
SMOOTHNESS = 1e10  # λ_s (DETAIL, SMOOTHNESS and the learning rate chosen on the tuning pairs: docs/fast_photo.md)
CHUNK = 2  # steps per jitted call: unrolling more was slower (10 steps: 23.6 s in chunks of 10, 15.2 s of 2)


def _at_side(image, side):
  """An (H, W, 3) float image at long side `side` (Lanczos, in float)."""
  height, width = images.fit_long_side(*image.shape[:2], side)
  return image if (height, width) == image.shape[:2] else images.resize(np.asarray(image, np.float32), height, width)


def _smoothness(weight, grid):
  """λ_s · S(grid): the refinement's prior on the grid."""
  return weight * bilateral.smoothness(grid)


def refine(net, params, content, style, masks, objective, vgg, steps, strength=1.0, side=SIDE,
           learning_rate=LEARNING_RATE, smoothness=SMOOTHNESS, detail=DETAIL):
  """`net` (a kind that `refines`) on one photo with its grid optimised for `steps` Adam steps.

  content, style: (H, W, 3) in 0..255; masks: (the content's (H, W, K), the style's (h, w, K)) region masks, for
  the network's region transfer and the objective's masked style term, or None (the global transfer; one region
  for the objective). Returns the (H, W, 3) result in 0..255 at the content's size.
  """
  side = min(side, max(content.shape[:2]))
  small, small_style = _at_side(content, side), _at_side(style, side)
  regions = masks or (np.ones((*content.shape[:2], 1), np.float32), np.ones((*style.shape[:2], 1), np.float32))
  small_masks = [masks_lib.resize(m, *image.shape[:2]) for m, image in zip(regions, (small, small_style))]
  grams = objective.blended_style_grams(vgg, [small_style], None, [small_masks[1]])
  targets = objective.targets(vgg, jnp.asarray(small)[None], grams, small_masks[0])
  full = (jnp.asarray(content)[None], jnp.asarray(style)[None], masks and tuple(jnp.asarray(m)[None] for m in masks))
  seen = (jnp.asarray(small)[None], jnp.asarray(small_style)[None],
          masks and tuple(jnp.asarray(m)[None] for m in small_masks))
  _, guide, photo = net.predict_grid(params, *seen)  # what the grid is sliced at, at the refinement's size
  start = net.predict_grid(params, *full)[0]
  start = bilateral.resampled(start, *(cells * detail for cells in start.shape[1:4]))  # `detail` times finer
  with runlog.progress(steps, "refine") as bar:
    grid = pixels.optimize(start, vgg, targets, objective, optimizer_name="adam", learning_rate=learning_rate,
                           steps=steps, chunk=CHUNK, progress=bar,
                           render=jax.tree_util.Partial(net.sliced, guide, photo),
                           prior=jax.tree_util.Partial(_smoothness, jnp.float32(smoothness)))[0]
  return np.asarray(net.apply(params, *full[:2], strength, full[2], grid=grid))[0]
