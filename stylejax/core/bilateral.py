"""Bilateral grids of affine colour transforms (Chen, Paris, Durand 2007, "Real-time edge-aware image
processing with the bilateral grid"; Gharbi et al. 2017, "Deep bilateral learning for real-time
image enhancement", §3.3-3.4).

A grid (B, gh, gw, gd, 3, 4) holds one 3×4 affine colour transform per cell:
gh × gw cells over the image plane, gd cells over the guide's range [0, 1].
A full-resolution guide g (B, H, W) in [0, 1] picks each pixel's cell; the
grid is *sliced* there with trilinear interpolation,

    A(x, y) = Σ_ijk τ(s_y·(y + ½) − ½ − i) τ(s_x·(x + ½) − ½ − j) τ(d·g(x, y) − ½ − k) Γ_ijk,
    τ(t) = max(1 − |t|, 0),  s_y = gh / H,  s_x = gw / W,

with coordinates clamped to the grid (cell centres sit at pixel centres; the
`order=1, mode="nearest"` interpolation of scipy's map_coordinates), and the
output is O = A [I; 1] per pixel, on the pixel's own full-resolution colour I.

`apply` slices and applies in blocks of rows (`block_pixels` pixels each, a
`lax.fori_loop`), gathering each pixel's four (x, depth) corners from the
grid's rows interpolated to the block's rows, so the 12 coefficients per pixel
exist for one block at a time: a 4K image needs its input, guide and output and
a few MB more. Gradients are plain autodiff: as the grid's rows are
interpolated first, its scatter-add goes into per-row grids, not into the few
cells of the grid itself; a custom VJP that splats the pixels into the grid as
two matrix products measured 1.75× slower on the CPU (docs/fast_photo.md,
Slicing).
"""

import jax
import jax.numpy as jnp


def _clamped(coordinate, size):
  """(lower index, upper index, weight of the upper) of a coordinate clamped to [0, size − 1]."""
  coordinate = jnp.clip(coordinate, 0.0, size - 1.0)
  lower = jnp.clip(jnp.floor(coordinate), 0, size - 2)
  return lower.astype(jnp.int32), (lower + 1).astype(jnp.int32), coordinate - lower


def _pixel_coordinates(pixels, cells):
  """Grid coordinates of the centres of `pixels` pixels on an axis of `cells` cells."""
  return (jnp.arange(pixels, dtype=jnp.float32) + 0.5) * (cells / pixels) - 0.5


BLOCK_PIXELS = 2**16  # pixels sliced at once by `apply`: about 3 MB of coefficients


def _slice_rows(grid, guide, first_row, height):
  """Trilinear slice of `grid` (B, gh, gw, gd, K) at the pixels of `guide` (B, R, W): rows
  first_row .. first_row + R − 1 of an image of `height` rows; returns (B, R, W, K)."""
  batch, cells_y, cells_x, depth, _ = grid.shape
  block_rows, width = guide.shape[1:]
  y = first_row + jnp.arange(block_rows, dtype=jnp.float32)
  y0, y1, ty = _clamped((y + 0.5) * (cells_y / height) - 0.5, cells_y)
  rows = grid[:, y0] + ty[:, None, None, None] * (grid[:, y1] - grid[:, y0])  # (B, R, gw, gd, K): small
  x0, x1, tx = _clamped(_pixel_coordinates(width, cells_x), cells_x)
  z0, z1, tz = _clamped(guide * depth - 0.5, depth)
  b = jnp.arange(batch)[:, None, None]
  r = jnp.arange(block_rows)[None, :, None]
  at = lambda x, z: rows[b, r, x[None, None, :], z]  # noqa: E731  (B, R, W, K)
  tx, tz = tx[:, None], tz[..., None]
  near, far = at(x0, z0) + tz * (at(x0, z1) - at(x0, z0)), at(x1, z0) + tz * (at(x1, z1) - at(x1, z0))
  return near + tx * (far - near)


def slice_coefficients(grid, guide):
  """Trilinear slice of `grid` (B, gh, gw, gd, K) at every pixel of `guide` (B, H, W): (B, H, W, K)."""
  return _slice_rows(grid, guide, 0, guide.shape[1])


def _apply_rows(grid, guide, image, first_row, height):
  coefficients = _slice_rows(grid.reshape(*grid.shape[:4], 12), guide, first_row, height)
  matrix = coefficients.reshape(*coefficients.shape[:3], 3, 4)
  return jnp.einsum("bhwij,bhwj->bhwi", matrix[..., :3], image) + matrix[..., 3]


def apply(grid, guide, image, block_pixels=BLOCK_PIXELS):
  """O = A [I; 1]: each pixel of `image` (B, H, W, 3) through its affine transform A sliced from
  `grid` (B, gh, gw, gd, 3, 4) (at least 2 cells per axis) at `guide` (B, H, W) in [0, 1];
  returns (B, H, W, 3). Rows are processed in blocks of about `block_pixels` pixels (the last
  block ends at the last row, overlapping the one before)."""
  height, width = guide.shape[1:]
  block_rows = min(height, max(1, block_pixels // width))
  if block_rows == height:
    return _apply_rows(grid, guide, image, 0, height)

  def block(index, out):
    first = jnp.minimum(index * block_rows, height - block_rows)
    rows = lambda x: jax.lax.dynamic_slice_in_dim(x, first, block_rows, axis=1)  # noqa: E731
    return jax.lax.dynamic_update_slice_in_dim(out, _apply_rows(grid, rows(guide), rows(image), first, height),
                                               first, axis=1)

  return jax.lax.fori_loop(0, -(-height // block_rows), block, jnp.zeros_like(image))


def _resampled(grid, axis, cells):
  """`grid` linearly resampled to `cells` cells along `axis`, at the new cells' centres (clamped as in slicing)."""
  lower, upper, t = _clamped(_pixel_coordinates(cells, grid.shape[axis]), grid.shape[axis])
  t = t.reshape((-1,) + (1,) * (grid.ndim - axis - 1))
  below, above = jnp.take(grid, lower, axis=axis), jnp.take(grid, upper, axis=axis)
  return below + t * (above - below)


def resampled(grid, cells_y, cells_x, depth):
  """`grid` (B, gh, gw, gd, 3, 4) at (B, cells_y, cells_x, depth, 3, 4): trilinear, each new cell holding the
  transform the old grid slices at its centre (a finer grid to refine: stylejax.methods.refine)."""
  for axis, cells in zip((1, 2, 3), (cells_y, cells_x, depth)):
    grid = _resampled(grid, axis, cells)
  return grid


def identity_grid(batch, cells_y, cells_x, depth):
  """A grid whose every cell is the identity transform [I₃ | 0]: slicing it returns the image."""
  identity = jnp.eye(3, 4, dtype=jnp.float32)
  return jnp.broadcast_to(identity, (batch, cells_y, cells_x, depth, 3, 4))


def smoothness(grid):
  """Σ over the grid's three axes of the mean squared difference between neighbouring cells'
  transforms (a total-variation prior on the grid; Gharbi et al. 2017 regularise the grid's
  weights instead, Xia et al. 2020 penalise its neighbour differences as here)."""
  return sum(jnp.mean(jnp.square(jnp.diff(grid, axis=axis))) for axis in (1, 2, 3))
