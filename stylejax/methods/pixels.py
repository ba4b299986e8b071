"""Per-image pixel optimisation (Gatys et al. 2016; Luan et al. 2017): jitted chunks of optax steps.

`optimize` minimises any `Objective` over the pixels of one NHWC image (0..255),
or over anything an image is rendered from (a network's bilateral grid:
stylejax.methods.refine), in chunks of steps, each chunk one jitted program;
after each chunk a callback sees the image and the loss terms (logging, progress, snapshots are
the caller's). A NaN/Inf loss or update stops the run at the exact step and
keeps the last good image. `phases` plans coarse-to-fine scales and Luan's two
stages.
"""

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import optax

from stylejax.core import lbfgs

# adam: lr 1 on 0..255 pixels (the thesis); lbfgs: Torch's fixed-step L-BFGS, history 100, as neural-style
# and Luan's code (stylejax.core.lbfgs); lbfgs_linesearch: optax's L-BFGS with the zoom line search
# (learning rate 0: the line search picks every step).
OPTIMIZERS = {"adam": lambda lr: optax.adam(lr),
              "lbfgs": lambda lr: lbfgs.lbfgs(lr),
              "lbfgs_linesearch": lambda lr: optax.lbfgs(learning_rate=lr or None)}


@dataclasses.dataclass(frozen=True)
class TransferSettings:
  """How one pixel transfer runs (stylejax.api.PixelTransfer); configs/gatys.py's keys of the same names,
  read by stylejax.settings.transfer_settings."""
  sizes: tuple  # long side of each scale, coarse to fine (scale_sizes)
  steps: tuple  # optimiser steps at each scale
  two_stage: bool = False  # per scale, Luan's stages: first without the affine term, then with it
  style_scale: float = 1.0  # the style's long side relative to the content's
  upsample: str = "resize"  # from one scale to the next: resize | guided
  init: str = "content"  # content | noise | mix | an image file
  noise_ratio: float = 0.0  # mix: the share of noise
  seed: int = 0
  optimizer: str = "adam"  # a key of OPTIMIZERS
  learning_rate: float = 1.0
  chunk: int = 10  # steps per jitted chunk (and per log line)
  stop_tolerance: float = 0.0  # stop a phase once a chunk changes the total by at most this share
  postprocess: str = ""  # "" | smooth_affine
  smooth_radius: int = 1
  smooth_eps: float = 1e-4
  original_colors: bool = False
  max_input_pixels: int = 100_000_000  # larger init images are refused


@functools.cache
def optimizer(name, learning_rate, objective, size):
  """(optax transformation, uses a line search) for `name` in OPTIMIZERS, minimising `objective` over an
  image of `size` values: the one the optimisation runs (and the bench job times); it sees the gradient
  times gradient_scale(name, objective, size). Cached: the same settings give the same transformation, so a
  second optimisation of the same shape reuses run_chunk's compiled program (a static argument)."""
  tx = OPTIMIZERS[name](learning_rate)
  scale = gradient_scale(name, objective, size)
  if scale != 1.0:
    tx = optax.chain(optax.scale(scale), tx)
  return optax.with_extra_args_support(tx), name == "lbfgs_linesearch"


def gradient_scale(optimizer_name, objective, size):
  """What the optimiser's gradient is multiplied by: `size` (the pixel values) for Torch's L-BFGS on a
  mean-normalised loss, else 1.

  Torch's L-BFGS has absolute constants made for neural-style's summed losses (first step
  min(1, 1/|g|_1), a pair kept only when s.y > 1e-10). A mean loss's gradient is `size` times smaller: at
  512 px every pair falls below the threshold and L-BFGS creeps along the gradient until float noise lets
  one through, after 2 steps or not in 70 (experiments/first_command.md). Scaled, it runs on the loss at a
  sum's scale: the same minimiser, and the same steps once it has pairs.
  """
  return float(size) if optimizer_name == "lbfgs" and objective.normalization == "mean" else 1.0


def _image(x, render):
  """The image of the optimised variables `x`: x itself, or render(x)."""
  return x if render is None else render(x)


def _loss_terms(objective, vgg, targets, x, render, prior):
  """{term: value} of the image of `x`, with prior(x) as 'prior' where one is given."""
  terms = objective.terms(_image(x, render), vgg, targets)
  return terms if prior is None else {**terms, "prior": prior(x)}


def _total(objective, terms):
  """The minimised loss: the objective's weighted total plus the prior, if any."""
  return objective.total(terms) + terms.get("prior", 0.0)


def _step(objective, tx, linesearch, vgg, targets, render, prior, carry, index):
  """One optimiser step. `bad` is -1, or the chunk index of the first step whose
  loss or update was NaN/Inf; from then on x stays as it was (the optimiser state
  is not guarded: a run stops there, and selecting L-BFGS's whole history every
  step made XLA copy it every step)."""
  x, opt_state, bad = carry

  def loss_fn(x):
    return _total(objective, _loss_terms(objective, vgg, targets, x, render, prior))

  if linesearch:
    value, grad = optax.value_and_grad_from_state(loss_fn)(x, state=opt_state)
  else:
    value, grad = jax.value_and_grad(loss_fn)(x)
  updates, new_state = tx.update(grad, opt_state, x, value=value, grad=grad, value_fn=loss_fn)
  new_x = optax.apply_updates(x, updates)
  ok = (bad < 0) & jnp.isfinite(value) & jnp.all(jnp.isfinite(new_x))
  # A select, not lax.cond: XLA:CPU runs conditional and loop bodies on one thread.
  x = jnp.where(ok, new_x, x)
  bad = jnp.where((bad < 0) & ~ok, index, bad)
  return (x, new_state, bad), None


