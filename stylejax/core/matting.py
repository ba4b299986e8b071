"""Matting Laplacian of an image (Levin, Lischinski, Weiss 2008, "A closed-form
solution to natural image matting", eq. 12), three backends with one meaning.

For every (2r+1)x(2r+1) window w_k lying fully inside the image, with mean
colour μ_k and covariance Σ_k (population, over the |w| pixels):

    L_ij = Σ_{k | i,j ∈ w_k} ( δ_ij − (1 + (I_i − μ_k)ᵀ (Σ_k + ε/|w| · I₃)⁻¹ (I_j − μ_k)) / |w| )

so a pixel's diagonal counts the windows that contain it (as Levin's, Luan's
and pymatting's code). Pixels are in row-major order, i = y·W + x; `image` is
(H, W, 3) in [0, 1]. L is symmetric, L·1 = 0 and vᵀLv ≥ 0.

Backends:
- `laplacian`: the scipy.sparse CSR matrix (float64); `to_bcoo` makes it a
  jax.experimental.sparse.BCOO for the faithful sparse matvec.
- `laplacian_bands` + `banded_matvec`: L's (4r+1)² diagonals, built once
  (float64 with numpy; `device_bands`: jitted, float32, what the banded
  backend uses), applied on the device as shifted multiply-adds (fastest for
  a fixed content image).
- `laplacian_matvec`: L·v without forming L (He, Sun, Tang 2010, "Fast matting
  using large kernel matting Laplacian matrices", eq. 9-11), jittable and
  batched over leading axes; for training, where every batch brings new images.
"""

import collections
import concurrent.futures
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse


def _offsets(radius):
  """Window offsets (dy, dx) in row-major order."""
  side = range(-radius, radius + 1)
  return [(dy, dx) for dy in side for dx in side]


def _window_centres(height, width, radius):
  """How many window centres fit along each axis (windows fully inside the image)."""
  if height <= 2 * radius or width <= 2 * radius:
    raise ValueError(f"image {height}x{width} is smaller than one {2 * radius + 1}-pixel window")
  return height - 2 * radius, width - 2 * radius


def _windows(plane, radius):
  """The (..., H, W) plane seen from each window offset; windows indexed by their centre."""
  inner_h, inner_w = _window_centres(*plane.shape[-2:], radius)
  return [plane[..., radius + dy:radius + dy + inner_h, radius + dx:radius + dx + inner_w]
          for dy, dx in _offsets(radius)]


def _dot(a, b):
  return sum(x * y for x, y in zip(a, b))


def _mean(planes):
  return sum(planes) / len(planes)


