"""Training for video: the temporal loss term (stylejax.core.terms.Temporal), its random motions, and a fine-tune
through the train job (--config.init_from with the term on)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax import settings
from stylejax.core import terms, warping
from stylejax.errors import UserError
from stylejax.jobs import train
from tests.helpers import final_params, tiny_config


def test_random_moves_are_their_flows():
  """Without noise, a moved image is the image sampled along its flow; the masks keep the pixels whose source
  is inside; the motions stay within their bounds."""
  images = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (3, 24, 32, 3)), jnp.float32)
  moved, flows, masks = warping.random_moves(jax.random.key(0), images, shift=3.0, degrees=2.0, zoom=0.05,
                                             noise=0.0)
  for k in range(3):
    expected, inside = warping.warp(images[k], flows[k])
    np.testing.assert_allclose(moved[k], expected, atol=1e-4)
    assert (np.asarray(masks[k]) == np.asarray(inside)).all() and 0.7 < float(masks[k].mean()) < 1.0
  assert float(jnp.abs(flows).max()) < 3.0 + 32 * (0.05 + np.deg2rad(2.0))


def test_the_temporal_term_is_zero_for_outputs_that_move_with_the_input():
  """N(x) = x + 10 moves with its input: T = 0; a fixed pattern laid over every output does not: T > 0."""
  x = jnp.asarray(np.random.default_rng(1).uniform(20, 200, (2, 20, 24, 3)), jnp.float32)
  term = terms.Temporal(noise=0.0)
  moved, flows, masks = term.moves(jax.random.key(3), x)

  def value(network):
    seen = terms.Seen(network(x), {}, {}, {}, "mean", (network(moved), flows, masks))
    return float(term(seen))

  assert value(lambda images: images + 10.0) < 1e-8
  pattern = 30.0 * jnp.sin(jnp.arange(24.0))[None, None, :, None]
  assert value(lambda images: images + pattern) > 1e-3
  with pytest.raises(ValueError, match="only in training"):
    term(terms.Seen(x, {}, {}, {}, "mean"))


@pytest.mark.slow
def test_a_fine_tune_with_the_temporal_term_through_the_train_job(tmp_path):
  """A model trained 2 steps, then fine-tuned 2 steps with the temporal term from its parameters: the fine-tune
  starts from them (step 0 is the base model's) and logs the term; another network is refused."""
  base = str(tmp_path / "base")
  train.run(tiny_config(total_steps=2, sample_every_steps=0), base)
  tuned = str(tmp_path / "tuned")
  config = tiny_config(total_steps=2, sample_every_steps=0, init_from=base)
  config.loss.temporal_weight = 100.0
  assert "temporal" in settings.objective(config).names
  train.run(config, tuned)
  rows = [json.loads(line) for line in open(f"{tuned}/metrics.jsonl")]
  assert all(row["temporal"] > 0 for row in rows if "temporal" in row) and any("temporal" in row for row in rows)
  base_params, tuned_params = final_params(base), final_params(tuned)
  changes = [np.abs(a - b).max() for a, b in zip(jax.tree.leaves(base_params), jax.tree.leaves(tuned_params))]
  assert 0 < max(changes) < 0.1  # two Adam steps at 1e-3 from the base model, not from a fresh one
  other = tiny_config(total_steps=1, sample_every_steps=0, init_from=base)
  other.net.width = 8
  with pytest.raises(UserError, match="another network"):
    train.run(other, str(tmp_path / "other"))
