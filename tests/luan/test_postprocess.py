"""Post-processing: the guided filter (He et al. 2013) behind smooth_affine and guided upsampling."""

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



def test_guided_upsampling_carries_a_coarse_recolouring_to_the_fine_content(rng):
  fine = rng.uniform(0, 255, (40, 30, 3))
  coarse = fine.reshape(20, 2, 15, 2, 3).mean(axis=(1, 3))
  recolour = lambda image: image @ np.array([[0.6, 0.1, 0.0], [0.1, 0.5, 0.2], [0.0, 0.1, 0.7]]) + 20  # noqa: E731
  upsampled = postprocess.guided_upsample(recolour(coarse), coarse, fine, radius=1, eps=1e-12)
  assert upsampled.shape == fine.shape
  np.testing.assert_allclose(upsampled, recolour(fine), atol=0.5)  # every fine detail, in the new colours
