"""The photorealistic (Luan) setting of the optimize job: masks, matting term, stages."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import luan
from stylejax import api, launch, settings
from stylejax.core import matting, objective as objective_lib
from stylejax.errors import UserError
from stylejax.io import assets, weights
from stylejax.methods import pixels


def tiny(**overrides):
  """configs/luan.py:tiny with overrides (`masks__source` for masks.source)."""
  return api.preset("luan:tiny", **overrides)


def test_luan_tiny_with_auto_masks_writes_masks_and_photorealism_metrics(tmp_path):
  summary = launch.run(tiny(), str(tmp_path))
  for name in ("result.png", "masks_content.png", "masks_style.png", "losses.png"):
    assert (tmp_path / name).is_file(), name
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert "affine" in rows[0] and rows[-1]["total"] < rows[1]["total"]
  assert summary["masks"] and summary["photorealism"]["affine_energy"] >= 0
  assert 0 < summary["photorealism"]["gradient_ssim"] <= 1


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


def test_phases_two_stage_and_multiscale():
  objective = objective_lib.Objective(("conv4_2",), (("conv1_1", 1.0),), 1.0, 1.0, 1.0, affine_weight=5.0)
  plan = pixels.phases(objective, [32, 64], two_stage=True)
  assert [(size, o.affine_weight) for size, o in plan] == [(32, 0.0), (32, 5.0), (64, 0.0), (64, 5.0)]
  assert len(pixels.phases(objective, [64], two_stage=False)) == 1


@pytest.mark.parametrize("backend", ["banded", "matrix_free", "sparse"])
def test_every_laplacian_backend_gives_the_same_affine_term(backend, rng):
  content = rng.uniform(0, 255, (20, 24, 3)).astype(np.float32)
  image = jnp.asarray(rng.uniform(0, 255, (1, 20, 24, 3)), jnp.float32)
  data = matting.prepare(backend, content / 255.0)
  energy = float(jnp.sum(image / 255 * matting.apply(backend, data, image / 255)))
  lap = matting.laplacian(content / 255.0)
  flat = np.asarray(image[0], np.float64).reshape(-1, 3) / 255
  np.testing.assert_allclose(energy, np.sum(flat * (lap @ flat)), rtol=2e-4)


def test_masked_objective_with_one_region_equals_the_plain_one(rng):
  vgg = weights.load_vgg()
  config = luan.get_config("tiny")
  plain = settings.objective(config)
  config.masks.source = "none"
  unmasked = settings.objective(config)
  content = jnp.asarray(rng.uniform(0, 255, (1, 32, 40, 3)), jnp.float32)
  style = jnp.asarray(rng.uniform(0, 255, (1, 36, 36, 3)), jnp.float32)
  ones = lambda h, w: {layer: jnp.ones((1, *shape, 1)) for layer, shape in plain.layer_shapes(vgg, h, w).items()}  # noqa: E731
  laplacian = matting.prepare("banded", np.asarray(content[0]) / 255.0)
  masked_targets = {"content": plain.content_targets(vgg, content), "masks": ones(32, 40),
                    "style": plain.style_grams(vgg, style, ones(36, 36)), "laplacian": laplacian}
  plain_targets = {"content": unmasked.content_targets(vgg, content), "style": unmasked.style_grams(vgg, style),
                   "laplacian": laplacian}
  image = content + 10.0
  a, b = plain.terms(image, vgg, masked_targets), unmasked.terms(image, vgg, plain_targets)
  for key in ("content", "style", "tv", "affine"):
    np.testing.assert_allclose(a[key], b[key], rtol=1e-4)


def test_guided_filter_keeps_affine_functions_of_the_guide_and_smooths_noise(rng):
  from stylejax.core import postprocess
  guide = rng.uniform(0, 1, (20, 24, 3))
  affine = guide @ np.array([[0.5, 0.1, 0.0], [0.2, 0.3, 0.1], [0.0, 0.2, 0.6]]) + 0.1
  np.testing.assert_allclose(postprocess.guided_filter(guide, affine, 2, 1e-8), affine, atol=1e-4)
  flat = np.full((20, 24, 3), 0.5)
  noisy = flat + rng.normal(0, 0.1, flat.shape)
  smoothed = postprocess.guided_filter(flat + 1e-3 * guide, noisy, 2, 1e-2)
  assert np.std(smoothed - flat) < 0.3 * np.std(noisy - flat)


def test_smooth_affine_postprocess_runs_from_the_config(tmp_path):
  summary = launch.run(tiny(postprocess="smooth_affine", masks__source="none", total_steps=5), str(tmp_path))
  assert summary["photorealism"]["gradient_ssim"] > 0
  with pytest.raises(UserError, match="unknown postprocess"):
    launch.run(tiny(postprocess="blur"), str(tmp_path / "x"))


def test_luan_with_label_maps(tmp_path):
  for name, path in (("c", assets.resolve(tiny().content)), ("s", assets.resolve(tiny().style[0]))):
    size = Image.open(path).size
    labels = np.full((size[1], size[0]), 2, np.uint8)  # building
    labels[: size[1] // 2] = 3  # sky
    Image.fromarray(labels).save(tmp_path / f"{name}.png")
  summary = launch.run(tiny(masks__source="labels", masks__content=str(tmp_path / "c.png"),
                          masks__style=str(tmp_path / "s.png"), total_steps=5), str(tmp_path / "run"))
  assert summary["masks"] == ["building", "sky"]


def test_a_missing_target_is_a_clear_error_and_the_builder_supplies_every_target(rng):
  vgg = weights.load_vgg()
  objective = settings.objective(luan.get_config("tiny"))  # masked, with the affine term
  content = jnp.asarray(rng.uniform(0, 255, (1, 32, 40, 3)), jnp.float32)
  grams = objective.blended_style_grams(vgg, [np.asarray(content[0])], style_masks=[np.ones((32, 40, 1), np.float32)])
  with pytest.raises(ValueError, match="needs targets masks, laplacian"):
    objective.terms(content, vgg, {"content": objective.content_targets(vgg, content), "style": grams})
  targets = objective.targets(vgg, content, grams, content_masks=np.ones((32, 40, 1), np.float32))
  assert set(targets) == set(objective.needed_targets)
  assert np.isfinite(float(objective.total(objective.terms(content + 5.0, vgg, targets))))


def test_the_thesis_difference_form_is_zero_at_the_content_and_matches_the_energy_of_the_difference(rng):
  vgg = weights.load_vgg()
  config = luan.get_config("tiny")
  config.masks.source = "none"
  config.loss.affine_form, config.loss.laplacian_backend = "difference", "matrix_free"
  objective = settings.objective(config)
  content = jnp.asarray(rng.uniform(0, 255, (2, 24, 24, 3)), jnp.float32)  # a batch: each image its own L
  targets = objective.targets(vgg, content, objective.blended_style_grams(vgg, [np.asarray(content[0])]))
  assert float(objective.terms(content, vgg, targets)["affine"]) < 1e-6
  image = content + jnp.asarray(rng.normal(0, 20, content.shape), jnp.float32)
  lap = [matting.laplacian(np.asarray(c, np.float64) / 255.0) for c in content]
  diff = (np.asarray(image, np.float64) - np.asarray(content, np.float64)) / 255.0
  expected = np.mean([np.sum((lap[b] @ diff[b].reshape(-1, 3)) ** 2) / (24 * 24) for b in range(2)])
  np.testing.assert_allclose(float(objective.terms(image, vgg, targets)["affine"]), expected, rtol=5e-3)