@functools.partial(jax.jit, static_argnames=("objective", "tx", "linesearch", "steps"),
                   donate_argnames=("x", "opt_state"))
def run_chunk(vgg, targets, x, opt_state, render=None, prior=None, *, objective, tx, linesearch, steps):
  """`steps` optimiser steps in one program on the device: a lax.scan, or on the CPU the steps one after the
  other.

  Returns (x, opt_state, bad): bad is -1, or the index of the step that went
  NaN/Inf, in which case x is the last good image and opt_state is not to be
  continued from. On the CPU the steps are unrolled (written out in sequence),
  since XLA:CPU runs loop bodies single-threaded (2.4x slower here; a scan keeps
  its loop when it has one step, even with `unroll`, and a one-step chunk took
  1.8x a step's time, 100x without XLA's backend optimisations). Except with a
  line search (L-BFGS's zoom is a while loop anyway, and unrolling it multiplies
  the compile time).
  """
  step = functools.partial(_step, objective, tx, linesearch, vgg, targets, render, prior)
  carry = (x, opt_state, jnp.int32(-1))
  if jax.default_backend() == "cpu" and not linesearch:
    for index in range(steps):
      carry, _ = step(carry, jnp.int32(index))
  else:
    carry, _ = jax.lax.scan(step, carry, jnp.arange(steps, dtype=jnp.int32))
  return carry


def init_state(tx, x):
  """Optimiser state for `x` holding no buffer of x (both are donated to run_chunk)."""
  return jax.tree.map(jnp.copy, tx.init(x))


@functools.partial(jax.jit, static_argnames=("objective",))
def evaluate(vgg, targets, x, render=None, prior=None, *, objective):
  """{term: value, 'total': value} of NHWC `x` (or of render(x); with prior(x) as 'prior', in the total)."""
  terms = _loss_terms(objective, vgg, targets, x, render, prior)
  return {**terms, "total": _total(objective, terms)}


def optimize(x, vgg, targets, objective, *, optimizer_name="adam", learning_rate=1.0, steps=500, chunk=10,
             tolerance=0.0, on_chunk=None, render=None, prior=None, progress=None):
  """Minimises objective.total over the pixels of `x` (1, H, W, 3) from there; with `render` (a
  jax.tree_util.Partial, so that its arrays are traced, not baked in) over the array `x` that render(x), the
  image, is made from; with `prior` (a Partial too) prior(x) is added to the total (e.g. a grid's smoothness).

  Runs `steps` steps in chunks of `chunk`; after each, on_chunk(done, x, terms,
  seconds) is called with the steps done so far, the image, its loss terms and
  the chunk's wall time, and progress.update(steps) (a runlog.progress bar) with
  its steps. Stops early once a chunk changes the total by at most
  `tolerance` times its value (0: never). Returns (x, halted_at, converged_at):
  halted_at is None, or the 1-based step whose loss or update was NaN/Inf (x is
  then the image before it); converged_at is None or the step of the early stop.
  `x` itself is copied, not consumed; the x passed to on_chunk is donated to
  the next chunk, so keep a host copy (np.asarray) if it must outlive the call.
  """
  tx, linesearch = optimizer(optimizer_name, learning_rate, objective, x.size)
  vgg = vgg.with_winograd_filters(objective.layers)
  x = jnp.array(x, jnp.float32)
  opt_state = init_state(tx, x)
  done, previous = 0, None
  while done < steps:
    n = min(chunk, steps - done)
    tick = time.perf_counter()
    x, opt_state, bad = run_chunk(vgg, targets, x, opt_state, render, prior, objective=objective, tx=tx,
                                  linesearch=linesearch, steps=n)
    if int(bad) >= 0:
      return x, done + int(bad) + 1, None
    done += n
    if progress is not None:
      progress.update(n)
    if on_chunk is None and not tolerance:
      continue  # nobody reads the loss: no evaluation pass
    terms = jax.block_until_ready(evaluate(vgg, targets, x, render, prior, objective=objective))
    if on_chunk is not None:
      on_chunk(done, x, terms, time.perf_counter() - tick)
    total = float(terms["total"])
    if previous is not None and abs(previous - total) <= tolerance * abs(previous) and done < steps:
      return x, None, done
    previous = total
  return x, None, None


def phases(objective, sizes, steps, two_stage):
  """(long side, objective, steps) per phase: coarse to fine, steps[k] at sizes[k], and per scale
  Luan's two stages (first without the photorealism term, then with it) when asked."""
  stages = [objective]
  if two_stage and objective.weight("affine"):
    stages = [objective.without("affine"), objective]
  return [(size, stage, n) for size, n in zip(sizes, steps) for stage in stages]


def scale_sizes(image_size, num_scales):
  """Long sides of a coarse-to-fine schedule ending at image_size (halving each time)."""
  return [max(1, round(image_size / 2 ** (num_scales - 1 - k))) for k in range(num_scales)]
