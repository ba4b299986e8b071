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
- `laplacian_bands` + `banded_matvec`: L's (4r+1)² diagonals, built once in
  float64, applied on the device as shifted multiply-adds (fastest for a fixed
  content image).
- `laplacian_matvec`: L·v without forming L (He, Sun, Tang 2010, "Fast matting
  using large kernel matting Laplacian matrices", eq. 9-11), jittable and
  batched over leading axes; for training, where every batch brings new images.
"""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse


def _offsets(radius):
  """Window offsets (dy, dx) in row-major order."""
  side = range(-radius, radius + 1)
  return [(dy, dx) for dy in side for dx in side]


def _windows(plane, radius):
  """The (..., H, W) plane seen from each window offset; windows indexed by their centre."""
  height, width = plane.shape[-2:]
  inner_h, inner_w = height - 2 * radius, width - 2 * radius
  if inner_h < 1 or inner_w < 1:
    raise ValueError(f"image {height}x{width} is smaller than one {2 * radius + 1}-pixel window")
  return [plane[..., radius + dy:radius + dy + inner_h, radius + dx:radius + dx + inner_w]
          for dy, dx in _offsets(radius)]


def _dot(a, b):
  return sum(x * y for x, y in zip(a, b))


def _mean(planes):
  return sum(planes) / len(planes)


def _window_factor(image_planes, eps, radius):
  """Per window: mean colour μ, deviations d[i][m] = I_m − μ (colour i, window
  pixel m) and the modified Gram–Schmidt factor Q, R of A = [D; √ε I₃], so that
  RᵀR = n (Σ + ε/n · I₃) with n = |w|. Its error grows with cond(A), not
  cond(AᵀA) as Σ's would. Works on numpy and JAX planes alike.
  """
  pixels = [_windows(p, radius) for p in image_planes]
  mu = [_mean(ps) for ps in pixels]
  deviations = [[p - m for p in ps] for ps, m in zip(pixels, mu)]
  zero = 0.0 * deviations[0][0]
  ridge = float(np.sqrt(eps))
  columns = [col + [zero + (ridge if k == i else 0.0) for k in range(3)] for i, col in enumerate(deviations)]
  q, r = [], {}
  for i in range(3):
    w = columns[i]
    for j in range(i):
      r[j, i] = _dot(q[j], w)
      w = [wk - r[j, i] * qk for wk, qk in zip(w, q[j])]
    r[i, i] = _dot(w, w) ** 0.5
    q.append([wk / r[i, i] for wk in w])
  return mu, deviations, q, r


def laplacian_bands(image, eps=1e-7, radius=1):
  """L as (4r+1)² diagonals: bands[o, y, x] = L[(y, x), (y + dy_o, x + dx_o)], float64.

  Offsets o run over (dy, dx) ∈ [−2r, 2r]² in row-major order; entries whose
  neighbour falls outside the image are zero. With z_m = R⁻ᵀ d_m (see
  `_window_factor`), d_aᵀ Δ d_b / n = z_a · z_b, so each window adds
  δ_ab − 1/n − z_a · z_b to the pair (a, b).
  """
  image = np.asarray(image, np.float64)
  height, width, _ = image.shape
  _, deviations, _, r = _window_factor([image[..., i] for i in range(3)], eps, radius)
  n = len(deviations[0])
  z = []
  for m in range(n):  # forward substitution Rᵀ z = d_m
    zm = []
    for i in range(3):
      zm.append((deviations[i][m] - sum(r[j, i] * zm[j] for j in range(i))) / r[i, i])
    z.append(zm)
  span = 2 * radius
  offsets = _offsets(radius)
  bands = np.zeros(((2 * span + 1) ** 2, height, width))
  inner_h, inner_w = height - span, width - span
  for a, (ay, ax) in enumerate(offsets):
    for b, (by, bx) in enumerate(offsets[a:], start=a):
      value = (a == b) - 1.0 / n - _dot(z[a], z[b])
      for (py, px), (qy, qx) in {((ay, ax), (by, bx)), ((by, bx), (ay, ax))}:  # L is symmetric
        band = (qy - py + span) * (2 * span + 1) + (qx - px + span)
        bands[band, radius + py:radius + py + inner_h, radius + px:radius + px + inner_w] += value
  return bands


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
  """L·v from `laplacian_bands`: v (..., H, W, C) -> (..., H, W, C), as shifted multiply-adds."""
  span = (int(round(np.sqrt(bands.shape[0]))) - 1) // 2
  height, width = v.shape[-3], v.shape[-2]
  padded = jnp.pad(v, [(0, 0)] * (v.ndim - 3) + [(span, span), (span, span), (0, 0)])
  out = []
  for c in range(v.shape[-1]):  # planar: each channel is one fused loop over the image
    plane = padded[..., c]
    out.append(sum(bands[o] * plane[..., span + dy:span + dy + height, span + dx:span + dx + width]
                   for o, (dy, dx) in enumerate(_offsets(span))))
  return jnp.stack(out, axis=-1)


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
  Deviations are taken from each window's mean (two passes) and a_k is the
  ridge least-squares solution [D; √ε I] a ≈ [t; 0] (t = v − v̄) by
  modified Gram–Schmidt (Björck), never forming Δ_k: float32 stays accurate
  on flat photo windows. All of it runs on whole (..., h, w) planes, which XLA
  fuses into few elementwise loops.
  """
  span = 2 * radius
  image_planes = [image[..., i] for i in range(image.shape[-1])]
  v_planes = [v[..., c] for c in range(v.shape[-1])]
  mu, _, q, r = _window_factor(image_planes, eps, radius)
  values = [_windows(p, radius) for p in v_planes]
  v_mean = [_mean(vs) for vs in values]
  y = []  # Qᵀ [t/√n; 0], applied column by column (modified Gram–Schmidt on the right-hand side)
  rhs = [[vk - vm for vk in vs] + [0.0] * 3 for vs, vm in zip(values, v_mean)]
  for i in range(3):
    y.append([_dot(q[i], t) for t in rhs])
    rhs = [[tk - yc * qk for tk, qk in zip(t, q[i])] for t, yc in zip(rhs, y[i])]
  a = [None] * 3
  for i in (2, 1, 0):  # back substitution R a = y
    a[i] = [(y[i][c] - sum(r[i, j] * a[j][c] for j in range(i + 1, 3))) / r[i, i] for c in range(len(v_planes))]
  b = [vm - _dot([a[i][c] for i in range(3)], mu) for c, vm in enumerate(v_mean)]

  def around(x):  # per pixel: the sum over the windows containing it (centres sit at [r, H − r))
    return _box_sum(jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(span, span), (span, span)]), radius)

  count = around(jnp.ones(mu[0].shape[-2:], image.dtype))
  out = [count * vc - around(b[c]) - _dot(image_planes, [around(a[i][c]) for i in range(3)])
         for c, vc in enumerate(v_planes)]
  return jnp.stack(out, axis=-1)


BACKENDS = ("banded", "matrix_free", "sparse")


def prepare(backend, image, eps=1e-7, radius=1):
  """Device data for `apply` from a content image (H, W, 3) in [0, 1] (built once per image)."""
  if backend == "banded":
    return jnp.asarray(laplacian_bands(image, eps, radius), jnp.float32)
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
