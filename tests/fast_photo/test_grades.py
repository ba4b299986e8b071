"""Random colour grades (stylejax.core.grades), the reference term, and the train step's graded styles and
self-supervised reference pairs for a network that takes a style."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from stylejax import settings
from stylejax.core import grades, networks, terms
from stylejax.core import vgg as vgg_lib
from stylejax.errors import UserError
from stylejax.methods import training
from tests.helpers import assert_bitwise_equal, smooth_image, tiny_config, tiny_params

STRONG = grades.Augment(mix=0.5, curve=2.0, levels=0.45, saturation=1.0, contrast=1.0, brightness=0.5)
NONE = grades.Augment(mix=0.0, curve=0.0, levels=0.0, saturation=0.0, contrast=0.0, brightness=0.0)
draw, apply = jax.jit(grades.random_grades, static_argnums=(1, 2)), jax.jit(grades.apply_grade)


@pytest.fixture
def photos(rng):
  return jnp.asarray(np.stack([smooth_image(rng, 24, 20) for _ in range(4)]))


def test_the_identity_grade_gives_the_input_exactly(photos):
  whole = jnp.round(photos)  # 8-bit photos as the data pipeline gives them, and any floats in 0..255
  identity = grades.where(jnp.zeros(4, bool), draw(jax.random.key(0), 4, STRONG))
  zero_strengths = draw(jax.random.key(1), 4, NONE)
  for images in (photos, whole):
    assert_bitwise_equal(apply(identity, images), images)
    assert_bitwise_equal(apply(zero_strengths, images), images)
  assert_bitwise_equal(grades.apply_grade(identity, photos), photos)  # not jitted


def test_grades_are_monotone_per_channel_and_change_colours(photos):
  ramp = jnp.broadcast_to(jnp.arange(256.0)[None, None, :, None], (16, 1, 256, 3))  # grey 0..255
  graded = np.asarray(apply(draw(jax.random.key(2), 16, STRONG), ramp))
  assert np.all(np.diff(graded, axis=2) >= -1e-3)  # every example, every channel
  assert graded.min() >= 0 and graded.max() <= 255
  casts = graded[:, 0, 128, :]
  assert np.ptp(casts, axis=1).max() > 10  # the per-channel curves tint mid-grey
  changed = apply(draw(jax.random.key(3), 4, grades.Augment()), photos)
  assert 2 < float(jnp.abs(changed - photos).mean()) < 60


def test_grades_are_deterministic_per_key_and_jittable(photos):
  first, again, other = (draw(jax.random.key(seed), 4, STRONG) for seed in (5, 5, 6))
  assert_bitwise_equal(first, again)
  assert all(not np.allclose(a, b) for a, b in zip(first, other))
  eager = grades.random_grades(jax.random.key(5), 4, STRONG)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), first, eager)
  np.testing.assert_allclose(apply(first, photos), grades.apply_grade(first, photos), atol=1e-3)


def test_augment_settings_are_checked_in_one_line():
  with pytest.raises(ValueError, match="augment.curve must be a number from 0 to 2"):
    grades.Augment(curve=5.0)
  config = tiny_config()  # a Johnson network: no style input
  config.augment.grade_probability = 0.5
  with pytest.raises(UserError, match="a johnson network takes none"):
    settings.augment(config, settings.network(config))
  config = tiny_config()
  config.loss.reference_weight = 1.0
  with pytest.raises(UserError, match="set augment.pair_probability > 0"):
    settings.augment(config, settings.network(config))
  config.augment.pair_probability = 1.5
  with pytest.raises(UserError, match="augment.pair_probability must be a number from 0 to 1"):
    settings.augment(config, settings.network(config))


def test_the_reference_term_is_the_mean_over_examples_that_have_one(rng):
  output, reference = (rng.uniform(0, 255, (3, 4, 5, 3)).astype(np.float32) for _ in range(2))
  term = terms.Reference()

  def value(present):
    context = terms.TargetContext(None, None, jnp.asarray(output), None, None,
                                  None if present is None else (jnp.asarray(reference), jnp.asarray(present)))
    return float(term(terms.Seen(jnp.asarray(output), {}, term.targets(context), {}, "mean")))

  squared = ((output - reference) / 255.0) ** 2
  np.testing.assert_allclose(value([1.0, 0.0, 1.0]), (squared[0].mean() + squared[2].mean()) / 2, rtol=1e-5)
  assert value([0.0, 0.0, 0.0]) == 0.0 and value(None) == 0.0  # no pairs, or no reference images at all


def test_pairs_take_another_photo_of_the_batch_under_the_same_grade(photos):
  pair_all = dataclasses.replace(NONE, pair_probability=1.0)
  styles = jnp.zeros((4, 30, 30, 3))
  paired, (reference, present) = jax.jit(training.augment_styles, static_argnums=0)(
      pair_all, jax.random.key(0), photos, styles)
  assert paired.shape == styles.shape and np.all(np.asarray(present) == 1)
  assert_bitwise_equal(reference, photos)  # ungraded: the reference is each example's own photo
  resized = jax.image.resize(photos, styles.shape, "linear")
  for k in range(4):
    matches = [j for j in range(4) if np.allclose(paired[k], resized[j], atol=1e-3)]
    assert len(matches) == 1 and matches[0] != k
  plain, (_, present) = training.augment_styles(grades.Augment(), jax.random.key(0), photos, styles)
  assert_bitwise_equal(plain, styles)
  assert not np.any(present)


class _Blend(nn.Module):
  @nn.compact
  def __call__(self, content, style):
    towards_style = self.param("towards_style", nn.initializers.zeros, ())
    return content + towards_style * (style - content)


@dataclasses.dataclass(frozen=True)
class StyleBlend(networks.Network):
  """content + w · (style − content), w a parameter: the content itself at w = 0, the style image at w = 1."""
  kind = "style_blend"
  takes_style = True

  def module(self):
    return _Blend()


@pytest.fixture(scope="module")
def step_inputs():
  config = tiny_config()
  config.loss.reference_weight = 1.0
  vgg = vgg_lib.Vgg(params=tiny_params("vgg16"), mean=np.full(3, 120.0), std=np.full(3, 60.0), arch="vgg16")
  rng = np.random.default_rng(1)
  batch, styles = (np.stack([smooth_image(rng, 32, 32) for _ in range(2)]).astype(np.uint8) for _ in range(2))
  return settings.objective(config), vgg, batch, styles


def _step(step_inputs, augment, towards_style=0.0, batch=None, step=5, tx=optax.sgd(0.0)):
  objective, vgg, photos, styles = step_inputs
  net = StyleBlend()
  state = training.init_state(net, tx, 32, seed=0, style_size=32)
  state["params"] = {"towards_style": jnp.float32(towards_style)}
  state["opt_state"], state["step"] = tx.init(state["params"]), jnp.int32(step)
  state, metrics = training.train_step(state, photos if batch is None else batch, vgg, None, objective=objective,
                                       net=net, tx=tx, styles=styles, augment=augment, seed=3)
  return state, {name: float(value) for name, value in metrics.items()}


def test_a_pair_step_scores_the_known_answer(step_inputs):
  photos = step_inputs[2].astype(np.float32)
  pairs = dataclasses.replace(NONE, pair_probability=1.0)
  # Ungraded pairs of two photos: example k's style is the other photo, its reference its own photo.
  assert _step(step_inputs, pairs, towards_style=0.0)[1]["reference"] == 0.0
  np.testing.assert_allclose(_step(step_inputs, pairs, towards_style=1.0)[1]["reference"],
                             np.mean(((photos[0] - photos[1]) / 255.0) ** 2), rtol=1e-5)
  # Graded pairs of one photo: style and reference are that photo under the same grade G_k.
  same = np.repeat(step_inputs[2][:1], 2, axis=0)
  strong_pairs = dataclasses.replace(STRONG, pair_probability=1.0)
  assert _step(step_inputs, strong_pairs, towards_style=1.0, batch=same)[1]["reference"] < 1e-10
  assert _step(step_inputs, strong_pairs, towards_style=0.0, batch=same)[1]["reference"] > 1e-3


def test_graded_styles_are_drawn_by_seed_and_step_and_zero_probabilities_change_nothing(step_inputs):
  tx = optax.sgd(1e-3)
  today, today_metrics = _step(step_inputs, None, towards_style=0.5, tx=tx)
  state, metrics = _step(step_inputs, grades.Augment(), towards_style=0.5, tx=tx)  # both probabilities 0
  assert_bitwise_equal(state["params"], today["params"])
  assert metrics == today_metrics
  state, metrics = _step(step_inputs, dataclasses.replace(NONE, grade_probability=1.0), towards_style=0.5, tx=tx)
  np.testing.assert_allclose(state["params"]["towards_style"], today["params"]["towards_style"], rtol=1e-6)
  assert metrics == pytest.approx(today_metrics, rel=1e-6, abs=1e-12)  # every style graded by the identity
  graded = dataclasses.replace(STRONG, grade_probability=1.0)
  metrics = _step(step_inputs, graded, towards_style=0.5)[1]
  assert metrics["style"] != pytest.approx(today_metrics["style"], rel=1e-3)
  assert _step(step_inputs, graded, towards_style=0.5)[1] == metrics  # resumed at step 5: the same grades
  assert _step(step_inputs, graded, towards_style=0.5, step=6)[1]["style"] != metrics["style"]
