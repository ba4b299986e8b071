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


@pytest.mark.parametrize("size, channels, features, kernel, factor", [
    ((17, 17), 5, 3, 9, 2), ((20, 13), 3, 6, 9, 2), ((6, 7), 4, 2, 4, 2), ((5, 6), 2, 3, 3, 2),
    ((17, 18), 5, 3, 9, 4), ((7, 6), 4, 2, 4, 4)])
def test_block_convolution_is_flax_conv(size, channels, features, kernel, factor):
  """BlockConv has nn.Conv's parameters (names, shapes, initial values) and map (stride 1, VALID): outputs and
  gradients (input, kernel, bias) equal to float tolerance, at odd and even output sizes, odd and even kernels,
  between 2×2 and 4×4 blocks."""
  rng = np.random.default_rng(4)
  x = jnp.asarray(rng.normal(size=(2, *size, channels)), jnp.float32)
  ours = johnson.BlockConv(features, kernel, factor)
  flax_layer = johnson.nn.Conv(features, (kernel, kernel), padding="VALID")
  params = ours.init(jax.random.key(5), x)
  jax.tree.map(np.testing.assert_array_equal, params, flax_layer.init(jax.random.key(5), x))
  params = jax.tree.map(lambda p: p + jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)  # bias != 0
  out_shape = (2, size[0] - kernel + 1, size[1] - kernel + 1, features)
  cotangent = jnp.asarray(rng.normal(size=out_shape), jnp.float32)

  def loss(layer, params, x):
    y = layer.apply(params, x)
    return jnp.vdot(y, cotangent), y
  (_, y), grads = jax.value_and_grad(lambda p, x: loss(ours, p, x), (0, 1), has_aux=True)(params, x)
  (_, y_ref), grads_ref = jax.value_and_grad(lambda p, x: loss(flax_layer, p, x), (0, 1), has_aux=True)(params, x)
  assert y.shape == out_shape
  np.testing.assert_allclose(y, y_ref, atol=1e-4, rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5), grads, grads_ref)


@pytest.mark.parametrize("padding", johnson.PADDINGS)
def test_block_convolutions_leave_the_network_unchanged(padding, monkeypatch):
  """The first and last 9×9 convolutions run as BlockConv; the network has the same parameters (names, shapes,
  initial values: checkpoints load as before) and the same outputs and gradients as with nn.Conv everywhere."""
  net = networks.build("johnson", {"padding": padding, "residual_blocks": 1})
  x = jnp.asarray(np.random.default_rng(6).uniform(0, 255, (2, 27, 22, 3)), jnp.float32)
  cotangent = jnp.asarray(np.random.default_rng(7).normal(size=x.shape), jnp.float32)
  value_and_grad = lambda params: jax.value_and_grad(  # noqa: E731
      lambda p: jnp.vdot(net.apply(p, x), cotangent))(params)
  params = net.init(jax.random.key(0), x)
  assert params["ConvNormAct_0"]["Conv_0"]["kernel"].shape == (9, 9, 3, 32)
  assert params["ConvNormAct_3"]["Conv_0"]["kernel"].shape == (9, 9, 32, 3)
  value, grads = value_and_grad(params)
  monkeypatch.setattr(johnson, "BLOCK_CONV_CHANNELS", 0)  # every convolution an nn.Conv
  jax.tree.map(np.testing.assert_array_equal, params, net.init(jax.random.key(0), x))
  value_ref, grads_ref = value_and_grad(params)
  np.testing.assert_allclose(value, value_ref, rtol=1e-5)
  largest = max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads_ref))  # a bias before a norm has none
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5 * largest, rtol=1e-4), grads, grads_ref)


def two_pass_instance_norm(x, scale, bias, epsilon=1e-6):
  """The textbook form: μ, then σ² = mean((x − μ)²); its gradient by autodiff."""
  mean = x.mean((1, 2), keepdims=True)
  return (x - mean) * jax.lax.rsqrt(jnp.square(x - mean).mean((1, 2), keepdims=True) + epsilon) * scale + bias


def test_instance_norm_moments_on_the_network_activations():
  """The float32 moments against float64 ones, on every normalised activation of the network (a random image)
  and on channels far from zero (|μ| = 2000 σ, where the one-pass mean(x²) − μ² is 26% off): within
  float32 rounding."""
  net = johnson.TransformNet(residual_blocks=2)
  image = jnp.asarray(np.random.default_rng(8).uniform(0, 255, (2, 32, 40, 3)), jnp.float32)
  params = net.init(jax.random.key(1), image)
  _, state = net.apply(params, image, mutable=["intermediates"])
  inputs = [v for k, v in jax.tree_util.tree_leaves_with_path(state) if "norm_input" in jax.tree_util.keystr(k)]
  far = 1000.0 + 0.5 * np.random.default_rng(9).normal(size=(2, 64, 64, 3))
  for x in [*inputs, far]:
    x = jnp.asarray(x, jnp.float32)
    x64 = np.asarray(x, np.float64)
    mean64, var64 = x64.mean((1, 2), keepdims=True), x64.var((1, 2), keepdims=True)
    mean, var = johnson.moments(x)
    np.testing.assert_allclose(mean, mean64, atol=1e-6 * np.abs(x64).max())
    np.testing.assert_allclose(var, var64, rtol=1e-4, atol=1e-6 * var64.max())


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_instance_norm_gradient_is_the_formulas(dtype):
  """instance_norm's written-out gradient (input, γ, β) equals autodiff of the two-pass form; values too."""
  rng = np.random.default_rng(10)
  x = jnp.asarray(3.0 + 2.0 * rng.normal(size=(2, 9, 11, 5)), dtype)
  scale, bias = (jnp.asarray(rng.normal(size=5), jnp.float32) for _ in range(2))
  cotangent = jnp.asarray(rng.normal(size=x.shape), jnp.float32)
  loss = lambda norm: lambda x, s, b: jnp.vdot(norm(x, s, b), cotangent)  # noqa: E731
  ours = jax.value_and_grad(loss(lambda x, s, b: johnson.instance_norm(x, s, b, 1e-6)), (0, 1, 2))(x, scale, bias)
  reference = jax.value_and_grad(loss(lambda x, s, b: two_pass_instance_norm(x.astype(jnp.float32), s, b)),
                                 (0, 1, 2))(x, scale, bias)
  assert ours[1][0].dtype == x.dtype
  tolerance = 1e-4 if dtype == "float32" else 1e-2  # both round the same float32 gradient to bfloat16
  jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32),
                                                       atol=tolerance, rtol=tolerance), ours, reference)
