"""The fast photorealistic network kinds: the bilateral grid (Gharbi et al. 2017) and the thesis's Johnson network
that blends its training output with the input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.core import networks
from stylejax.core.networks import bilateral, johnson


def _photo(shape, seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(0, 255, shape), jnp.float32)


@pytest.mark.parametrize("size", [(64, 64), (37, 91), (130, 17)])
def test_bilateral_net_starts_as_the_identity_at_any_size(size):
  net = networks.build("bilateral", {"low_res": 32, "grid_size": 8, "grid_depth": 4, "width": 4})
  params = net.init(jax.random.key(0), _photo((1, 16, 16, 3)))
  photos = _photo((2, *size, 3))
  out, own = net.train_apply(params, photos)
  assert out.shape == photos.shape
  np.testing.assert_allclose(out, photos, atol=1e-3)
  assert float(own["grid_smoothness"]) == 0.0


def test_bilateral_net_output_is_a_local_affine_recolouring_and_strength_blends_transforms():
  net = networks.build("bilateral", {"low_res": 32, "grid_size": 8, "grid_depth": 4, "width": 4})
  params = net.init(jax.random.key(0), _photo((1, 16, 16, 3)))
  last = [name for name in params if name.startswith("Conv_")][-1]
  params[last]["kernel"] = jax.random.normal(jax.random.key(1), params[last]["kernel"].shape) * 0.05
  photos = _photo((1, 48, 40, 3), 1) * 0.5 + 64  # inside [64, 192]: no clipping
  stylized = networks.stylize(net, params, photos)
  assert float(jnp.abs(stylized - photos).mean()) > 0.1
  np.testing.assert_allclose(networks.stylize(net, params, photos, strength=0.0), photos, atol=1e-3)
  half = networks.stylize(net, params, photos, strength=0.5)
  np.testing.assert_allclose(half, 0.5 * (stylized + photos), atol=1e-2)  # linear in the grid (no clipping here)


def test_bilateral_net_refuses_a_grid_that_does_not_divide_low_res():
  with pytest.raises(ValueError, match="power"):
    networks.build("bilateral", {"low_res": 100, "grid_size": 16})


def test_low_resolution_view_averages_whole_blocks_then_resizes():
  photos = _photo((2, 1000, 517, 3))
  low = bilateral.low_resolution(photos, 64)
  assert low.shape == (2, 64, 64, 3)
  np.testing.assert_allclose(low.mean((1, 2)), photos.mean((1, 2)), rtol=0.02)
  constant = jnp.full((1, 301, 77, 3), 17.0)
  np.testing.assert_allclose(bilateral.low_resolution(constant, 32), 17.0, rtol=1e-6)


def test_the_thesis_kind_blends_its_training_output_with_the_input_and_not_its_inference():
  net = networks.build("thesis", {"residual_blocks": 1, "input_blend": 0.15})
  photos = _photo((1, 24, 24, 3))
  params = net.init(jax.random.key(0), photos)
  plain = johnson.Johnson(residual_blocks=1).apply(params, photos)
  trained, own = net.train_apply(params, photos)
  np.testing.assert_allclose(trained, 0.85 * plain + 0.15 * photos, rtol=1e-5, atol=1e-3)
  np.testing.assert_allclose(net.apply(params, photos), plain, rtol=1e-6)
  assert own == {}
