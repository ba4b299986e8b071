"""The stylize job with a bilateral-grid model: folders and a 4K photo in one pass, no tiles."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from stylejax import api
from stylejax.errors import UserError
from stylejax.io import images
from stylejax.jobs import stylize
from tests.helpers import stylize_cfg


@pytest.mark.slow
def test_a_bilateral_model_stylises_a_folder_and_a_4k_photo_in_one_pass(photo_model_dir, photo_tree, tmp_path):
  """configs/fast_photo.py models load from their directory like Johnson ones; no tiling at any size."""
  model = api.load_model(photo_model_dir)
  assert model.net.kind == "bilateral" and not model.net.tiles
  out, work = tmp_path / "out", str(tmp_path / "work")
  with pytest.raises(UserError, match="1 of 6 images failed"):
    stylize.run(stylize_cfg(photo_model_dir, photo_tree, out), work)
  assert json.load(open(os.path.join(work, "stylize.json")))["tiled"] == 0  # huge.png is over tile_pixels
  content = images.load_image(photo_tree / "b.png")
  np.testing.assert_allclose(images.load_image(out / "b.png"), model.stylize(content), atol=1.0)
  stylize.run(stylize_cfg(photo_model_dir, photo_tree / "b.png", tmp_path / "none", strength=0.0), work)
  np.testing.assert_allclose(images.load_image(tmp_path / "none" / "b.png"), content, atol=1.0)

  ramp = np.linspace(0, 255, 3840, dtype=np.float32)
  photo = np.stack([np.broadcast_to(ramp, (2160, 3840)), np.broadcast_to(ramp[::-1], (2160, 3840)),
                    np.broadcast_to(np.linspace(0, 255, 2160)[:, None], (2160, 3840))], axis=-1)
  Image.fromarray(images.to_uint8(photo)).save(tmp_path / "uhd.jpg", quality=95)
  summary = stylize.run(stylize_cfg(photo_model_dir, tmp_path / "uhd.jpg", tmp_path / "uhd", output_format="jpeg",
                                    tile_pixels=4096 * 4096), str(tmp_path / "w4k"))
  assert summary["stylised"] == 1 and summary["tiled"] == 0
  assert Image.open(tmp_path / "uhd" / "uhd.jpg").size == (3840, 2160)
