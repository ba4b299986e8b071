"""Post-processing of optimised images: local affine fits to the content (guided filter)."""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage


def affine_coefficients(guide, source, radius=2, eps=1e-4):
  """The guided filter's local affine model of `source` by `guide` (He, Sun, Tang 2013, "Guided image
  filtering", eqs. 19-21): in every (2r+1)² window k, p ≈ a_kᵀ I + b_k with
  a_k = (Σ_k + ε U)⁻¹ cov_k(I, p), b_k = p̄_k − a_kᵀ μ_k; returns the window
  averages (ā (H, W, 3, C), b̄ (H, W, C)) for guide (H, W, 3), source (H, W, C).
  """
  guide, source = np.asarray(guide, np.float64), np.asarray(source, np.float64)
  box = lambda x: scipy.ndimage.uniform_filter(x, (2 * radius + 1, 2 * radius + 1) + (1,) * (x.ndim - 2),  # noqa: E731
                                               mode="reflect")
  mu, p_mean = box(guide), box(source)
  sigma = box(guide[..., :, None] * guide[..., None, :]) - mu[..., :, None] * mu[..., None, :]
  cov = box(guide[..., :, None] * source[..., None, :]) - mu[..., :, None] * p_mean[..., None, :]
  a = np.linalg.solve(sigma + eps * np.eye(3), cov)
  b = p_mean - np.einsum("hwic,hwi->hwc", a, mu)
  return box(a), box(b)


def apply_affine(guide, a, b):
  """q = āᵀ I + b̄ per pixel: guide (H, W, 3), a (H, W, 3, C), b (H, W, C)."""
  return np.einsum("hwi,hwic->hwc", guide, a) + b


def guided_filter(guide, source, radius=2, eps=1e-4):
  """Colour guided filter of `source` by `guide`, both (H, W, ·) in [0, 1]; returns (H, W, C)."""
  return apply_affine(guide, *affine_coefficients(guide, source, radius, eps))


def smooth_affine(output, content, radius=2, eps=1e-4):
  """Luan et al.'s final step: refit the output as a locally affine function of
  the content (here by the guided filter), both (H, W, 3) in 0..255."""
  return np.clip(guided_filter(content / 255.0, output / 255.0, radius, eps) * 255.0, 0, 255)


def guided_upsample(output, content, fine_content, radius=1, eps=1e-4):
  """`output` (h, w, 3), a recolouring of `content` (h, w, 3), carried to `fine_content` (H, W, 3) (all
  0..255): the local affine coefficients of output by content (`affine_coefficients`) are resized
  (bilinear) to (H, W) and applied to the fine content's own pixels, so the fine image keeps
  every detail of the fine content and takes the coarse colours (the guided-upsampling idea of
  Kopf et al. 2007, "Joint bilateral upsampling", and Chen et al. 2016, "Bilateral guided upsampling").
  """
  a, b = affine_coefficients(content / 255.0, output / 255.0, radius, eps)
  height, width = fine_content.shape[:2]
  resize = lambda x: np.asarray(jax.image.resize(jnp.asarray(x, jnp.float32), (height, width, *x.shape[2:]),  # noqa: E731
                                                 "linear"))
  return np.clip(apply_affine(fine_content / 255.0, resize(a), resize(b)) * 255.0, 0, 255)
