"""Photorealism metrics of an output against its content photo (numpy, float64)."""

import numpy as np
import scipy.ndimage

from stylejax.core import matting


def affine_energy(output, content, eps=1e-7, radius=1):
  """Σ_c V_c[O]ᵀ L_C V_c[O] / N: how far the output is from a locally affine
  colour transform of the content (Luan et al. 2017, eq. 3), pixels in [0, 1].

  output, content: (H, W, 3) 0..255 of the same size; N = H·W.
  """
  lap = matting.laplacian(np.asarray(content, np.float64) / 255.0, eps, radius)
  v = np.asarray(output, np.float64).reshape(-1, 3) / 255.0
  return float(np.sum(v * (lap @ v)) / v.shape[0])


def _gradient_magnitude(image):
  gray = np.asarray(image, np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
  return np.hypot(scipy.ndimage.sobel(gray, 0), scipy.ndimage.sobel(gray, 1))


def gradient_ssim(output, content, sigma=1.5):
  """Mean SSIM (Wang et al. 2004, Gaussian window σ = 1.5) between the gradient
  magnitude images of content and output: 1 when edges stay where they were."""
  x, y = _gradient_magnitude(content), _gradient_magnitude(output)
  blur = lambda a: scipy.ndimage.gaussian_filter(a, sigma)  # noqa: E731
  mx, my = blur(x), blur(y)
  vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
  peak = max(x.max(), y.max(), 1e-12)
  c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
  ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
  return float(ssim.mean())
