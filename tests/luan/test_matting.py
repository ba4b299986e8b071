"""The matting Laplacian (Levin et al. 2008) and its four backends against pymatting and each other; the matting
energy V^T L V and its gradient 2 L V."""

import jax
import jax.numpy as jnp
import numpy as np
import pymatting
import pytest
from PIL import Image

from stylejax.core import losses, matting
from stylejax.io import assets


PHOTO = assets.path("rocket.jpg")


def photo(height=96, width=144):
  return np.asarray(Image.open(PHOTO).convert("RGB").resize((width, height)), np.float64) / 255


def reference(matrix, v):
  """L·v with the float64 sparse matrix, v (H, W, C)."""
  flat = v.reshape(-1, v.shape[-1]).astype(np.float64)
  return (matrix @ flat).reshape(v.shape)


@pytest.mark.parametrize("radius", [1, 2])
def test_laplacian_identities(rng, radius):
  image = rng.uniform(0, 1, (11, 14, 3))
  lap = matting.laplacian(image, radius=radius)
  n = 11 * 14
  assert lap.shape == (n, n)
  assert abs(lap - lap.T).max() < 1e-12  # symmetric
  np.testing.assert_allclose(lap @ np.ones(n), 0, atol=1e-10)  # L·1 = 0
  for _ in range(5):  # positive semi-definite
    v = rng.normal(size=n)
    assert v @ lap @ v >= -1e-9
  # A pixel's diagonal counts the windows containing it, each adding (1 − 1/|w| − ...)
  # so a corner (in one window) has a smaller diagonal than an inner pixel.
  inner = (2 * radius) * 14 + 2 * radius
  assert lap[0, 0] < lap[inner, inner]


def test_laplacian_equals_pymatting(rng):
  for image in (rng.uniform(0, 1, (12, 9, 3)), photo(40, 60)):
    ours = matting.laplacian(image, eps=1e-7, radius=1)
    theirs = pymatting.cf_laplacian(image, epsilon=1e-7, radius=1).tocsr()
    theirs.sum_duplicates()
    theirs.eliminate_zeros()
    assert ours.nnz == theirs.nnz
    np.testing.assert_allclose((ours - theirs).toarray(), 0, atol=1e-6 * abs(ours).max())


def test_backends_agree_in_float64(rng):
  image = rng.uniform(0, 1, (10, 13, 3))
  v = rng.normal(size=(10, 13, 3))
  expected = reference(matting.laplacian(image), v)
  scale = np.abs(expected).max()
  with jax.enable_x64(True):
    banded = matting.banded_matvec(jnp.asarray(matting.laplacian_bands(image)), jnp.asarray(v))
    free = matting.laplacian_matvec(jnp.asarray(image), jnp.asarray(v))
    bcoo = matting.to_bcoo(matting.laplacian(image), jnp.float64) @ jnp.asarray(v.reshape(-1, 3))
  for got in (banded, free, bcoo.reshape(v.shape)):
    assert np.abs(np.asarray(got) - expected).max() < 1e-9 * scale


def test_float32_backends_on_random_images(rng):
  image = rng.uniform(0, 1, (2, 17, 19, 3))  # batched over a leading axis
  v = rng.normal(size=(2, 17, 19, 2))
  for b in range(2):
    expected = reference(matting.laplacian(image[b]), v[b])
    scale = np.abs(expected).max()
    banded = matting.banded_matvec(jnp.asarray(matting.laplacian_bands(image[b]), jnp.float32),
                                   jnp.asarray(v[b], jnp.float32))
    assert np.abs(np.asarray(banded) - expected).max() < 1e-6 * scale
  free = jax.jit(matting.laplacian_matvec)(jnp.asarray(image, jnp.float32), jnp.asarray(v, jnp.float32))
  for b in range(2):
    expected = reference(matting.laplacian(image[b]), v[b])
    assert np.abs(np.asarray(free[b]) - expected).max() < 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("kind", ["random", "photo-like"])
def test_the_jitted_float32_build_on_random_images_and_a_photo(rng, kind):
  """device_bands (the banded backend's build) against the float64 numpy build: the same bands up to float32's
  3x3 solves of near-degenerate (flat or edge) windows, and L·v close to the float64 matrix's."""
  image = rng.uniform(0, 1, (17, 19, 3)) if kind == "random" else photo().astype(np.float32).astype(np.float64)
  v = rng.normal(size=image.shape) if kind == "random" else image + 0.01 * rng.normal(size=image.shape)
  bands = matting.device_bands(jnp.asarray(image, jnp.float32))
  assert bands.dtype == jnp.float32
  np.testing.assert_allclose(bands, matting.laplacian_bands(image), atol=2e-6 if kind == "random" else 5e-5)
  assert matting.prepare("banded", image).shape == bands.shape
  expected = reference(matting.laplacian(image), v)
  got = np.asarray(matting.banded_matvec(bands, jnp.asarray(v, jnp.float32)))
  assert np.abs(got - expected).max() < 5e-4 * np.abs(expected).max()
  assert np.sqrt(np.mean((got - expected) ** 2) / np.mean(expected ** 2)) < 1e-4


@pytest.mark.parametrize("kind", ["random", "photo-like"])
def test_float32_matrix_free_on_a_photo(rng, kind):
  image = photo()
  v = rng.normal(size=image.shape) if kind == "random" else image + 0.01 * rng.normal(size=image.shape)
  expected = reference(matting.laplacian(image), v)
  got = np.asarray(jax.jit(matting.laplacian_matvec)(jnp.asarray(image, jnp.float32), jnp.asarray(v, jnp.float32)))
  error = np.abs(got - expected) / np.abs(expected).max()
  assert error.max() < 5e-3
  assert np.sqrt(np.mean((got - expected) ** 2) / np.mean(expected ** 2)) < 2e-4


def test_too_small_image_is_refused():
  with pytest.raises(ValueError, match="smaller than one 3-pixel window"):
    matting.laplacian(np.zeros((2, 5, 3)))


def test_matting_energy_gradient_is_twice_l_v(rng):
  from stylejax.core import matting
  image = rng.uniform(0, 1, (9, 11, 3))
  bands = jnp.asarray(matting.laplacian_bands(image), jnp.float32)
  apply = lambda v: matting.banded_matvec(bands, v)  # noqa: E731
  v = jnp.asarray(rng.uniform(0, 1, (1, 9, 11, 3)), jnp.float32)
  lap = matting.laplacian(image)
  flat = np.asarray(v[0], np.float64).reshape(-1, 3)
  np.testing.assert_allclose(losses.matting_energy(v, apply), np.sum(flat * (lap @ flat)), rtol=1e-4)
  grad = jax.grad(losses.matting_energy)(v, apply)
  np.testing.assert_allclose(grad[0], 2 * (lap @ flat).reshape(9, 11, 3), rtol=1e-4, atol=1e-5)
  content = jnp.asarray(rng.uniform(0, 1, (1, 9, 11, 3)), jnp.float32)
  diff = (lap @ (flat - np.asarray(content[0], np.float64).reshape(-1, 3)))
  np.testing.assert_allclose(losses.matting_difference(v, content, apply), np.sum(diff**2) / 99, rtol=1e-4)
