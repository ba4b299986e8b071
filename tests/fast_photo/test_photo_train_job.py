"""The train job with the photorealistic presets: the bilateral grid and the thesis's network, both with the matting
term."""

import json
import os

import numpy as np
import pytest

from configs import fast_photo, fast_photo_thesis
from stylejax.errors import UserError
from stylejax.jobs import train
from tests.helpers import assert_bitwise_equal, final_params, tiny_photo_config


pytestmark = pytest.mark.slow  # every test trains


def test_the_thesis_preset_trains_with_the_matting_term(tmp_path):
  """configs/fast_photo_thesis.py: the thesis's §4 term on each batch's own matrix-free Laplacian."""
  model = train.run(tiny_photo_config(fast_photo_thesis, total_steps=2, sample_every_steps=0), str(tmp_path))
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert "affine" in rows[-1] and np.isfinite(rows[-1]["affine"]) and rows[-1]["affine"] > 0
  assert model["steps"] == 2 and model["net"]["kind"] == "thesis" and model["net"]["input_blend"] == 0.15
  with pytest.raises(UserError, match="matrix_free"):
    config = tiny_photo_config(fast_photo_thesis)
    config.loss.laplacian_backend = "banded"
    train.run(config, str(tmp_path / "banded"))


def test_bilateral_model_trains_with_the_matting_term_and_resumes_bitwise(tmp_path):
  """configs/fast_photo.py:tiny,matting: interrupted at step 4 and resumed equals 6 straight steps."""
  config = lambda steps: tiny_photo_config(fast_photo, "tiny,matting", total_steps=steps)  # noqa: E731
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  model = train.run(config(6), straight)
  train.run(config(4), resumed)
  train.run(config(6), resumed)
  assert_bitwise_equal(final_params(resumed), final_params(straight))
  rows = [json.loads(line) for line in open(os.path.join(straight, "metrics.jsonl"))]
  assert all(np.isfinite(rows[-1][k]) and rows[-1][k] > 0 for k in ("affine", "grid_smoothness", "style"))
  assert model["net"]["kind"] == "bilateral" and model["parameters"] < 200_000
