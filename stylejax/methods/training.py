"""Feed-forward training (Johnson, Alahi, Fei-Fei 2016): one jitted step for any network and objective.

The network T_θ minimises over content batches C
    E_C [ objective.total(T_θ(C)) ]
with targets built by `Objective.targets` from each batch: the batch's own
content features (and matting-Laplacian data when the objective has the affine
term), the style's Gram matrices computed once, or, for a network that takes a
style input (`net.takes_style`), each example's style image, whose Grams are
computed in the step. For such a network the step can also grade the styles at
random (`augment`, stylejax.core.grades) and make self-supervised reference
pairs (`augment_styles`), and, for one that also takes region masks
(`net.takes_masks`), find `regions` regions each content shares with its style
(stylejax.core.masks.batch_regions): the network sees them and the style term
is Luan's masked one, per region. The network's own regularisers (its `train_apply`) are
terms of the objective like any other (stylejax.core.terms.NetworkTerm). Data
parallelism comes from the caller's shardings (batch split over devices,
parameters replicated; XLA inserts the gradient all-reduce).
"""


import jax
import jax.numpy as jnp
import optax

from stylejax.core import grades, masks as masks_lib, xla


def style_targets(objective, vgg, styles, masks=None):
  """Per-example Gram targets ({layer: (B, N, N)}) of a batch of style images (B, H, W, 3) in 0..255; with
  their region masks (B, H, W, K), per region ({layer: (B, K, N, N)})."""
  def grams(style, mask):
    return objective.style_grams(vgg, style[None], None if mask is None else objective.layer_masks(vgg, mask))

  per_example = jax.vmap(grams)(styles, masks)
  return {layer: gram[:, 0] for layer, gram in per_example.items()}


def loss_terms(objective, net, params, vgg, style_grams, content, styles=None, reference=None, key=None,
               masks=None):
  """Unweighted loss terms of T_θ on a content batch (B, H, W, 3) in 0..255 (and, for a network that takes
  a style, the batch's style images, the reference images of `augment_styles` and the (contents', styles')
  region masks of `batch_regions`): the objective's, the network's regularisers among them. With a term that
  moves the content (temporal: `Objective.moves`, drawn by `key`), the network also stylises the moved batch, in
  the same call."""
  moves = objective.moves(key, content)
  inputs, input_styles = content, styles
  if moves is not None:
    inputs = jnp.concatenate([content, moves[0]])
    input_styles = None if styles is None else jnp.concatenate([styles, styles])
  stylized, own = net.train_apply(params, inputs, input_styles, masks)
  moved = None
  if moves is not None:
    stylized, moved_output = jnp.split(stylized, 2)
    moved = (moved_output, moves[1], moves[2])
  content_masks, style_masks = (None, None) if masks is None else masks
  if styles is not None:
    style_grams = style_targets(objective, vgg, styles, style_masks)
  targets = jax.lax.stop_gradient(objective.targets(vgg, content, style_grams, content_masks, reference))
  return objective.terms(stylized, vgg, targets, own, moved)


def augment_key(seed, step):
  """The key of a step's random grades and pairs: from the run's seed and the step only, so a resumed run
  and every host of a multi-host run draw the same ones."""
  return jax.random.fold_in(jax.random.key(seed), step)


