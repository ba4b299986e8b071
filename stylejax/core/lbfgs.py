"""L-BFGS as Torch's `optim.lbfgs` runs it in neural-style and Luan's code: a fixed step, no line search.

Per step, with gradient g and the last m pairs (s_i, y_i) of steps and gradient changes:

  d = −H g,  H the L-BFGS inverse-Hessian estimate with H₀ = γ I, γ = sᵀy / yᵀy of the newest pair
  x ← x + t d,  t = lr · min(1, 1 / ‖g‖₁) on the first step, t = lr after (Torch's rule)

and a pair is kept only when sᵀy > 1e-10 (curvature condition). H g is computed
in the compact form of Byrd, Nocedal & Schnabel (1994, eq. 3.5), so the step is
matrix products and two m×m triangular solves, with no loop over the history
(XLA:CPU runs loop bodies on one thread):

  H g = γ g + S u + γ Y v,   v = −R⁻¹ Sᵀg,   u = R⁻ᵀ ((D + γ YᵀY) R⁻¹ Sᵀg − γ Yᵀg)

with S, Y the pairs as rows in chronological order, R the upper triangle of SᵀY
and D its diagonal. The history is a ring buffer; SᵀY and YᵀY are kept up to
date one row and column per step. Empty slots are zero rows, decoupled by a
unit diagonal in R. The history (S and Y stacked, 2m×n) is written one pair
in place and read twice per step, by two matrix products (2.6x faster at
110592 unknowns than a product per vector and a select of the whole history).
"""

from typing import NamedTuple

import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import optax

CURVATURE_EPS = 1e-10


class LbfgsState(NamedTuple):
  pairs: jax.Array  # (2m, n): the steps s_i (rows i) and gradient changes y_i (rows m + i), ring buffer
  sy: jax.Array  # (m, m): sy[i, j] = s_i · y_j
  yy: jax.Array  # (m, m): yy[i, j] = y_i · y_j
  age: jax.Array  # (m,) insertion number of each slot, -1 while empty
  gamma: jax.Array  # H₀ = γ I
  previous_grad: jax.Array  # (n,)
  previous_step: jax.Array  # (n,) the last update t·d
  count: jax.Array  # steps taken


def _remember(state, grad):
  """(state with the pair (last step s, gradient change y) added when it meets the curvature condition,
  (s_i · g, y_i · g) over its slots).

  The pair's two rows are written in place first; then the history is read once: its products with s, y and
  g are one (2m, n)·(n, 3) matrix product (no copy or select of the whole history, which XLA:CPU made per step)."""
  s, y = state.previous_step, grad - state.previous_grad
  memory = state.age.shape[0]
  sy_new = jnp.vdot(s, y)
  accept = (state.count > 0) & (sy_new > CURVATURE_EPS)
  slot = jnp.argmin(state.age)  # the empty or the oldest slot
  rows = jnp.stack([slot, memory + slot])
  pairs = state.pairs.at[rows].set(jnp.where(accept, jnp.stack([s, y]), state.pairs[rows]))
  dots = pairs @ jnp.stack([s, y, grad], axis=1)  # (2m, 3): s_i·(s, y, g), then y_i·(s, y, g)
  s_dots, y_dots = dots[:memory], dots[memory:]
  new = (state.sy.at[slot, :].set(y_dots[:, 0]).at[:, slot].set(s_dots[:, 1]),  # s·y_j, s_i·y
         state.yy.at[slot, :].set(y_dots[:, 1]).at[:, slot].set(y_dots[:, 1]), state.age.at[slot].set(state.count),
         sy_new / jnp.vdot(y, y))
  sy, yy, age, gamma = (jnp.where(accept, a, b) for a, b in zip(new, (state.sy, state.yy, state.age, state.gamma)))
  return state._replace(pairs=pairs, sy=sy, yy=yy, age=age, gamma=gamma), (s_dots[:, 2], y_dots[:, 2])


def inverse_hessian_times(state, grad, grad_dots):
  """H g in the compact form (module docstring); grad_dots = (S g, Y g) by slot."""
  valid = state.age >= 0
  order = jnp.argsort(jnp.where(valid, state.age, -1))  # oldest first; empty slots (all zero) first of all
  valid_o = valid[order]
  sy = state.sy[order][:, order]
  yy = state.yy[order][:, order]
  r = jnp.triu(sy) + jnp.diag(jnp.where(valid_o, 0.0, 1.0))
  d = jnp.diag(jnp.where(valid_o, jnp.diag(sy), 0.0))
  a, b = grad_dots[0][order], grad_dots[1][order]
  r_inv_a = jax.scipy.linalg.solve_triangular(r, a, lower=False)
  v = -r_inv_a
  u = jax.scipy.linalg.solve_triangular(r, (d + state.gamma * yy) @ r_inv_a - state.gamma * b, lower=False,
                                        trans="T")
  u_slots, v_slots = jnp.zeros_like(u).at[order].set(u), jnp.zeros_like(v).at[order].set(v)
  coefficients = jnp.concatenate([u_slots, state.gamma * v_slots])  # S u + γ Y v: one pass over the history
  return state.gamma * grad + coefficients @ state.pairs


def lbfgs(learning_rate=1.0, memory_size=100):
  """An optax GradientTransformation: Torch-style L-BFGS with a fixed step (module docstring)."""

  def init(params):
    n = sum(p.size for p in jax.tree.leaves(params))
    zeros = jnp.zeros((n,), jnp.float32)
    return LbfgsState(pairs=jnp.zeros((2 * memory_size, n), jnp.float32),
                      sy=jnp.zeros((memory_size, memory_size), jnp.float32),
                      yy=jnp.zeros((memory_size, memory_size), jnp.float32),
                      age=jnp.full((memory_size,), -1, jnp.int32), gamma=jnp.float32(1.0), previous_grad=zeros,
                      previous_step=zeros, count=jnp.int32(0))

  def update(grads, state, params=None):
    del params
    flat, unflatten = ravel_pytree(grads)
    flat = flat.astype(jnp.float32)
    state, grad_dots = _remember(state, flat)
    direction = -inverse_hessian_times(state, flat, grad_dots)
    first = learning_rate * jnp.minimum(1.0, 1.0 / jnp.maximum(jnp.abs(flat).sum(), 1e-30))
    step = jnp.where(state.count == 0, first, learning_rate) * direction
    state = state._replace(previous_grad=flat, previous_step=step, count=state.count + 1)
    return unflatten(step.astype(flat.dtype)), state

  return optax.GradientTransformation(init, update)