def _window_basis(image_planes, eps, radius):
  """Per window: mean colour μ and Gram–Schmidt of A = [D; √ε I₃] (D: the n×3
  colour deviations I_m − μ of the n = |w| window pixels, two-pass).

  A = E U with U unit upper triangular (c01, c02, c12) and E's columns
  orthogonal, ‖E_i‖² = n_i; so AᵀA = n (Σ + ε/n · I₃) = Uᵀ diag(n_i) U and
    d_aᵀ (AᵀA)⁻¹ d_b = Σ_i E_ai E_bi / n_i,
  where E_ai (pixel a's row of E) is returned as `basis[i][a]`. The ridge rows
  of E are kept exact in the norms, and no product of two deviations is
  subtracted from another, so float32 keeps its digits on flat and on
  strongly correlated (edge) windows, where Σ's own Cholesky would not.
  Deviations are taken from the window's centre pixel first (differences of
  nearby floats are exact), then from their mean: in float32 a flat window's
  deviations keep their digits instead of losing those of the 0..1 values
  (8x less error in the banded build's entries on the bundled photos).
  Works on numpy and JAX planes alike.
  """
  pixels = [_windows(p, radius) for p in image_planes]
  centres = [ps[len(ps) // 2] for ps in pixels]
  pixels = [[p - c for p in ps] for ps, c in zip(pixels, centres)]
  shift = [_mean(ps) for ps in pixels]
  d0, d1, d2 = ([p - m for p in ps] for ps, m in zip(pixels, shift))
  n0 = _dot(d0, d0) + eps
  c01, c02 = _dot(d0, d1) / n0, _dot(d0, d2) / n0
  e1 = [y - c01 * x for x, y in zip(d0, d1)]  # ridge row: √ε (−c01, 1, 0)
  n1 = _dot(e1, e1) + eps * (c01 * c01 + 1)
  w = [y - c02 * x for x, y in zip(d0, d2)]  # ridge row: √ε (−c02, 0, 1)
  c12 = (_dot(e1, w) + eps * c01 * c02) / n1
  e2 = [y - c12 * x for x, y in zip(e1, w)]  # ridge row: √ε (c12·c01 − c02, −c12, 1)
  n2 = _dot(e2, e2) + eps * ((c12 * c01 - c02) ** 2 + c12 * c12 + 1)
  mu = [c + m for c, m in zip(centres, shift)]
  return mu, (d0, e1, e2), (n0, n1, n2), (c01, c02, c12)


def _window_contributions(image, eps, radius):
  """What the windows lying fully inside `image` add to the bands (see `laplacian_bands`): tuples
  (band, rows, columns, value), value a plane of window centres added at bands[band, rows, columns].

  With z_a = (E_ai / √n_i)_i (see `_window_basis`), d_aᵀ Δ d_b / |w| = z_a · z_b,
  so each window adds δ_ab − 1/|w| − z_a · z_b to the pair (a, b), pixel a's
  band of offset b − a (and, L being symmetric, pixel b's of offset a − b).
  Works on numpy and JAX images alike.
  """
  height, width, _ = image.shape
  _, basis, norms, _ = _window_basis([image[..., i] for i in range(3)], eps, radius)
  z = [[e[m] / n ** 0.5 for e, n in zip(basis, norms)] for m in range(len(basis[0]))]
  span = 2 * radius
  offsets = _offsets(radius)
  inner_h, inner_w = height - span, width - span
  for a, (ay, ax) in enumerate(offsets):
    for b, (by, bx) in enumerate(offsets[a:], start=a):
      value = (a == b) - 1.0 / len(z) - _dot(z[a], z[b])
      for (py, px), (qy, qx) in {((ay, ax), (by, bx)), ((by, bx), (ay, ax))}:
        band = (qy - py + span) * (2 * span + 1) + (qx - px + span)
        yield band, slice(radius + py, radius + py + inner_h), slice(radius + px, radius + px + inner_w), value


def _window_bands(image, eps, radius):
  """The bands of the windows lying fully inside `image` (numpy, float64)."""
  bands = np.zeros(((4 * radius + 1) ** 2, *image.shape[:2]))
  for band, rows, columns, value in _window_contributions(image, eps, radius):
    bands[band, rows, columns] += value
  return bands


STRIP_ROWS = 64  # window rows per build task: small enough to stay in cache, one task per core or more


def laplacian_bands(image, eps=1e-7, radius=1):
  """L as (4r+1)² diagonals: bands[o, y, x] = L[(y, x), (y + dy_o, x + dx_o)], float64.

  Offsets o run over (dy, dx) ∈ [−2r, 2r]² in row-major order; entries whose
  neighbour falls outside the image are zero. L is a sum over windows, so the
  windows are split into strips of rows built on all cores (numpy releases the
  GIL) and summed; the same matrix up to float64 rounding (about 1e-15).
  """
  image = np.asarray(image, np.float64)
  height, width, _ = image.shape
  cuts = range(0, _window_centres(height, width, radius)[0], STRIP_ROWS)
  bands = np.zeros(((4 * radius + 1) ** 2, height, width))
  with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
    parts = pool.map(lambda top: _window_bands(image[top:top + STRIP_ROWS + 2 * radius], eps, radius), cuts)
    for top, part in zip(cuts, parts):
      bands[:, top:top + part.shape[1]] += part
  return bands


@functools.partial(jax.jit, static_argnames="radius")
def device_bands(image, eps=1e-7, radius=1):
  """`laplacian_bands` jitted, in float32 on the device: the banded backend's matrix (float32 there anyway).

  All windows at once, each band a sum of shifted planes, which XLA fuses. Against the float64 build, on the
  bundled photos: entries within 1.5e-4 (the 3×3 solves of near-degenerate windows, in float32), L·v within
  5e-4 of max |L·v| (6e-5 rms) for v the photo plus noise, as in an optimisation.
  """
  height, width, _ = image.shape
  image = jnp.asarray(image, jnp.float32)
  parts = collections.defaultdict(list)
  for band, rows, columns, value in _window_contributions(image, eps, radius):
    parts[band].append(jnp.pad(value, ((rows.start, height - rows.stop), (columns.start, width - columns.stop))))
  return jnp.stack([sum(parts[band]) for band in range((4 * radius + 1) ** 2)])


def laplacian(image, eps=1e-7, radius=1):
  """The N×N matting Laplacian (N = H·W) as a scipy.sparse CSR matrix, float64."""
  height, width, _ = np.shape(image)
  bands = laplacian_bands(image, eps, radius).reshape(-1, height * width)
  n = height * width
  offsets = [dy * width + dx for dy, dx in _offsets(2 * radius)]
  data = np.zeros_like(bands)  # dia format: data[o, j] = L[j − offset_o, j]
  for o, off in enumerate(offsets):
    if off >= 0:
      data[o, off:] = bands[o, :n - off]
    else:
      data[o, :n + off] = bands[o, -off:]
  matrix = scipy.sparse.dia_matrix((data, offsets), shape=(n, n)).tocsr()
  matrix.eliminate_zeros()
  matrix.sort_indices()
  return matrix


def to_bcoo(matrix, dtype=jnp.float32):
  """A scipy sparse matrix as a jax.experimental.sparse.BCOO (for `bcoo @ v`)."""
  from jax.experimental import sparse  # imported here: only this backend needs it
  return sparse.BCOO.from_scipy_sparse(matrix.astype(dtype))


def banded_matvec(bands, v):
  """L·v from `laplacian_bands`: v (..., H, W, C) -> (..., H, W, C), as shifted multiply-adds.

  Channels last: each band is read once for all channels, in one fused loop.
  """
  span = (int(round(np.sqrt(bands.shape[0]))) - 1) // 2
  height, width = v.shape[-3], v.shape[-2]
  padded = jnp.pad(v, [(0, 0)] * (v.ndim - 3) + [(span, span), (span, span), (0, 0)])
  return sum(bands[o, :, :, None] * padded[..., span + dy:span + dy + height, span + dx:span + dx + width, :]
             for o, (dy, dx) in enumerate(_offsets(span)))


def _box_sum(x, radius):
  """Sums over every full (2r+1)² window of the last two axes: (..., H, W) -> (..., H − 2r, W − 2r)."""
  for axis in (-2, -1):
    n = x.shape[axis] - 2 * radius
    x = sum(jax.lax.slice_in_dim(x, d, d + n, axis=axis) for d in range(2 * radius + 1))
  return x


def laplacian_matvec(image, v, eps=1e-7, radius=1):
  """L·v without forming L (He, Sun, Tang 2010); image (..., H, W, 3), v (..., H, W, C).

  Per window k: v̄_k = mean v, a_k = Δ_k · mean_j (I_j − μ_k) v_j with
  Δ_k = (Σ_k + ε/|w| I)⁻¹, b_k = v̄_k − a_kᵀ μ_k; then
  (L v)_i = n_i v_i − Σ_{k∋i} b_k − I_iᵀ Σ_{k∋i} a_k, n_i = #windows containing i.
  a_k is the ridge least-squares solution [D; √ε I] a ≈ [t; 0] (t = v − v̄),
  solved in the orthogonal basis of `_window_basis`: y_i = E_i·t / n_i, a = U⁻¹y.
  Deviations are taken from each window's mean (two passes), so float32 stays
  accurate on photos. All of it runs on whole (..., h, w) planes, which XLA
  fuses into few elementwise loops.
  """
  span = 2 * radius
  image_planes = [image[..., i] for i in range(image.shape[-1])]
  v_planes = [v[..., c] for c in range(v.shape[-1])]
  mu, basis, norms, (c01, c02, c12) = _window_basis(image_planes, eps, radius)
  a = []
  for values in (_windows(p, radius) for p in v_planes):
    v_mean = _mean(values)
    t = [x - v_mean for x in values]
    y0, y1, y2 = (_dot(e, t) / n for e, n in zip(basis, norms))
    a1 = y1 - c12 * y2  # back substitution U a = y
    a.append((v_mean, (y0 - c01 * a1 - c02 * y2, a1, y2)))

  def around(x):  # per pixel: the sum over the windows containing it (centres sit at [r, H − r))
    return _box_sum(jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(span, span), (span, span)]), radius)

  count = around(jnp.ones(mu[0].shape[-2:], image.dtype))
  out = [count * vc - around(v_mean - _dot(ac, mu)) - _dot(image_planes, [around(x) for x in ac])
         for vc, (v_mean, ac) in zip(v_planes, a)]
  return jnp.stack(out, axis=-1)


BACKENDS = ("banded", "matrix_free", "sparse")


def prepare(backend, image, eps=1e-7, radius=1):
  """Device data for `apply` from a content image (H, W, 3) in [0, 1] (built once per image)."""
  if backend == "banded":
    return device_bands(image, eps, radius)
  if backend == "matrix_free":
    return jnp.asarray(image, jnp.float32)
  if backend == "sparse":
    return to_bcoo(laplacian(image, eps, radius))
  raise ValueError(f"unknown Laplacian backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def apply(backend, data, v, eps=1e-7, radius=1):
  """L·v for v (..., H, W, C) with `data` from `prepare`; jittable, differentiable."""
  if backend == "banded":
    return banded_matvec(data, v)
  if backend == "matrix_free":
    return laplacian_matvec(data, v, eps, radius)
  flat = jnp.moveaxis(v.reshape(-1, v.shape[-3] * v.shape[-2], v.shape[-1]), 0, 1)  # (N, batch, C)
  out = (data @ flat.reshape(flat.shape[0], -1)).reshape(flat.shape)
  return jnp.moveaxis(out, 1, 0).reshape(v.shape)
