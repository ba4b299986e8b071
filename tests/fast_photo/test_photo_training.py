"""The training step with a network's own loss terms: the bilateral grid's smoothness enters the total."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import fast_photo
from stylejax import settings
from stylejax.io import weights
from stylejax.methods import training
from tests.helpers import OVERRIDES


@pytest.mark.slow
def test_network_terms_enter_the_total_with_their_weight():
  config = fast_photo.get_config("tiny")
  config.update(OVERRIDES)
  objective, net, tx = settings.objective(config), settings.network(config), optax.sgd(0.0)
  assert objective.weight("grid_smoothness") == config.loss.grid_smoothness_weight
  vgg = weights.load_vgg("vgg16")
  grams = objective.blended_style_grams(vgg, [np.full((48, 48, 3), 90.0, np.float32)])
  state = training.init_state(net, tx, 32, seed=0)
  last = [name for name in state["params"] if name.startswith("Conv_")][-1]
  state["params"][last]["kernel"] = jax.random.normal(jax.random.key(1), state["params"][last]["kernel"].shape) * 0.1
  batch = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
  params = jax.tree.map(jnp.copy, state["params"])  # the step donates the state's buffers
  terms = training.loss_terms(objective, net, params, vgg, grams, jnp.asarray(batch, jnp.float32))
  assert float(terms["grid_smoothness"]) > 0
  _, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx)
  without = objective.without("grid_smoothness")
  expected = without.total(terms) + config.loss.grid_smoothness_weight * terms["grid_smoothness"]
  np.testing.assert_allclose(float(metrics["total"]), float(expected), rtol=1e-5)
