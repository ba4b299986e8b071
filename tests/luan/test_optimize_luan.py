"""The optimize job in the photorealistic (Luan) setting: masks, matting term, stages."""

import json

import numpy as np
import pytest
from PIL import Image

from stylejax import api, launch
from stylejax.errors import UserError
from stylejax.io import assets


def tiny(**overrides):
  """configs/luan.py:tiny with overrides (`masks__source` for masks.source)."""
  return api.preset("luan:tiny", **overrides)


@pytest.mark.slow
def test_luan_tiny_with_auto_masks_writes_masks_and_photorealism_metrics(tmp_path, capfd):
  summary = launch.run(tiny(), str(tmp_path))
  assert "like a painting" not in capfd.readouterr().err  # the painting guard is quiet for a photo
  for name in ("result.png", "masks_content.png", "masks_style.png", "losses.png"):
    assert (tmp_path / name).is_file(), name
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert "affine" in rows[0] and rows[-1]["total"] < rows[1]["total"]
  assert summary["masks"] and summary["photorealism"]["affine_energy"] >= 0
  assert 0 < summary["photorealism"]["gradient_ssim"] <= 1


@pytest.mark.slow
def test_luan_with_mask_files_of_another_size(tmp_path):
  content, style = Image.open(assets.resolve(tiny().content)), Image.open(assets.resolve(tiny().style[0]))
  for name, image in (("c", content), ("s", style)):  # top half blue, bottom half red, at twice the size
    w, h = image.size
    seg = np.zeros((2 * h, 2 * w, 3), np.uint8)
    seg[:h, :, 2] = 255
    seg[h:, :, 0] = 255
    Image.fromarray(seg).save(tmp_path / f"{name}_seg.png")
  summary = launch.run(tiny(masks__source="files", masks__content=str(tmp_path / "c_seg.png"),
                          masks__style=str(tmp_path / "s_seg.png"), two_stage=True), str(tmp_path / "run"))
  assert summary["masks"] == ["blue", "red"]
  rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
  assert "affine" not in rows[0] and "affine" in rows[-1]  # stage 1 without, stage 2 with the term
  assert summary["steps"] == 20
  masks_png = np.asarray(Image.open(tmp_path / "run" / "masks_content.png"))
  assert masks_png.shape[1] == 2 * 64  # the image and its regions side by side


def test_mask_errors_are_user_errors(tmp_path):
  with pytest.raises(UserError, match="masks.source=files needs masks.content and masks.style"):
    launch.run(tiny(masks__source="files"), str(tmp_path))
  with pytest.raises(UserError, match="unknown masks.source"):
    launch.run(tiny(masks__source="sometimes"), str(tmp_path))
  with pytest.raises(UserError, match="unknown laplacian backend"):
    launch.run(tiny(loss__laplacian_backend="dense"), str(tmp_path))


@pytest.mark.slow
def test_smooth_affine_postprocess_runs_from_the_config_and_a_painted_style_is_named(tmp_path, capfd):
  summary = launch.run(tiny(postprocess="smooth_affine", masks__source="none", total_steps=5,
                            style=("bundled:the_scream.jpg",)), str(tmp_path))
  assert summary["photorealism"]["gradient_ssim"] > 0
  assert "textured all over, like a painting" in capfd.readouterr().err  # the painting guard
  with pytest.raises(UserError, match="unknown postprocess"):
    launch.run(tiny(postprocess="blur"), str(tmp_path / "x"))


@pytest.mark.slow
def test_luan_with_label_maps(tmp_path):
  for name, path in (("c", assets.resolve(tiny().content)), ("s", assets.resolve(tiny().style[0]))):
    size = Image.open(path).size
    labels = np.full((size[1], size[0]), 2, np.uint8)  # building
    labels[: size[1] // 2] = 3  # sky
    Image.fromarray(labels).save(tmp_path / f"{name}.png")
  summary = launch.run(tiny(masks__source="labels", masks__content=str(tmp_path / "c.png"),
                          masks__style=str(tmp_path / "s.png"), total_steps=5), str(tmp_path / "run"))
  assert summary["masks"] == ["building", "sky"]

