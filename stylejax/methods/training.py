"""Feed-forward training (Johnson, Alahi, Fei-Fei 2016): one jitted step for any network and objective.

The network T_θ minimises over content batches C
    E_C [ objective.total(T_θ(C)) ]
with targets built by `Objective.targets` from each batch: the batch's own
content features (and matting-Laplacian data when the objective has the affine
term), the style's Gram matrices computed once. A network may add its own
terms (sown into its `losses` collection, e.g. the bilateral grid's
smoothness), weighted by `regularization`; `input_blend` b trains on
(1 − b)·T_θ(C) + b·C instead of T_θ(C) (the thesis's §4 model, b = 0.15; off
at inference). Data parallelism comes from
the caller's shardings (batch split over devices, parameters replicated; XLA
inserts the gradient all-reduce).
"""

import functools

import jax
import jax.numpy as jnp
import optax

from stylejax.core import nets


def loss_terms(objective, net, params, vgg, style_grams, content, input_blend=0.0):
  """Unweighted loss terms of T_θ on a content batch (B, H, W, 3) in 0..255: the objective's and the
  network's own (its `losses` collection)."""
  stylized, sown = net.apply({"params": params}, content, mutable=["losses"])
  if input_blend:
    stylized = nets.blend(stylized, content, 1.0 - input_blend)
  targets = jax.lax.stop_gradient(objective.targets(vgg, content, style_grams))
  own = {name: values[0] for name, values in sown.get("losses", {}).items()}
  return {**objective.terms(stylized, vgg, targets), **own}


@functools.partial(jax.jit, static_argnames=("objective", "net", "tx", "regularization", "input_blend"),
                   donate_argnames="state")
def train_step(state, batch, vgg, style_grams, *, objective, net, tx, regularization=(), input_blend=0.0):
  """One optimiser step on a uint8 batch -> (state, {term: value, 'total': value}).

  state = {params, opt_state, step, bad}: bad is -1, or the first step whose
  loss or gradient was NaN/Inf; from then on parameters stay as they were.
  regularization: ((network term, weight), ...) added to the objective's total.
  """
  content = batch.astype(jnp.float32)

  def loss_fn(params):
    terms = loss_terms(objective, net, params, vgg, style_grams, content, input_blend)
    return objective.total(terms) + sum(weight * terms[name] for name, weight in regularization), terms

  (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  params = optax.apply_updates(state["params"], updates)
  finite = jnp.isfinite(loss) & jnp.all(jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
  ok = (state["bad"] < 0) & finite
  params, opt_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), (params, opt_state),
                                   (state["params"], state["opt_state"]))
  bad = jnp.where((state["bad"] < 0) & ~finite, state["step"], state["bad"])
  return {"params": params, "opt_state": opt_state, "step": state["step"] + 1, "bad": bad}, {**terms, "total": loss}


def init_state(net, tx, image_size, seed):
  """{params, opt_state, step, bad} of a fresh network for square crops of image_size."""
  params = net.init(jax.random.key(seed), jnp.zeros((1, image_size, image_size, 3), jnp.float32))["params"]
  return {"params": params, "opt_state": tx.init(params), "step": jnp.int32(0), "bad": jnp.int32(-1)}
