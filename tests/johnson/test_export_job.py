"""The export job: a compact model directory (params.npz) that loads and stylises like the training workdir."""

import os

import numpy as np
import pytest

from configs import export as export_config
from stylejax import api
from stylejax.errors import UserError
from stylejax.io import checkpoints
from stylejax.jobs import export
from tests.helpers import smooth_image


def export_to(model, workdir, dtype="float32"):
  config = export_config.get_config()
  config.update(model=str(model), dtype=dtype)
  return export.run(config, str(workdir))


@pytest.mark.parametrize("fixture", ["model_dir", pytest.param("photo_model_dir", marks=pytest.mark.slow)])
def test_an_export_stylises_exactly_like_its_training_run(fixture, request, tmp_path, rng):
  model_dir = request.getfixturevalue(fixture)
  summary = export_to(model_dir, tmp_path / "exported")
  assert sorted(os.listdir(tmp_path / "exported")) == ["config.json", "export.json", "model.json", "params.npz",
                                                       "style.jpg"]
  assert summary["step"] == 2 and summary["bytes"] == os.path.getsize(tmp_path / "exported" / "params.npz")
  photo = smooth_image(rng, 40, 56)
  original, exported = api.load_model(model_dir), api.load_model(str(tmp_path / "exported"))
  assert exported.step == original.step and type(exported.net) is type(original.net)
  np.testing.assert_array_equal(exported.stylize(photo), original.stylize(photo))


def test_float16_halves_the_file_and_stays_close(model_dir, tmp_path, rng):
  full = export_to(model_dir, tmp_path / "full")
  half = export_to(model_dir, tmp_path / "half", "float16")
  assert half["bytes"] < 0.6 * full["bytes"]
  photo = smooth_image(rng, 32, 32)
  np.testing.assert_allclose(api.load_model(str(tmp_path / "half")).stylize(photo),
                             api.load_model(str(tmp_path / "full")).stylize(photo), atol=2.0)


@pytest.mark.slow  # trains photo_model_dir (20-30 s) when it runs first
def test_refusals(model_dir, photo_model_dir, tmp_path):
  with pytest.raises(UserError, match="set --config.model"):
    export_to("", tmp_path / "x")
  with pytest.raises(UserError, match="unknown dtype"):
    export_to(model_dir, tmp_path / "x", "int8")
  with pytest.raises(UserError, match="another folder"):
    export_to(model_dir, model_dir)
  export_to(model_dir, tmp_path / "exported")
  (tmp_path / "exported" / "params.npz").write_bytes(b"PK\x03\x04 broken")
  with pytest.raises(UserError, match="params.npz is damaged"):
    api.load_model(str(tmp_path / "exported"))
  checkpoints.export_params(str(tmp_path / "exported" / "params.npz"), api.load_model(photo_model_dir).params, 2)
  with pytest.raises(UserError, match="does not match the network"):
    api.load_model(str(tmp_path / "exported"))
