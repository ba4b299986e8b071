"""Torch-style L-BFGS (fixed step, no line search) against a plain two-loop reference of Torch's algorithm."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylejax.core import lbfgs


def torch_lbfgs_reference(grad_fn, x, steps, lr, memory):
  """Torch's optim.LBFGS (line_search_fn=None) iterations, two-loop recursion, in float64 numpy."""
  old_s, old_y, path = [], [], [x.copy()]
  g_prev = d_prev_t = None
  h_diag = 1.0
  for k in range(steps):
    g = grad_fn(x)
    if k == 0:
      d = -g
    else:
      y, s = g - g_prev, d_prev_t
      if y @ s > 1e-10:
        if len(old_s) == memory:
          old_s.pop(0)
          old_y.pop(0)
        old_s.append(s)
        old_y.append(y)
        h_diag = (y @ s) / (y @ y)
      q, alphas = -g, []
      for s_i, y_i in reversed(list(zip(old_s, old_y))):
        alpha = (s_i @ q) / (y_i @ s_i)
        alphas.append(alpha)
        q = q - alpha * y_i
      r = q * h_diag
      for (s_i, y_i), alpha in zip(zip(old_s, old_y), reversed(alphas)):
        r = r + s_i * (alpha - (y_i @ r) / (y_i @ s_i))
      d = r
    t = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
    x = x + t * d
    g_prev, d_prev_t = g, t * d
    path.append(x.copy())
  return np.array(path)


def test_iterates_match_torchs_algorithm_through_a_full_history_ring(rng):
  n = 12
  a = rng.normal(size=(n, n))
  hessian = a @ a.T / n + np.eye(n)
  shift = rng.normal(size=n)

  def loss(x):  # a quadratic plus a quartic, so the curvature changes along the way
    return 0.5 * (x - shift) @ hessian @ (x - shift) + 0.05 * jnp.sum(x**4)

  grad = jax.grad(loss)
  x0 = rng.normal(size=n)
  expected = torch_lbfgs_reference(lambda x: hessian @ (x - shift) + 0.2 * x**3, x0, steps=15, lr=0.5, memory=4)
  tx = lbfgs.lbfgs(learning_rate=0.5, memory_size=4)
  x = jnp.asarray(x0, jnp.float32)
  state = tx.init(x)
  path = [np.asarray(x)]
  update = jax.jit(tx.update)
  for _ in range(15):
    updates, state = update(grad(x), state)
    x = optax.apply_updates(x, updates)
    path.append(np.asarray(x))
  np.testing.assert_allclose(np.array(path), expected, rtol=2e-3, atol=2e-4)
  assert float(loss(path[-1])) < 0.05 * float(loss(path[0]))


def test_the_step_has_no_loop_and_minimises_a_quadratic(rng):
  target = jnp.asarray(rng.normal(size=(8, 8, 3)), jnp.float32)
  loss = lambda x: 0.5 * jnp.sum((x - target) ** 2 * jnp.arange(1, 4))  # noqa: E731
  tx = lbfgs.lbfgs(learning_rate=1.0, memory_size=10)
  x = jnp.zeros((8, 8, 3))
  state = tx.init(x)
  step = jax.jit(lambda x, state: tx.update(jax.grad(loss)(x), state))
  assert "while" not in step.lower(x, state).as_text()
  for _ in range(20):
    updates, state = step(x, state)
    x = optax.apply_updates(x, updates)
  assert float(loss(x)) < 1e-6
