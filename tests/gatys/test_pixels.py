"""The pixel-optimisation loop on arrays: chunks, callback, NaN halt, phases (two-stage, multi-scale), the optimiser."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from stylejax.core import lbfgs, objective as objective_lib, terms
from stylejax.io import weights
from stylejax.methods import pixels
from tests.helpers import smooth_image


def test_optimize_reports_every_chunk_lowers_the_loss_and_halts_on_nan(rng):
  vgg = weights.load_vgg()
  objective = objective_lib.Objective(((terms.Content(("relu2_2",)), 1.0),
                                       (terms.Style((("relu1_2", 1.0), ("relu2_2", 1.0))), 1e3),
                                       (terms.TotalVariation(), 1e-3)), "mean")
  content = jnp.asarray(smooth_image(rng, 32, 32))[None]
  targets = objective.targets(vgg, content, objective.blended_style_grams(vgg, [smooth_image(rng, 32, 32)]))
  start = content + 20.0
  calls = []
  x, halted_at, converged_at = pixels.optimize(start, vgg, targets, objective, learning_rate=2.0, steps=10, chunk=4,
                                 on_chunk=lambda done, x, terms, seconds: calls.append((done, float(terms["total"]))))
  assert halted_at is None and converged_at is None and [done for done, _ in calls] == [4, 8, 10]
  initial = float(pixels.evaluate(vgg, targets, start, objective=objective)["total"])
  assert calls[-1][1] < calls[0][1] < initial
  np.testing.assert_allclose(float(pixels.evaluate(vgg, targets, x, objective=objective)["total"]), calls[-1][1])
  poisoned = start.at[0, 3, 3, 0].set(jnp.nan)
  x, halted_at, _ = pixels.optimize(poisoned, vgg, targets, objective, steps=4, chunk=2)
  assert halted_at == 1 and bool(jnp.isnan(x).any())  # the image before the bad step: the input itself


def _pull(target, weight, x):
  return weight * jnp.mean(jnp.square(x - target))


def test_a_prior_is_minimised_with_the_objective_and_unread_losses_are_not_evaluated(rng, monkeypatch):
  """optimize(prior=P) minimises the objective's total plus P(x), which evaluate reports as 'prior'; without a
  callback or a tolerance nobody reads the loss, so no chunk is followed by an evaluation pass."""
  vgg = weights.load_vgg()
  objective = objective_lib.Objective(((terms.Content(("relu2_2",)), 1.0),), "mean")
  content = jnp.asarray(smooth_image(rng, 32, 32))[None]
  targets = objective.targets(vgg, content, None)
  goal = jnp.full_like(content, 128.0)
  prior = jax.tree_util.Partial(_pull, goal, jnp.float32(10.0))
  x = pixels.optimize(content, vgg, targets, objective, learning_rate=4.0, steps=40, chunk=4,
                      on_chunk=lambda *args: None, prior=prior)[0]
  before, after = (pixels.evaluate(vgg, targets, image, prior=prior, objective=objective) for image in (content, x))
  assert float(after["prior"]) < 0.5 * float(before["prior"])  # pulled towards the goal
  np.testing.assert_allclose(float(after["total"]), float(after["content"]) + float(after["prior"]), rtol=1e-5)
  monkeypatch.setattr(pixels, "evaluate", lambda *args, **kwargs: pytest.fail("evaluated though nobody reads it"))
  pixels.optimize(content, vgg, targets, objective, steps=4, chunk=2, prior=prior)


def test_phases_two_stage_and_multiscale():
  objective = objective_lib.Objective(((terms.Content(("conv4_2",)), 1.0), (terms.Style((("conv1_1", 1.0),)), 1.0),
                                       (terms.AffineEnergy(), 5.0)), "mean")
  plan = pixels.phases(objective, [32, 64], [30, 10], two_stage=True)
  assert [(size, o.weight("affine"), n) for size, o, n in plan] == [(32, 0.0, 30), (32, 5.0, 30), (64, 0.0, 10),
                                                                  (64, 5.0, 10)]
  assert len(pixels.phases(objective, [64], [10], two_stage=False)) == 1


def test_the_optimizer_sees_a_mean_loss_at_a_sums_scale_only_for_torchs_lbfgs():
  """pixels.optimizer is the step of both the optimisation and the bench job: Torch's L-BFGS on a mean-normalised
  objective sees the gradient times the image's size (pixels.gradient_scale); Adam and summed losses see it as is."""
  mean, summed = (objective_lib.Objective(((terms.TotalVariation(), 1.0),), norm) for norm in ("mean", "sum"))
  x, grad = jnp.zeros((1, 4, 5, 3)), jnp.linspace(-1e-3, 2e-3, 60).reshape(1, 4, 5, 3)

  def first_update(tx):
    return tx.update(grad, tx.init(x), x)[0]

  tx, _ = pixels.optimizer("lbfgs", 1.0, mean, x.size)
  np.testing.assert_allclose(first_update(tx), lbfgs.lbfgs(1.0).update(grad * x.size, lbfgs.lbfgs(1.0).init(x), x)[0],
                             rtol=1e-6)
  tx, _ = pixels.optimizer("lbfgs", 1.0, summed, x.size)
  np.testing.assert_allclose(first_update(tx), lbfgs.lbfgs(1.0).update(grad, lbfgs.lbfgs(1.0).init(x), x)[0], rtol=1e-6)
  tx, _ = pixels.optimizer("adam", 1.0, mean, x.size)
  np.testing.assert_allclose(first_update(tx), optax.adam(1.0).update(grad, optax.adam(1.0).init(x), x)[0], rtol=1e-6)


def test_a_cpu_chunk_has_no_loop_unless_it_line_searches():
  """XLA:CPU runs loop bodies on one thread (and unoptimised, 100x slower): a chunk's steps are written out, a
  chunk of one step too (a lax.scan of one step keeps its loop even when unrolled)."""
  objective = objective_lib.Objective(((terms.TotalVariation(), 1.0),), "mean")
  vgg, x = weights.load_vgg(), jnp.zeros((1, 8, 8, 3))
  for name, steps, looped in (("adam", 1, False), ("adam", 3, False), ("lbfgs", 2, False),
                              ("lbfgs_linesearch", 1, True)):
    tx, linesearch = pixels.optimizer(name, 1.0, objective, x.size)
    program = pixels.run_chunk.lower(vgg, {}, x, pixels.init_state(tx, x), objective=objective, tx=tx,
                                     linesearch=linesearch, steps=steps).as_text()
    assert ("stablehlo.while" in program) == looped, (name, steps)
