"""Luan's masked style loss against plain-numpy formulas: one Gram per mask channel, weighted by its content area."""

import jax.numpy as jnp
import numpy as np

from stylejax.core import losses


def test_masked_style_with_one_all_ones_channel_is_the_plain_style_loss(rng):
  o, s = jnp.asarray(rng.normal(size=(1, 6, 5, 4))), jnp.asarray(rng.normal(size=(1, 7, 7, 4)))
  ones_o, ones_s = jnp.ones((1, 6, 5, 1)), jnp.ones((1, 7, 7, 1))
  masked = losses.masked_style_layer_loss(losses.masked_gram_matrices(o, ones_o),
                                          losses.masked_gram_matrices(s, ones_s), ones_o)
  plain = losses.style_layer_loss(losses.gram_matrix(o), losses.gram_matrix(s))
  np.testing.assert_allclose(masked, plain, rtol=1e-5)


def test_masked_gram_matches_numpy_and_channels_are_weighted_by_content_area(rng):
  f = rng.normal(size=(1, 4, 6, 3))
  masks = np.zeros((1, 4, 6, 2))
  masks[0, :, :2, 0] = 1  # a third of the image
  masks[0, :, 2:, 1] = 1
  grams = np.asarray(losses.masked_gram_matrices(jnp.asarray(f), jnp.asarray(masks)))
  left = f[0, :, :2].reshape(-1, 3)
  np.testing.assert_allclose(grams[0, 0], left.T @ left / 8, rtol=1e-5)
  target = np.zeros_like(grams)
  loss = losses.masked_style_layer_loss(jnp.asarray(grams), jnp.asarray(target), jnp.asarray(masks), "sum")
  expected = sum(w * np.sum(grams[0, k] ** 2) / (4 * 9) for k, w in enumerate([1 / 3, 2 / 3]))
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
