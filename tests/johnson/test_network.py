"""Johnson et al.'s transformation network (supplementary table): any size, the thesis's shapes, width, bfloat16."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.core import networks
from stylejax.core.networks import johnson


@pytest.mark.parametrize("upsample", johnson.UPSAMPLINGS)
@pytest.mark.parametrize("padding", johnson.PADDINGS)
@pytest.mark.parametrize("size", [(32, 32), (33, 47), (21, 18)])
def test_any_size_round_trips(upsample, padding, size):
  net = networks.build("johnson", {"upsample": upsample, "padding": padding, "residual_blocks": 1})
  x = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (2, *size, 3)), jnp.float32)
  params = net.init(jax.random.key(0), x)
  y = net.apply(params, x)
  assert y.shape == x.shape and y.dtype == jnp.float32
  assert float(y.min()) >= 0.0 and float(y.max()) <= 255.0


def test_thesis_layer_shapes_and_size():
  net = johnson.TransformNet()
  params = net.init(jax.random.key(0), jnp.zeros((1, 256, 256, 3)))
  count = sum(p.size for p in jax.tree.leaves(params))
  assert 1.6e6 < count < 1.8e6  # Johnson et al.'s network has about 1.68 M parameters
  shapes = jax.eval_shape(lambda x: net.apply(params, x, capture_intermediates=True, mutable=["intermediates"]),
                          jnp.zeros((1, 256, 256, 3)))[1]["intermediates"]
  outputs = {k: v["__call__"][0].shape for k, v in shapes.items() if k.startswith(("ConvNormAct", "Upsample"))}
  assert outputs["ConvNormAct_0"] == (1, 256, 256, 32)
  assert outputs["ConvNormAct_1"] == (1, 128, 128, 64)
  assert outputs["ConvNormAct_2"] == (1, 64, 64, 128)
  assert outputs["Upsample_0"] == (1, 128, 128, 64) and outputs["Upsample_1"] == (1, 256, 256, 32)


def test_width_scales_every_layer():
  net = networks.build("johnson", {"width": 16})
  params = net.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  assert 0.24 < sum(p.size for p in jax.tree.leaves(params)) / 1.68e6 < 0.27  # about a quarter
  assert params["ConvNormAct_2"]["Conv_0"]["kernel"].shape[-1] == 64


def test_bfloat16_compute_stays_close():
  x = jnp.asarray(np.random.default_rng(1).uniform(0, 255, (1, 24, 24, 3)), jnp.float32)
  net32, net16 = (networks.build("johnson", {"residual_blocks": 1}, dtype) for dtype in ("float32", "bfloat16"))
  params = net32.init(jax.random.key(0), x)
  np.testing.assert_allclose(net16.apply(params, x), net32.apply(params, x), atol=8.0)


@pytest.mark.parametrize("size", [(8, 8), (9, 7), (5, 12)])
def test_sub_pixel_upsampling_is_flax_conv_transpose(size):
  """ConvTranspose2x has nn.ConvTranspose's parameters (same names, shapes, initial values) and map: outputs and
  gradients (input, kernel, bias) equal to float tolerance, cut to odd and even sizes as Upsample cuts them."""
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(2, *size, 6)), jnp.float32)
  ours, flax_layer = johnson.ConvTranspose2x(5), johnson.nn.ConvTranspose(5, (3, 3), (2, 2), "SAME")
  params = ours.init(jax.random.key(3), x)
  jax.tree.map(np.testing.assert_array_equal, params, flax_layer.init(jax.random.key(3), x))
  params = jax.tree.map(lambda p: p + jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)  # bias != 0
  for cut in [(2 * size[0], 2 * size[1]), (2 * size[0] - 1, 2 * size[1] - 1)]:
    cotangent = jnp.asarray(rng.normal(size=(2, *cut, 5)), jnp.float32)

    def loss(layer, params, x, cut=cut, cotangent=cotangent):
      y = layer.apply(params, x)[:, :cut[0], :cut[1]]
      return jnp.vdot(y, cotangent), y
    (_, y), grads = jax.value_and_grad(lambda p, x: loss(ours, p, x), (0, 1), has_aux=True)(params, x)
    (_, y_ref), grads_ref = jax.value_and_grad(lambda p, x: loss(flax_layer, p, x), (0, 1), has_aux=True)(params, x)
    np.testing.assert_allclose(y, y_ref, atol=1e-5, rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5), grads, grads_ref)
