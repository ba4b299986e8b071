"""The loss composition: masked and plain style, the matting term in both forms, targets, the terms' settings."""

import jax.numpy as jnp
import numpy as np
import pytest

from configs import luan
from stylejax import settings
from stylejax.core import matting, objective as objective_lib, terms
from stylejax.io import weights


@pytest.mark.parametrize("backend", ["banded", "matrix_free", "sparse"])
def test_every_laplacian_backend_gives_the_same_affine_term(backend, rng):
  content = rng.uniform(0, 255, (20, 24, 3)).astype(np.float32)
  image = jnp.asarray(rng.uniform(0, 255, (1, 20, 24, 3)), jnp.float32)
  data = matting.prepare(backend, content / 255.0)
  energy = float(jnp.sum(image / 255 * matting.apply(backend, data, image / 255)))
  lap = matting.laplacian(content / 255.0)
  flat = np.asarray(image[0], np.float64).reshape(-1, 3) / 255
  np.testing.assert_allclose(energy, np.sum(flat * (lap @ flat)), rtol=2e-4)


@pytest.mark.slow
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
  masked_targets = {"content": plain.features(vgg, content, plain.term("content").layers()), "masks": ones(32, 40),
                    "style": plain.style_grams(vgg, style, ones(36, 36)), "laplacian": laplacian}
  plain_targets = {"content": unmasked.features(vgg, content, unmasked.term("content").layers()), "style": unmasked.style_grams(vgg, style),
                   "laplacian": laplacian}
  image = content + 10.0
  a, b = plain.terms(image, vgg, masked_targets), unmasked.terms(image, vgg, plain_targets)
  for key in ("content", "style", "tv", "affine"):
    np.testing.assert_allclose(a[key], b[key], rtol=1e-4)


def test_a_missing_target_is_a_clear_error_and_the_builder_supplies_every_target(rng):
  vgg = weights.load_vgg()
  objective = settings.objective(luan.get_config("tiny"))  # masked, with the affine term
  content = jnp.asarray(rng.uniform(0, 255, (1, 32, 40, 3)), jnp.float32)
  grams = objective.blended_style_grams(vgg, [np.asarray(content[0])], style_masks=[np.ones((32, 40, 1), np.float32)])
  with pytest.raises(ValueError, match="needs targets masks, laplacian"):
    objective.terms(content, vgg, {"content": objective.features(vgg, content, objective.term("content").layers()), "style": grams})
  targets = objective.targets(vgg, content, grams, content_masks=np.ones((32, 40, 1), np.float32))
  assert set(targets) == set(objective.needed_targets)
  assert np.isfinite(float(objective.total(objective.terms(content + 5.0, vgg, targets))))


@pytest.mark.slow
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



def test_the_luan_normalization_sees_features_as_of_0_255_inputs(rng):
  """Luan's weights belong to Caffe features of 0..255 inputs: torchvision features are scaled by mean(std)."""
  vgg = weights.load_vgg()
  scale = float(np.mean(vgg.std))
  make = lambda normalization: objective_lib.Objective(  # noqa: E731
      ((terms.Content(("conv4_2",)), 1.0), (terms.Style((("conv1_1", 1.0),)), 1.0)), normalization)
  luan, mean = make("luan"), make("mean")
  content = jnp.asarray(rng.uniform(0, 255, (1, 32, 32, 3)), jnp.float32)
  style = rng.uniform(0, 255, (32, 32, 3)).astype(np.float32)
  image = content + 10.0
  values = {name: o.terms(image, vgg, o.targets(vgg, content, o.blended_style_grams(vgg, [style])))
           for name, o in (("luan", luan), ("mean", mean))}
  np.testing.assert_allclose(values["luan"]["content"], scale**2 * values["mean"]["content"], rtol=1e-4)
  np.testing.assert_allclose(values["luan"]["style"], scale**4 / 64**2 * values["mean"]["style"], rtol=1e-4)


def test_each_weight_picks_its_term_and_weight_zero_leaves_costly_terms_out():
  config = luan.get_config("tiny")
  objective = settings.objective(config)
  assert objective.names == ("content", "style", "tv", "affine")
  assert isinstance(objective.term("style"), terms.MaskedStyle) and isinstance(objective.term("affine"), terms.AffineEnergy)
  config.masks.source, config.loss.affine_form = "none", "difference"
  assert type(settings.objective(config).term("style")) is terms.Style
  assert isinstance(settings.objective(config).term("affine"), terms.AffineDifference)
  config.loss.affine_weight, config.loss.tv_weight = 0.0, 0.0
  assert settings.objective(config).names == ("content", "style", "tv")  # tv is cheap and logged; affine is not
  assert settings.objective(config).without("style").names == ("content", "tv")
  for key, value, message in (("affine_form", "ratio", "unknown affine form"), ("matting_eps", 0.0, "matting_eps"),
                              ("style_layer_weights", (1.0,), "1 values for 5 style layers"),
                              ("laplacian_backend", "dense", "unknown laplacian backend")):
    bad = luan.get_config("tiny")
    bad.loss[key] = value
    with pytest.raises(settings.UserError, match=message):
      settings.objective(bad)
