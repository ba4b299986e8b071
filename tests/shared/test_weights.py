"""Weight sources: torchvision .pth (zip and legacy), MatConvNet .mat, .npz, cache, download."""

import os
import socket
import threading
import time

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.io

from stylejax.core import vgg as vgg_lib
from stylejax.errors import UserError
from stylejax.io import weights
from tests.helpers import DATA, numpy_vgg, tiny_params


@pytest.mark.parametrize("name", ["tiny_vgg19_zip.pth", "tiny_vgg19_legacy.pth"])
def test_torchvision_state_dict_matches_torch_activations(name):
  """The fixtures were written by torch (tests/data/make_torch_fixtures.py) with torch's outputs."""
  net = weights.load_vgg("vgg19", os.path.join(DATA, name), pooling="max")
  reference = np.load(os.path.join(DATA, "tiny_vgg19_reference.npz"))
  layers = ["conv1_1", "relu2_2", "pool3", "conv4_3", "relu5_4"]
  got = net.features(jnp.asarray(reference["image"])[None], layers)
  for layer in layers:
    np.testing.assert_allclose(got[layer][0], reference[layer], rtol=1e-4, atol=1e-4, err_msg=layer)


def write_matconvnet(path, params, average_image, meta=False):
  """A .mat laid out like MatConvNet's imagenet-vgg-verydeep-19.mat (kernels stored W, H, in, out)."""
  layers = []
  for b, n in enumerate(vgg_lib.LAYOUTS["vgg19"]):
    for i in range(n):
      name = f"conv{b + 1}_{i + 1}"
      cell = np.empty((1, 2), dtype=object)
      cell[0, 0] = params[name]["kernel"].transpose(1, 0, 2, 3)
      cell[0, 1] = params[name]["bias"][:, None]
      layers.append({"name": name, "type": "conv", "weights": cell, "stride": np.ones((1, 2)),
                     "pad": np.ones((1, 4))})
      layers.append({"name": f"relu{b + 1}_{i + 1}", "type": "relu"})
    layers.append({"name": f"pool{b + 1}", "type": "pool", "method": "max"})
  for fc, shape in (("fc6", (1, 1, 6, 8)), ("fc7", (1, 1, 8, 8)), ("fc8", (1, 1, 8, 10))):
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = np.ones(shape, np.float32), np.zeros((shape[-1], 1), np.float32)
    layers.append({"name": fc, "type": "conv", "weights": cell})
  layers.append({"name": "prob", "type": "softmax"})
  cells = np.empty((1, len(layers)), dtype=object)
  for i, layer in enumerate(layers):
    cells[0, i] = layer
  normalization = {"averageImage": average_image, "imageSize": np.array([[224, 224, 3]])}
  top = {"meta": {"normalization": normalization}} if meta else {"normalization": normalization}
  scipy.io.savemat(path, {"layers": cells, **top})


@pytest.mark.parametrize("meta", [False, True])
def test_matconvnet_mat_matches_numpy_reference(tmp_path, rng, meta):
  params = tiny_params("vgg19", seed=1)
  average = np.broadcast_to(np.array([123.68, 116.779, 103.939], np.float32), (4, 4, 3)).copy()
  path = str(tmp_path / "imagenet-vgg-verydeep-19.mat")
  write_matconvnet(path, params, average, meta)
  net = weights.load_vgg("vgg19", path, pooling="avg")
  np.testing.assert_allclose(net.mean, [123.68, 116.779, 103.939], rtol=1e-6)
  np.testing.assert_array_equal(net.std, np.ones(3))
  for name in params:
    np.testing.assert_array_equal(net.params[name]["kernel"], params[name]["kernel"])
  image = rng.uniform(0, 255, (40, 36, 3)).astype(np.float32)
  expected = numpy_vgg(params, "vgg19", image, average.mean((0, 1)), np.ones(3))
  got = net.features(jnp.asarray(image)[None], ["relu3_4", "relu5_1"])
  for layer in got:
    np.testing.assert_allclose(got[layer][0], expected[layer], rtol=2e-4, atol=2e-4)


def test_npz_round_trip_and_checksum(tmp_path):
  params = tiny_params("vgg19", seed=2)
  path = str(tmp_path / "w.npz")
  digest = weights.write_npz(path, params, np.arange(3.0), np.ones(3))
  assert open(path + ".sha256").read().split()[0] == digest == weights.sha256(path)
  loaded, mean, std = weights.read_npz(path)
  for name in params:
    np.testing.assert_array_equal(loaded[name]["kernel"], params[name]["kernel"])
    np.testing.assert_array_equal(loaded[name]["bias"], params[name]["bias"])
  np.testing.assert_array_equal(mean, np.arange(3.0))


def test_wrong_architecture_and_bad_files_are_user_errors(tmp_path):
  with pytest.raises(UserError, match="VGG19 weights but the config asks for vgg16"):
    weights.load_vgg("vgg16", os.path.join(DATA, "tiny_vgg19_zip.pth"))
  with pytest.raises(UserError, match="not found"):
    weights.load_vgg("vgg19", str(tmp_path / "missing.mat"))
  junk = tmp_path / "junk.pth"
  junk.write_bytes(b"not a torch file at all")
  with pytest.raises(UserError, match="junk.pth"):
    weights.load_vgg("vgg19", str(junk))
  text = tmp_path / "weights.txt"
  text.write_text("x")
  with pytest.raises(UserError, match="unknown weights format"):
    weights.read_weights(str(text))


def test_download_fails_fast_when_nothing_answers(tmp_path):
  server = socket.socket()
  server.bind(("127.0.0.1", 0))
  server.listen(1)  # accepts the connection, never answers
  threading.Thread(target=server.accept, daemon=True).start()
  start = time.monotonic()
  with pytest.raises(UserError, match="cannot download"):
    weights.download(f"http://127.0.0.1:{server.getsockname()[1]}/vgg19.pth", str(tmp_path / "f"), timeout_s=1)
  assert time.monotonic() - start < 5
  server.close()
  with pytest.raises(UserError, match="cannot download.*configs/weights.py"):
    weights.download("http://127.0.0.1:9/vgg19.pth", str(tmp_path / "g"), timeout_s=2)