def augment_styles(augment, key, content, styles):
  """(styles, reference) of a content batch (B, H, W, 3) and its style images (B, S, S, 3), both 0..255,
  for a network that takes a style, drawn by `key`; `augment` a grades.Augment.

  Each example k gets a random grade G_k (stylejax.core.grades). With probability `pair_probability` it is
  a reference pair (Neural Preset, Ke et al. CVPR 2023): its style becomes G_k(C_j), C_j another content
  photo of the batch (resized to the style images' size), and its reference G_k(C_k), the known right
  answer; otherwise its style image is G_k(S_k) with probability `grade_probability`, else itself.
  reference: (images (B, H, W, 3), present (B,) 1 for the pairs), for the `reference` loss term.
  """
  batch = content.shape[0]
  grade_key, pair_key, graded_key, partner_key = jax.random.split(key, 4)
  paired = jax.random.bernoulli(pair_key, augment.pair_probability, (batch,))
  graded = paired | jax.random.bernoulli(graded_key, augment.grade_probability, (batch,))
  grade = grades.where(graded, grades.random_grades(grade_key, batch, augment))
  partner = (jnp.arange(batch) + jax.random.randint(partner_key, (batch,), 1, max(batch, 2))) % batch  # j ≠ k
  others = grades.apply_grade(grade, content[partner])
  if others.shape != styles.shape:
    others = jax.image.resize(others, styles.shape, "linear")
  styles = jnp.where(paired[:, None, None, None], others, grades.apply_grade(grade, styles))
  return styles, (grades.apply_grade(grade, content), paired.astype(jnp.float32))


def train_step(state, batch, vgg, style_grams, *, objective, net, tx, styles=None, augment=None, seed=0,
               regions=0):
  """One optimiser step on a uint8 content batch (and its uint8 style images for a network that takes
  them) -> (state, {term: value, 'total': value}); jitted (objective, net, tx, augment and regions static),
  state donated. With an active `augment` (grades.Augment) the styles are graded and paired by
  `augment_styles`, drawn by `augment_key(seed, state["step"])`; with `regions` > 0 (a network that takes
  masks, a masked objective) each example's contents and graded style are split into up to that many shared
  regions (`masks_lib.batch_regions`, drawn from the same key).

  state = {params, opt_state, step, bad}: bad is -1, or the first step whose
  loss or gradient was NaN/Inf; from then on parameters stay as they were.
  """
  return jitted_step(state, batch, vgg, style_grams, objective=objective, net=net, tx=tx, styles=styles,
                     augment=augment, seed=seed, regions=regions)


def _step(state, batch, vgg, style_grams, *, objective, net, tx, styles=None, augment=None, seed=0, regions=0):
  content = batch.astype(jnp.float32)
  styles = None if styles is None else styles.astype(jnp.float32)
  reference = None
  key = augment_key(seed, state["step"])
  if augment is not None and augment.active:
    if styles is None:
      raise ValueError("augment grades style images: only a network that takes a style has them")
    styles, reference = augment_styles(augment, key, content, styles)
  masks = None
  if regions:
    masks = masks_lib.batch_regions(vgg, content, styles, regions, jax.random.fold_in(key, 2))

  def loss_fn(params):
    terms = loss_terms(objective, net, params, vgg, style_grams, content, styles, reference,
                       jax.random.fold_in(key, 1), masks)
    return objective.total(terms), terms

  (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  params = optax.apply_updates(state["params"], updates)
  finite = jnp.isfinite(loss) & jnp.all(jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
  ok = (state["bad"] < 0) & finite
  params, opt_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), (params, opt_state),
                                   (state["params"], state["opt_state"]))
  bad = jnp.where((state["bad"] < 0) & ~finite, state["step"], state["bad"])
  return {"params": params, "opt_state": opt_state, "step": state["step"] + 1, "bad": bad}, {**terms, "total": loss}


# Objective, net, tx, augment and regions static; the state donated; XLA:CPU's YNNPACK fusions off
# (stylejax.core.xla).
jitted_step = xla.jit(_step, static_argnames=("objective", "net", "tx", "augment", "regions"), donate_argnames="state")


def init_state(net, tx, image_size, seed, style_size=None, params=None):
  """{params, opt_state, step, bad} of a fresh network for square crops of image_size (and, for a network
  that takes a style, square style images of style_size), or of `params` (a fine-tune's start)."""
  if params is None:
    content = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
    style = jnp.zeros((1, style_size or image_size, style_size or image_size, 3), jnp.float32) if net.takes_style \
        else None
    params = net.init(jax.random.key(seed), content, style)
  return {"params": params, "opt_state": tx.init(params), "step": jnp.int32(0), "bad": jnp.int32(-1)}
