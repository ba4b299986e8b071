"""Post-processing of optimised images."""

import numpy as np
import scipy.ndimage


def guided_filter(guide, source, radius=2, eps=1e-4):
  """Colour guided filter (He, Sun, Tang 2010, "Guided image filtering", eqs. 19-21).

  In every (2r+1)² window the output is an affine function of the guide,
  q = a_kᵀ I + b_k with a_k = (Σ_k + ε U)⁻¹ cov_k(I, p), b_k = p̄_k − a_kᵀ μ_k,
  and the coefficients are averaged over the windows covering each pixel.
  guide (H, W, 3), source (H, W, C), both in [0, 1]; returns (H, W, C).
  """
  guide, source = np.asarray(guide, np.float64), np.asarray(source, np.float64)
  box = lambda x: scipy.ndimage.uniform_filter(x, (2 * radius + 1, 2 * radius + 1) + (1,) * (x.ndim - 2),  # noqa: E731
                                               mode="reflect")
  mu, p_mean = box(guide), box(source)
  sigma = box(guide[..., :, None] * guide[..., None, :]) - mu[..., :, None] * mu[..., None, :]
  cov = box(guide[..., :, None] * source[..., None, :]) - mu[..., :, None] * p_mean[..., None, :]
  a = np.linalg.solve(sigma + eps * np.eye(3), cov)  # (H, W, 3, C)
  b = p_mean - np.einsum("hwic,hwi->hwc", a, mu)
  return np.einsum("hwi,hwic->hwc", guide, box(a)) + box(b)


def smooth_affine(output, content, radius=2, eps=1e-4):
  """Luan et al.'s final step: refit the output as a locally affine function of
  the content (here by the guided filter), both (H, W, 3) in 0..255."""
  return np.clip(guided_filter(content / 255.0, output / 255.0, radius, eps) * 255.0, 0, 255)
