"""Where the Johnson training step's time goes, ours beside the PyTorch peer, on this machine's CPU (issue 24).

  python experiments/profile_train_step.py            # 256 px, batch 4: the bench job's train_step point
  python experiments/profile_train_step.py --tiny     # 64 px, batch 2, one timed call: a quick check
  python experiments/profile_train_step.py --set net.upsample=resize --set net.padding=reflect

Prints two tables:
1. parts: the step and its sub-parts, each compiled (ours, with the step's compiler options,
   stylejax.core.xla.compiler_options) or run (PyTorch) alone at the step's shapes, median of
   `--repeats` calls after a warm-up, ours and the peer alternating per part: the whole step, the network's
   forward (compiled as stylisation is), its forward + parameter gradient, the VGG loss's forward + input
   gradient (on the network's output), the content targets (VGG forward of the batch), Adam's update; then
   single layers of the network at their shapes in the step (instance norm, reflection pad, the first 9×9
   convolution with its norm and ReLU, the last 9×9 convolution, each upsampling), forward + gradient.
2. top ops of one step: ours from a jax.profiler trace (XLA:CPU thunks, named by the HLO's source scope),
   PyTorch's from torch.profiler (self CPU time), side by side, ms per step.
Weights are random on the PyTorch side (time only), as in stylejax.tools.peers_torch.
"""

import argparse
import collections
import functools
import glob
import os
import re
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs import johnson  # noqa: E402
from stylejax import api, settings  # noqa: E402
from stylejax.core import xla  # noqa: E402
from stylejax.core.networks import johnson as johnson_net  # noqa: E402
from stylejax.io import configs, data, images, weights  # noqa: E402
from stylejax.methods import training  # noqa: E402
from stylejax.tools import peers_torch, timing  # noqa: E402


def read_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tiny", action="store_true", help="the tiny preset: 64 px, batch 2, one timed call")
  parser.add_argument("--repeats", type=int, default=0, help="timed calls per part (default 5; tiny: 1)")
  parser.add_argument("--top", type=int, default=15, help="rows of the top-ops table")
  parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
  args = parser.parse_args()
  config = johnson.get_config("tiny" if args.tiny else None)
  config = configs.override(config, dict(item.split("=", 1) for item in args.set))
  return config, args.repeats or (1 if args.tiny else 5), args.top


# Ours.

def our_parts(config):
  """{part: zero-argument callable} of our training step and its sub-parts at the config's shapes."""
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  objective, net, tx = settings.objective(config), settings.network(config), optax.adam(config.learning_rate)
  grams, _ = api.style_targets(objective, vgg, settings.paths(config.style, "style")[0], config.style_size,
                               config.max_input_pixels)
  content = jnp.asarray(training_batch(config), jnp.float32)
  state = training.init_state(net, tx, config.image_size, config.seed)
  params = jax.tree.map(jnp.copy, state["params"])  # the step donates the state's
  in_step = functools.partial(jax.jit, compiler_options=xla.compiler_options())  # compiled as the step is
  stylize = jax.jit(lambda p, c: net.train_apply(p, c)[0])  # compiled as stylisation is
  stylized = stylize(params, content)
  content_targets = in_step(lambda vgg, c, grams: objective.targets(vgg, c, grams))
  targets = content_targets(vgg, content, grams)
  loss_grad = in_step(jax.grad(lambda image, vgg, t: objective.total(objective.terms(image, vgg, t))))
  net_grad = in_step(jax.grad(lambda p, c, cotangent: jnp.vdot(net.train_apply(p, c)[0], cotangent)))
  grads = net_grad(params, content, stylized)
  update = in_step(lambda g, s, p: optax.apply_updates(p, tx.update(g, s, p)[0]))

  def step():
    nonlocal state
    state, metrics = training.train_step(state, content, vgg, grams, objective=objective, net=net, tx=tx)
    return metrics["total"]

  parts = {"train step": step, "network forward": lambda: stylize(params, content),
           "network forward+grad": lambda: net_grad(params, content, stylized),
           "VGG loss forward+grad": lambda: loss_grad(stylized, vgg, targets),
           "content targets": lambda: content_targets(vgg, content, grams),
           "Adam update": lambda: update(grads, state["opt_state"], params)}
  parts.update(our_layers(config, content.shape[0]))
  return parts, (step, lambda: training.jitted_step.lower(state, content, vgg, grams, objective=objective,
                                                         net=net, tx=tx).compile().as_text())


