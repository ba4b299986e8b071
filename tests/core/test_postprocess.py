"""Post-processing: the guided filter (He et al. 2013) behind smooth_affine."""

import numpy as np

from stylejax.core import postprocess


def test_guided_filter_keeps_affine_functions_of_the_guide_and_smooths_noise(rng):
  guide = rng.uniform(0, 1, (20, 24, 3))
  affine = guide @ np.array([[0.5, 0.1, 0.0], [0.2, 0.3, 0.1], [0.0, 0.2, 0.6]]) + 0.1
  np.testing.assert_allclose(postprocess.guided_filter(guide, affine, 2, 1e-8), affine, atol=1e-4)
  flat = np.full((20, 24, 3), 0.5)
  noisy = flat + rng.normal(0, 0.1, flat.shape)
  smoothed = postprocess.guided_filter(flat + 1e-3 * guide, noisy, 2, 1e-2)
  assert np.std(smoothed - flat) < 0.3 * np.std(noisy - flat)

