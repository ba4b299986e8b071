"""The `score` job and api.score: files in, one row per output, clear errors."""

import json

import numpy as np
import pytest
from PIL import Image

from configs import score as score_config
from stylejax import api, launch
from stylejax.errors import UserError
from stylejax.io import assets
from tests.helpers import BLUE, RED, segmentation


@pytest.mark.slow
def test_score_job_scores_each_output_with_masks(tmp_path):
  content = np.asarray(Image.open(assets.path("astronaut.jpg")))
  h, w = content.shape[:2]
  Image.fromarray(segmentation(h, w, BLUE, RED).astype(np.uint8)).save(tmp_path / "c_seg.png")
  style_size = Image.open(assets.path("grace_hopper.jpg")).size
  Image.fromarray(segmentation(style_size[1], style_size[0], BLUE, RED).astype(np.uint8)).save(tmp_path / "s_seg.png")
  Image.fromarray(np.clip(content * 0.9 + 20, 0, 255).astype(np.uint8)).save(tmp_path / "shifted.png")
  config = score_config.get_config()
  config.outputs = (str(tmp_path / "shifted.png"), "bundled:astronaut.jpg")
  config.content_mask, config.style_mask = str(tmp_path / "c_seg.png"), str(tmp_path / "s_seg.png")
  scores = launch.run(config, str(tmp_path / "w"))
  assert list(scores) == ["shifted.png", "astronaut.jpg"]
  assert scores["astronaut.jpg"]["content"] == 0 and scores["shifted.png"]["content"] > 0
  saved = json.loads((tmp_path / "w" / "score.json").read_text())
  assert saved["masked"] and saved["scores"] == json.loads(json.dumps(scores))
  assert "| shifted.png |" in (tmp_path / "w" / "score.md").read_text()


def test_scoring_errors_are_user_errors():
  content, style = assets.path("astronaut.jpg"), assets.path("grace_hopper.jpg")
  with pytest.raises(UserError, match="different aspect ratio"):
    api.score(np.zeros((100, 300, 3)), content, style)
  with pytest.raises(UserError, match="needs both"):
    api.score(content, content, style, content_mask=np.zeros((10, 10, 3)))
  config = score_config.get_config()
  config.outputs = ()
  with pytest.raises(UserError, match="set --config.outputs"):
    launch.run(config, "/tmp/unused")