def grad_of(fn, x, params, argnums=(0, 1)):
  """Forward + gradient (parameters and input; `argnums` (0,): parameters only) of a flax layer `fn` at input
  `x`: a zero-argument callable."""
  cotangent = jnp.ones_like(jax.eval_shape(fn, params, x), dtype=jnp.float32)
  grad = jax.jit(jax.grad(lambda p, x: jnp.vdot(fn(p, x), cotangent), argnums=argnums),
                 compiler_options=xla.compiler_options())
  return lambda: grad(params, x)


def layer_shapes(config, batch):
  """(B, H, W, C) of the full-, half- and quarter-resolution activations of the network."""
  size, width = config.image_size, config.net.width
  return [(batch, size // 2**k, size // 2**k, width * 2**k) for k in range(3)]


def our_layers(config, batch):
  full, half, quarter = layer_shapes(config, batch)
  x = lambda shape: jax.random.normal(jax.random.key(0), shape)  # noqa: E731
  image = (*full[:3], 3)
  first = johnson_net.ConvNormAct(full[-1], 9, padding=config.net.padding)
  last = johnson_net.ConvNormAct(3, 9, padding=config.net.padding, relu=False, norm=False)
  norm = johnson_net.InstanceNorm()
  up = lambda features: johnson_net.Upsample(features, config.net.upsample, config.net.padding)  # noqa: E731
  pad = lambda p, x: jnp.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")  # noqa: E731
  up_half, up_full = up(half[-1]), up(full[-1])
  parts = {f"instance norm {shape_text(full)}": grad_of(norm.apply, x(full), norm.init(jax.random.key(0), x(full))),
           f"reflect pad 4 {shape_text(full)}": grad_of(pad, x(full), {}),
           f"first conv 9x9+norm {shape_text(image)}->{full[-1]}":  # the image needs no gradient
           grad_of(first.apply, x(image), first.init(jax.random.key(0), x(image)), argnums=0),
           f"last conv 9x9 {shape_text(full)}->3": grad_of(last.apply, x(full), last.init(jax.random.key(0), x(full)))}
  for layer, source, target in ((up_half, quarter, half), (up_full, half, full)):
    apply = lambda p, x, layer=layer, size=target[1:3]: layer.apply(p, x, size)  # noqa: E731
    params = layer.init(jax.random.key(0), x(source), target[1:3])
    parts[f"upsample {shape_text(source)}->{shape_text(target)}"] = grad_of(apply, x(source), params)
  return parts


def shape_text(shape):
  return "x".join(str(n) for n in shape[1:])


# PyTorch.

def torch_layers(config, batch):
  full, half, quarter = layer_shapes(config, batch)
  x = lambda shape, grad=True: torch.randn(shape[0], shape[3], shape[1], shape[2], requires_grad=grad)  # noqa: E731
  image = (*full[:3], 3)
  norm = torch.nn.InstanceNorm2d(full[-1], affine=True)
  pad = lambda x: torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")  # noqa: E731
  first = peers_torch.ConvNormAct(3, full[-1], 9, padding=config.net.padding)
  last = peers_torch.ConvNormAct(full[-1], 3, 9, padding=config.net.padding, relu=False, norm=False)
  parts = {f"instance norm {shape_text(full)}": backward_of(norm, x(full)),
           f"reflect pad 4 {shape_text(full)}": backward_of(pad, x(full)),
           f"first conv 9x9+norm {shape_text(image)}->{full[-1]}": backward_of(first, x(image, grad=False)),
           f"last conv 9x9 {shape_text(full)}->3": backward_of(last, x(full))}
  for source, target in ((quarter, half), (half, full)):
    layer = peers_torch.upsample(source[-1], target[-1], config.net.upsample, config.net.padding)
    parts[f"upsample {shape_text(source)}->{shape_text(target)}"] = backward_of(layer, x(source))
  return parts


def backward_of(fn, x):
  def run():
    y = fn(x)
    y.backward(torch.ones_like(y))
  return run


def torch_parts(config):
  style = images.load_image(settings.paths(config.style, "style")[0], config.style_size)
  parts = peers_torch.johnson_parts(config, training_batch(config), style[None])
  parts.update(torch_layers(config, config.batch_size))
  return parts


def training_batch(config):
  return np.asarray(data.training_batches(data.make_source("samples"), config.image_size, config.batch_size,
                                          config.seed)[0])


# Tables.

def part_table(ours, theirs, repeats):
  rows = ["| part | ours ms | PyTorch ms | PyTorch/ours |", "|---|---|---|---|"]
  for name, fn in ours.items():
    mine = timing.measure(fn, repeats)["ms"]
    peer = timing.measure(theirs[name], repeats, peers_torch.wait)["ms"] if name in theirs else None
    ratio = f"{peer / mine:.2f}" if peer else ""
    rows.append(f"| {name} | {mine:.1f} | {peer:.1f} | {ratio} |" if peer else f"| {name} | {mine:.1f} | | |")
    print(rows[-1], flush=True)
  return rows


def hlo_sources(hlo_text):
  """{HLO instruction name: short source label} from a compiled module's text (its op_name metadata)."""
  sources = {}
  for match in re.finditer(r"^\s*(?:ROOT )?%?([\w.\-]+) = [^\n]*?\b([a-z\-]+)\(([^\n]*)$", hlo_text, re.M):
    name, opcode, rest = match.groups()
    op_name = re.search(r'op_name="([^"]*)"', rest)
    sources[name] = (opcode, label(op_name.group(1) if op_name else ""))
  return sources


def label(op_name):
  """'jit(train_step)/transpose(jvp(TransformNet))/Upsample_0/ConvTranspose_0/conv_general_dilated' ->
  'grad net Upsample_0/ConvTranspose_0 conv_general_dilated' (a fusion: its root's source); the residual blocks
  as one (ResidualBlock_*)."""
  parts = op_name.split("/")
  direction = "grad" if any(p.startswith("transpose(") for p in parts) else "fwd"
  where = "net" if "TransformNet" in op_name else "vgg/loss"
  modules = [re.sub(r"^ResidualBlock_\d+$", "ResidualBlock_*", p) for p in parts[1:-1]
             if re.match(r"^[A-Z]\w*_\d+$", p)]
  primitive = parts[-1] if parts else ""
  return f"{direction} {where} {'/'.join(modules)} {primitive}".replace("  ", " ").strip()


def our_top_ops(step, hlo_text, steps=2):
  """[(label, ms per step)] of the XLA:CPU thunks of `steps` traced train steps, summed over threads."""
  sources = hlo_sources(hlo_text)
  jax.block_until_ready(step())
  with tempfile.TemporaryDirectory(prefix="jax_trace_") as folder:
    with jax.profiler.trace(folder):
      for _ in range(steps):
        jax.block_until_ready(step())
    trace = jax.profiler.ProfileData.from_file(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)[0])
  totals = collections.Counter()
  for plane in trace.planes:
    for line in plane.lines:
      if not line.name.startswith("tf_XLA"):
        continue
      for event in line.events:
        if event.name in sources:
          opcode, where = sources[event.name]
          totals[f"{opcode}: {where}"] += event.duration_ns / 1e6 / steps
  return totals.most_common()


def torch_top_ops(step, steps=2):
  step()
  with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
    for _ in range(steps):
      step()
  events = [(e.key, e.self_cpu_time_total / 1e3 / steps) for e in profile.key_averages()]
  return sorted(events, key=lambda e: -e[1])


def top_table(ours, theirs, top):
  rows = ["| ours: XLA op: source | ms | % | PyTorch op | ms | % |", "|---|---|---|---|---|---|"]
  total_ours, total_theirs = sum(ms for _, ms in ours), sum(ms for _, ms in theirs)
  for k in range(top):
    left = f"{ours[k][0]} | {ours[k][1]:.0f} | {100 * ours[k][1] / total_ours:.0f}" if k < len(ours) else " | |"
    right = f"{theirs[k][0]} | {theirs[k][1]:.0f} | {100 * theirs[k][1] / total_theirs:.0f}" if k < len(theirs) \
        else " | |"
    rows.append(f"| {left} | {right} |")
  rows.append(f"| all ops | {total_ours:.0f} | 100 | all ops | {total_theirs:.0f} | 100 |")
  return rows


def main():
  config, repeats, top = read_args()
  print(f"# {config.image_size} px, batch {config.batch_size}, net {config.net.to_dict()}, "
        f"{os.cpu_count()} CPUs, jax {jax.__version__}, torch {torch.__version__}", flush=True)
  ours, (step, hlo) = our_parts(config)
  theirs = torch_parts(config)
  rows = part_table(ours, theirs, repeats)
  print()
  tops = top_table(our_top_ops(step, hlo()), torch_top_ops(theirs["train step"]), top)
  print("\n".join(["", *rows, "", *tops]))


if __name__ == "__main__":
  main()
