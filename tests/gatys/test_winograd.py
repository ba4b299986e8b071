"""VGG's Winograd convolution (stylejax.core.vgg.winograd_conv, the CPU's float32 512-channel layers): the same
map, input gradient and kernel gradient as XLA's convolution, at odd and even sizes and batches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.core import vgg
from stylejax.io import weights


def direct(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("shape", [(1, 8, 8, 16), (2, 7, 10, 8), (1, 1, 3, 4)])
def test_winograd_convolution_and_its_gradients_equal_the_direct_ones(shape):
  keys = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(keys[0], shape)
  kernel = jax.random.normal(keys[1], (3, 3, shape[-1], 12)) / np.sqrt(9 * shape[-1])
  cotangent = jax.random.normal(keys[2], (*shape[:3], 12))
  np.testing.assert_allclose(vgg.winograd_conv(x, kernel, vgg.winograd_filter(kernel)), direct(x, kernel), atol=1e-5)
  conv = lambda x, k: vgg.winograd_conv(x, k, vgg.winograd_filter(k))  # noqa: E731  as conv3x3 without filters
  ours = jax.jit(jax.grad(lambda x, k: jnp.vdot(conv(x, k), cotangent), argnums=(0, 1)))(x, kernel)
  theirs = jax.grad(lambda x, k: jnp.vdot(direct(x, k), cotangent), argnums=(0, 1))(x, kernel)
  for got, expected in zip(ours, theirs):
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


def test_vgg_uses_winograd_where_it_is_faster_only():
  """512 output channels in float32 on the CPU; never in bfloat16, never at fewer channels."""
  x, wide, narrow = jnp.ones((1, 4, 4, 8)), jnp.ones((3, 3, 8, 512)), jnp.ones((3, 3, 8, 256))
  uses = lambda kernel, x=x: "dot_general" in str(jax.make_jaxpr(vgg.conv3x3)(x, kernel))  # noqa: E731
  assert uses(wide) == (jax.default_backend() == "cpu")
  assert not uses(narrow) and not uses(wide.astype(jnp.bfloat16), x.astype(jnp.bfloat16))


def test_filters_held_ready_give_the_same_features():
  """Vgg.with_winograd_filters (pixels.optimize, once per phase): the same features, filters only up to the
  deepest layer asked for."""
  net = weights.load_vgg()
  image = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (1, 20, 24, 3)), jnp.float32)
  ready = net.with_winograd_filters(("relu4_2",))
  assert set(ready.winograd) == ({"conv4_1", "conv4_2"} if jax.default_backend() == "cpu" else set())
  for layer, value in net.features(image, ("relu4_2",)).items():
    np.testing.assert_allclose(ready.features(image, ("relu4_2",))[layer], value, rtol=1e-6, atol=1e-6)
