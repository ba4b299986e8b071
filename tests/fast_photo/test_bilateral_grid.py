"""Bilateral-grid slicing (stylejax.core.bilateral): an oracle, gradients, the splat's adjointness."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy import ndimage

from stylejax.core import bilateral


def _random(shape, seed, low=-1.0, high=1.0):
  return jnp.asarray(np.random.default_rng(seed).uniform(low, high, shape), jnp.float32)


def _oracle(grid, guide):
  """Trilinear interpolation by map_coordinates (order 1, clamped), one pixel coordinate per call."""
  batch, cells_y, cells_x, depth, channels = grid.shape
  height, width = guide.shape[1:]
  ys, xs = jnp.meshgrid((jnp.arange(height) + 0.5) * cells_y / height - 0.5,
                        (jnp.arange(width) + 0.5) * cells_x / width - 0.5, indexing="ij")
  return jnp.stack([jnp.stack([ndimage.map_coordinates(grid[b, ..., k], [ys, xs, guide[b] * depth - 0.5],
                                                       order=1, mode="nearest")
                               for k in range(channels)], axis=-1) for b in range(batch)])


@pytest.mark.parametrize("size", [(16, 16), (37, 23), (5, 64), (1, 1)])
def test_slicing_matches_map_coordinates(size):
  grid = _random((2, 4, 3, 5, 7), 0)
  guide = _random((2, *size), 1, -0.1, 1.1)  # outside [0, 1] too: clamped as mode="nearest"
  np.testing.assert_allclose(jax.jit(bilateral.slice_coefficients)(grid, guide), _oracle(grid, guide),
                             atol=1e-5)


def test_identity_grid_returns_the_image():
  image = _random((2, 9, 13, 3), 2, 0.0, 1.0)
  out = bilateral.apply(bilateral.identity_grid(2, 4, 4, 8), _random((2, 9, 13), 3, 0.0, 1.0), image)
  np.testing.assert_allclose(out, image, atol=1e-6)


@pytest.mark.parametrize("size", [(37, 23), (64, 5), (3, 200)])
def test_row_blocks_give_the_whole_image_result(size):
  grid = _random((2, 4, 3, 5, 3, 4), 4)
  guide, image = _random((2, *size), 5, 0.0, 1.0), _random((2, *size, 3), 6, 0.0, 1.0)
  whole = bilateral.apply(grid, guide, image, block_pixels=10**9)
  np.testing.assert_allclose(jax.jit(bilateral.apply, static_argnums=3)(grid, guide, image, 100), whole, atol=1e-6)
  expected = jnp.einsum("bhwij,bhwj->bhwi", _oracle(grid.reshape(2, 4, 3, 5, 12), guide).reshape(2, *size, 3, 4)[..., :3], image)
  np.testing.assert_allclose(whole, expected + _oracle(grid[..., 3], guide), atol=1e-5)


@pytest.mark.slow
def test_gradients_match_finite_differences():
  grid = _random((1, 3, 3, 4, 3, 4), 7, -0.5, 1.5)
  guide = _random((1, 6, 5), 8, 0.1, 0.9)
  image = _random((1, 6, 5, 3), 9, 0.0, 1.0)
  weights = _random((1, 6, 5, 3), 10)
  loss = lambda grid, guide, image: jnp.sum(weights * bilateral.apply(grid, guide, image) ** 2)  # noqa: E731
  with jax.enable_x64(True):
    args = tuple(jnp.asarray(a, jnp.float64) for a in (grid, guide, image))
    grads = jax.grad(loss, argnums=(0, 1, 2))(*args)
    blocked = jax.grad(lambda *a: jnp.sum(weights * bilateral.apply(*a, block_pixels=10) ** 2), argnums=(0, 1, 2))(*args)
    for grad, in_blocks in zip(grads, blocked):
      np.testing.assert_allclose(in_blocks, grad, rtol=1e-9, atol=1e-12)
    for arg_index, grad in enumerate(grads):
      rng = np.random.default_rng(arg_index)
      for _ in range(6):
        direction = jnp.asarray(rng.normal(size=grad.shape))
        shift = [jnp.zeros_like(a) for a in args]
        shift[arg_index] = 1e-6 * direction
        numeric = (loss(*[a + s for a, s in zip(args, shift)]) - loss(*[a - s for a, s in zip(args, shift)])) / 2e-6
        np.testing.assert_allclose(jnp.vdot(grad, direction), numeric, rtol=1e-5, atol=1e-8)


def test_smoothness_is_zero_for_a_constant_grid_only():
  assert float(bilateral.smoothness(bilateral.identity_grid(1, 4, 4, 8))) == 0.0
  assert float(bilateral.smoothness(_random((1, 4, 4, 8, 3, 4), 14))) > 0.0


def test_a_resampled_grid_holds_the_old_grids_transforms_at_its_cell_centres():
  grid = _random((1, 4, 3, 5, 3, 4), 15)
  np.testing.assert_allclose(bilateral.resampled(grid, 4, 3, 5), grid, atol=1e-6)
  fine = bilateral.resampled(grid, 8, 7, 10)
  assert fine.shape == (1, 8, 7, 10, 3, 4)
  centres = jnp.meshgrid(*[(jnp.arange(new) + 0.5) * old / new - 0.5 for new, old in ((8, 4), (7, 3), (10, 5))],
                         indexing="ij")
  flat = grid.reshape(4, 3, 5, 12)
  expected = jnp.stack([ndimage.map_coordinates(flat[..., k], centres, order=1, mode="nearest") for k in range(12)],
                       axis=-1)
  np.testing.assert_allclose(fine.reshape(8, 7, 10, 12), expected, atol=1e-6)
