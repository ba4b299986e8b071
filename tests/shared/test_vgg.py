"""VGG feature extractor: taps, pooling, depth, and the embedded VGG16 weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.core import vgg as vgg_lib
from stylejax.io import weights
from tests.helpers import numpy_vgg, tiny_params


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_features_match_numpy_reference(arch, pooling, rng):
  params = tiny_params(arch)
  mean, std = np.array([120.0, 110.0, 100.0], np.float32), np.array([50.0, 60.0, 70.0], np.float32)
  net = vgg_lib.Vgg(params=params, mean=mean, std=std, arch=arch, pooling=pooling)
  image = rng.uniform(0, 255, (35, 42, 3)).astype(np.float32)
  layers = ["conv1_1", "relu1_2", "pool2", "relu3_1", "conv4_2", "relu5_1"]
  got = net.features(jnp.asarray(image)[None], layers)
  expected = numpy_vgg(params, arch, image, mean, std, pooling)
  assert set(got) == set(layers)
  for layer in layers:
    np.testing.assert_allclose(got[layer][0], expected[layer], rtol=2e-4, atol=2e-4, err_msg=layer)


def test_only_layers_up_to_the_deepest_tap_are_computed():
  net = vgg_lib.Vgg(params=tiny_params("vgg19"), mean=np.zeros(3), std=np.ones(3), arch="vgg19")
  def convs(layers):
    jaxpr = jax.make_jaxpr(lambda x: net.features(x, layers))(jnp.zeros((1, 32, 32, 3)))
    return str(jaxpr).count("conv_general_dilated")
  assert convs(["relu1_1"]) == 1
  assert convs(["conv2_1", "relu1_2"]) == 3
  assert convs(["relu5_4"]) == 16


def test_tap_names_and_unknown_layers():
  assert vgg_lib.tap_names("vgg16")[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
  assert len(vgg_lib.conv_names("vgg16")) == 13 and len(vgg_lib.conv_names("vgg19")) == 16
  assert "relu4_2" in vgg_lib.tap_names("vgg16") and "conv5_4" not in vgg_lib.tap_names("vgg16")
  with pytest.raises(ValueError, match="relu6_1"):
    vgg_lib.check_layers("vgg19", ["relu1_1", "relu6_1"])


def test_conv_flops_counts_each_convolution_once():
  # conv1_1 at 8x8: 2 * 64 positions * 9 * 3 * 64; conv1_2: 2 * 64 * 9 * 64 * 64
  assert vgg_lib.conv_flops("vgg16", 8, 8, ["relu1_1"]) == 2 * 64 * 9 * 3 * 64
  assert vgg_lib.conv_flops("vgg16", 8, 8, ["pool1"]) == 2 * 64 * 9 * (3 * 64 + 64 * 64)


def test_embedded_vgg16_is_torchvision_imagenet():
  net = weights.load_vgg("vgg16")
  assert net.arch == "vgg16" and len(net.params) == 13
  kernel = np.asarray(net.params["conv1_1"]["kernel"])
  assert kernel.shape == (3, 3, 3, 64)
  np.testing.assert_allclose(kernel[0, :, 0, 0], [-0.5537, 0.1427, 0.5290], atol=1e-4)
  np.testing.assert_allclose(net.mean, 255 * np.array([0.485, 0.456, 0.406]), rtol=1e-6)
  np.testing.assert_allclose(net.std, 255 * np.array([0.229, 0.224, 0.225]), rtol=1e-6)
  feats = net.features(jnp.full((1, 32, 32, 3), 128.0), ["relu5_3"])["relu5_3"]
  assert feats.shape == (1, 2, 2, 512) and bool(jnp.all(jnp.isfinite(feats)))


def test_bfloat16_compute_is_close_to_float32(rng):
  net = vgg_lib.Vgg(params=tiny_params("vgg16"), mean=np.full(3, 120.0), std=np.full(3, 60.0), arch="vgg16")
  x = jnp.asarray(rng.uniform(0, 255, (1, 32, 32, 3)), jnp.float32)
  f32 = net.features(x, ["relu3_1"])["relu3_1"]
  bf16 = net.features(x, ["relu3_1"], jnp.bfloat16)["relu3_1"]
  assert bf16.dtype == jnp.float32
  np.testing.assert_allclose(bf16, f32, rtol=0.05, atol=0.05 * float(jnp.abs(f32).max()))
