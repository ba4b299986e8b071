"""Losses against plain-numpy formulas (Gatys et al. 2016 eqs. 1, 4, 5; Johnson et al. 2016 §3.3)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.core import losses


def np_gram(f):  # (H, W, N) -> raw Gram G = Fᵀ F over the M = H·W positions
  flat = f.reshape(-1, f.shape[-1]).astype(np.float64)
  return flat.T @ flat


def test_content_loss_matches_numpy(rng):
  f, p = rng.normal(size=(2, 5, 6, 7)), rng.normal(size=(2, 5, 6, 7))
  sums = np.mean([0.5 * np.sum((f[b] - p[b]) ** 2) for b in range(2)])
  means = np.mean([np.sum((f[b] - p[b]) ** 2) / f[b].size for b in range(2)])
  np.testing.assert_allclose(losses.content_loss(jnp.asarray(f), jnp.asarray(p), "sum"), sums, rtol=1e-5)
  np.testing.assert_allclose(losses.content_loss(jnp.asarray(f), jnp.asarray(p), "mean"), means, rtol=1e-5)


def test_gram_matrix_is_position_averaged(rng):
  f = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
  expected = np.stack([np_gram(f[b]) / 20 for b in range(3)])
  np.testing.assert_allclose(losses.gram_matrix(jnp.asarray(f)), expected, rtol=1e-5, atol=1e-6)


def test_gram_gradient_is_twice_f_times_the_symmetrised_cotangent(rng):
  """gram_matrix's own VJP (one matrix product) against the einsum's: the style loss's feature gradient."""
  features = jnp.asarray(rng.normal(size=(2, 5, 7, 6)), jnp.float32)
  target = jnp.asarray(rng.normal(size=(2, 6, 6)), jnp.float32)
  plain = lambda f: jnp.einsum("bmi,bmj->bij", *(f.reshape(2, 35, 6),) * 2) / 35  # noqa: E731
  ours, theirs = (jax.grad(lambda f, g=g: losses.style_layer_loss(g(f), target, "mean"))(features)
                  for g in (losses.gram_matrix, plain))
  np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_style_layer_loss_matches_gatys_johnson_and_neural_style_formulas(rng):
  o, s = rng.normal(size=(1, 4, 5, 6)), rng.normal(size=(1, 4, 5, 6))
  n, m = 6, 20
  sums = np.sum((np_gram(o[0]) - np_gram(s[0])) ** 2) / (4 * n**2 * m**2)  # Gatys eq. 4
  means = np.sum((np_gram(o[0]) / (n * m) - np_gram(s[0]) / (n * m)) ** 2)  # Johnson eq. 3
  luan = np.mean((np_gram(o[0]) / (n * m) - np_gram(s[0]) / (n * m)) ** 2)  # neural-style: MSE of G / nElement
  go, gs = losses.gram_matrix(jnp.asarray(o)), losses.gram_matrix(jnp.asarray(s))
  np.testing.assert_allclose(losses.style_layer_loss(go, gs, "sum"), sums, rtol=1e-5)
  np.testing.assert_allclose(losses.style_layer_loss(go, gs, "mean"), means, rtol=1e-5)
  np.testing.assert_allclose(losses.style_layer_loss(go, gs, "luan"), luan, rtol=1e-5)


def test_style_loss_sums_weighted_layers(rng):
  feats = {"a": rng.normal(size=(1, 4, 4, 3)), "b": rng.normal(size=(1, 2, 2, 5))}
  style = {"a": rng.normal(size=(1, 6, 6, 3)), "b": rng.normal(size=(1, 3, 3, 5))}
  targets = {k: losses.gram_matrix(jnp.asarray(v)) for k, v in style.items()}
  weights = {"a": 0.3, "b": 2.0}
  expected = sum(w * np.sum((np_gram(feats[k][0]) / feats[k][0].shape[0] / feats[k][0].shape[1]
                             - np_gram(style[k][0]) / style[k][0].shape[0] / style[k][0].shape[1]) ** 2)
                 / (4 * feats[k].shape[-1] ** 2) for k, w in weights.items())
  got = losses.style_loss({k: jnp.asarray(v) for k, v in feats.items()}, targets, weights, "sum")
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_total_variation_matches_numpy(rng):
  x = rng.normal(size=(2, 5, 7, 3))
  dy, dx = (x[:, 1:] - x[:, :-1]) ** 2, (x[:, :, 1:] - x[:, :, :-1]) ** 2
  sums = np.mean([dy[b].sum() + dx[b].sum() for b in range(2)])
  means = np.mean([dy[b].mean() + dx[b].mean() for b in range(2)])
  np.testing.assert_allclose(losses.total_variation(jnp.asarray(x), "sum"), sums, rtol=1e-5)
  np.testing.assert_allclose(losses.total_variation(jnp.asarray(x), "mean"), means, rtol=1e-5)
  np.testing.assert_allclose(losses.total_variation(jnp.asarray(x), "luan"), sums / 2, rtol=1e-5)


def test_identical_images_give_zero_loss(rng):
  f = jnp.asarray(rng.normal(size=(1, 3, 3, 4)))
  assert float(losses.content_loss(f, f)) == 0.0
  assert float(losses.style_layer_loss(losses.gram_matrix(f), losses.gram_matrix(f))) == 0.0
  assert float(losses.total_variation(jnp.ones((1, 4, 4, 3)))) == 0.0


def test_unknown_normalization_is_rejected():
  with pytest.raises(ValueError, match="normalization"):
    losses.content_loss(jnp.zeros((1, 2, 2, 1)), jnp.zeros((1, 2, 2, 1)), "other")
