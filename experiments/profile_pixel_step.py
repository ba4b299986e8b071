"""Where the Gatys pixel step's time goes, ours beside the PyTorch peer, and the matting build beside pymatting's,
on this machine's CPU (issue 24).

  python experiments/profile_pixel_step.py                 # 256²: the bench job's Gatys point (chunks of 2 steps)
  python experiments/profile_pixel_step.py --size 512 --steps 10
  python experiments/profile_pixel_step.py --tiny          # 64², one timed call: a quick check

Prints three tables:
1. parts: the step and its sub-parts, each compiled (ours) or run (PyTorch) alone at the step's shapes, median
   of `--repeats` calls after a warm-up, ours and the peer alternating per part: the step (`pixels.run_chunk`
   of `--steps` steps against the peer's Adam step, per step), the loss's value + input gradient, the VGG
   forward, the Gram style loss's value + gradient from given features, Adam's update; then every VGG
   convolution alone, forward + input gradient, at its shape in the step.
2. top ops of one step: ours from a jax.profiler trace (XLA:CPU thunks named by primitive, direction and output
   shape, summed over threads), PyTorch's from torch.profiler (self CPU time), ms per step.
3. the matting Laplacian's build at the same size: ours (`matting.prepare("banded")`, the optimisations'
   jitted float32 build) against pymatting's `cf_laplacian` (float64), alternating.
Weights are random on the PyTorch side (time only), as in stylejax.tools.peers_torch.
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pymatting
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs import bench  # noqa: E402
from stylejax import api, settings  # noqa: E402
from stylejax.core import matting, terms, vgg as vgg_lib  # noqa: E402
from stylejax.io import assets, configs, images, weights  # noqa: E402
from stylejax.methods import pixels  # noqa: E402
from stylejax.tools import peers_torch, timing  # noqa: E402


def read_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tiny", action="store_true", help="64², one timed call")
  parser.add_argument("--size", type=int, default=256, help="the image's side (default 256)")
  parser.add_argument("--steps", type=int, default=2, help="steps per timed chunk (default 2, as bench_gatys)")
  parser.add_argument("--repeats", type=int, default=0, help="timed calls per part (default 5; tiny: 1)")
  parser.add_argument("--top", type=int, default=15, help="rows of the top-ops table")
  parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
  args = parser.parse_args()
  config = configs.override(bench.get_config("gatys"), dict(item.split("=", 1) for item in args.set))
  return config, 64 if args.tiny else args.size, args.steps, args.repeats or (1 if args.tiny else 5), args.top


# Ours.

def our_parts(config, size, steps):
  """{part: zero-argument callable} of our Gatys step and its sub-parts at `size`², and the step's trace
  inputs (the chunk, its compiled HLO text)."""
  vgg = weights.load_vgg(config.vgg.arch, config.vgg.weights, config.vgg.pooling)
  content, styles, _, _, _ = api.read_inputs(config)
  image = images.resize(images.at_long_side(content), size, size)
  transfer = api.PixelTransfer(settings.transfer_settings(config), settings.objective(config), content, styles,
                               [1.0], vgg, None)
  objective, targets = transfer.objective, transfer.targets(image, size)
  vgg = vgg.with_winograd_filters(objective.layers)  # as pixels.optimize and the bench job
  x = jnp.asarray(image)[None]
  tx, _ = pixels.optimizer("adam", config.learning_rate, objective, x.size)
  carry = [x + 0, pixels.init_state(tx, x)]
  kwargs = dict(objective=objective, tx=tx, linesearch=False, steps=steps)

  def chunk():
    carry[:] = pixels.run_chunk(vgg, targets, *carry, **kwargs)[:2]
    return carry[0]

  loss = lambda image: objective.total(objective.terms(image, vgg, targets))  # noqa: E731
  value_grad = jax.jit(jax.value_and_grad(loss))
  forward = jax.jit(lambda image: objective.features(vgg, image, objective.layers))
  features = forward(x)
  style = objective.term("style")
  style_grad = jax.jit(jax.value_and_grad(lambda f: style(terms.Seen(x, f, targets, {}, objective.normalization))))
  grad = value_grad(x)[1]
  update = jax.jit(lambda g, s, p: optax.apply_updates(p, tx.update(g, s, p)[0]))
  state = tx.init(x)
  parts = {f"step (chunk of {steps}, per step)": (chunk, steps), "loss value+grad": lambda: value_grad(x),
           "VGG forward": lambda: forward(x), "Gram style loss value+grad": lambda: style_grad(features),
           "Adam update": lambda: update(grad, state, x)}
  for name, (height, channels_in, channels_out) in conv_shapes(vgg.arch, size, objective.layers).items():
    parts[f"{name} {height}²x{channels_in}->{channels_out} fwd+grad"] = our_conv(vgg, name, height, channels_in)
  hlo = lambda: pixels.run_chunk.lower(vgg, targets, *carry, **kwargs).compile().as_text()  # noqa: E731
  return parts, (chunk, hlo)


def conv_shapes(arch, size, layers):
  """{conv name: (side, channels in, channels out)} of the convolutions the step runs, at a size² image."""
  order = vgg_lib.tap_names(arch)
  deepest = max(order.index(layer) for layer in layers)
  shapes, side, channels = {}, size, 3
  for tap in order[:deepest + 1]:
    if tap.startswith("conv"):
      shapes[tap] = (side, channels, vgg_lib.WIDTHS[int(tap[4]) - 1])
      channels = shapes[tap][2]
    elif tap.startswith("pool"):
      side //= 2
  return shapes


def our_conv(vgg, name, side, channels_in):
  """Forward + input gradient of one VGG convolution (as the step runs it, with its bias and ReLU) at
  side²×channels_in."""
  x = jax.random.normal(jax.random.key(0), (1, side, side, channels_in))
  params, filters = vgg.params[name], vgg.winograd.get(name)
  layer = lambda x: jax.nn.relu(vgg_lib.conv3x3(x, params["kernel"], filters) + params["bias"])  # noqa: E731
  grad = jax.jit(jax.value_and_grad(lambda x: jnp.sum(layer(x))))
  return lambda: grad(x)


# PyTorch.

def torch_parts(config, size, steps):
  """The same parts in PyTorch (stylejax.tools.peers_torch's Gatys step and its pieces)."""
  content, styles, _, _, _ = api.read_inputs(config)
  image = images.resize(images.at_long_side(content), size, size)[None]
  style = images.at_long_side(styles[0], size)[None]
  step = peers_torch.gatys_step(config, image, style)
  features = peers_torch._features(config)
  content_layers, style_layers = config.loss.content_layers, config.loss.style_layers
  x = peers_torch._tensor(image)
  with torch.no_grad():
    taps = features(x)
  content_targets = {k: taps[k] for k in content_layers}
  style_targets = {k: peers_torch.gram(taps[k]) for k in style_layers}
  leaf = x.clone().requires_grad_(True)
  optimizer = torch.optim.Adam([leaf], lr=config.learning_rate)

  def value_grad():
    leaf.grad = None
    peers_torch._perceptual_loss(features, leaf, content_targets, style_targets, content_layers,
                                 config.loss.tv_weight).backward()

  def forward():
    with torch.no_grad():
      return features(x)

  style_features = {k: taps[k].clone().requires_grad_(True) for k in style_layers}

  def style_grad():
    sum(torch.sum((peers_torch.gram(f) - style_targets[k]) ** 2) for k, f in style_features.items()).backward()

  value_grad()
  parts = {f"step (chunk of {steps}, per step)": step, "loss value+grad": value_grad, "VGG forward": forward,
           "Gram style loss value+grad": style_grad, "Adam update": optimizer.step}
  for name, (side, channels_in, channels_out) in conv_shapes(config.vgg.arch, size,
                                                             (*content_layers, *style_layers)).items():
    parts[f"{name} {side}²x{channels_in}->{channels_out} fwd+grad"] = torch_conv(side, channels_in, channels_out)
  return parts


def torch_conv(side, channels_in, channels_out):
  conv = torch.nn.Conv2d(channels_in, channels_out, 3, padding=1).requires_grad_(False)
  x = torch.randn(1, channels_in, side, side, requires_grad=True)

  def run():
    x.grad = None
    torch.relu(conv(x)).sum().backward()
  return run


# Tables.

def part_table(ours, theirs, repeats):
  print("| part | ours ms | PyTorch ms | PyTorch/ours |\n|---|---|---|---|", flush=True)
  for name, fn in ours.items():
    fn, per_call = fn if isinstance(fn, tuple) else (fn, 1)
    mine = timing.measure(fn, repeats, per_call=per_call)["ms"]
    peer = timing.measure(theirs[name], repeats, peers_torch.wait)["ms"]
    print(f"| {name} | {mine:.1f} | {peer:.1f} | {peer / mine:.2f} |", flush=True)


def thunk_labels(hlo_text):
  """{HLO instruction name: 'primitive direction shape'} from a compiled module's text (its op_name metadata),
  e.g. 'conv_general_dilated grad f32[1,32,32,512]'."""
  labels = {}
  for match in re.finditer(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+) ([\w\-]+)\(([^\n]*)$", hlo_text, re.M):
    name, shape, opcode, rest = match.groups()
    op_name = re.search(r'op_name="([^"]*)"', rest)
    op_name = op_name.group(1) if op_name else ""
    direction = "grad" if "transpose(" in op_name else "fwd"
    primitive = op_name.split("/")[-1] or opcode
    labels[name] = f"{primitive} {direction} {shape.split('{')[0]}"
  return labels


def our_top_ops(chunk, hlo_text, steps):
  """[(label, ms per step)] of the XLA:CPU thunks of one traced chunk, summed over threads."""
  labels = thunk_labels(hlo_text)
  folder = tempfile.mkdtemp(prefix="jax_trace_")
  jax.block_until_ready(chunk())
  jax.profiler.start_trace(folder)
  jax.block_until_ready(chunk())
  jax.profiler.stop_trace()
  trace = jax.profiler.ProfileData.from_file(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)[0])
  totals = collections.Counter()
  for plane in trace.planes:
    for line in plane.lines:
      if line.name.startswith("tf_XLA"):
        for event in line.events:
          if event.name in labels:
            totals[labels[event.name]] += event.duration_ns / 1e6 / steps
  return totals.most_common()


def torch_top_ops(step, steps=2):
  step()
  with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
    for _ in range(steps):
      step()
  events = [(e.key, e.self_cpu_time_total / 1e3 / steps) for e in profile.key_averages()]
  return sorted(events, key=lambda e: -e[1])


def top_table(ours, theirs, top):
  rows = ["| ours: XLA op, direction, shape | ms | % | PyTorch op | ms | % |", "|---|---|---|---|---|---|"]
  total_ours, total_theirs = sum(ms for _, ms in ours), sum(ms for _, ms in theirs)
  for k in range(top):
    left = f"{ours[k][0]} | {ours[k][1]:.1f} | {100 * ours[k][1] / total_ours:.0f}" if k < len(ours) else " | |"
    right = (f"{theirs[k][0]} | {theirs[k][1]:.1f} | {100 * theirs[k][1] / total_theirs:.0f}" if k < len(theirs)
             else " | |")
    rows.append(f"| {left} | {right} |")
  rows.append(f"| all ops | {total_ours:.0f} | 100 | all ops | {total_theirs:.0f} | 100 |")
  return rows


def matting_table(config, size, repeats):
  """Our banded build against pymatting's, one after the other, on the bundled rocket photo at size²."""
  photo = (images.resize(images.load_image(assets.path("rocket.jpg")), size, size) / 255.0).astype(np.float64)
  eps, radius = config.loss.matting_eps, config.loss.matting_radius
  mine = timing.measure(lambda: matting.prepare("banded", photo, eps, radius), repeats)["ms"]
  peer = timing.measure(lambda: pymatting.cf_laplacian(photo, eps, radius), repeats, wait=lambda _: None)["ms"]
  return ["| matting build | ours ms | pymatting ms | pymatting/ours |", "|---|---|---|---|",
          f"| {size}² | {mine:.1f} | {peer:.1f} | {peer / mine:.2f} |"]


def main():
  config, size, steps, repeats, top = read_args()
  print(f"# Gatys step {size}², chunks of {steps}, {config.vgg.arch} to {config.loss.style_layers[-1]}, "
        f"{os.cpu_count()} CPUs, jax {jax.__version__}, torch {torch.__version__}", flush=True)
  ours, (chunk, hlo) = our_parts(config, size, steps)
  theirs = torch_parts(config, size, steps)
  part_table(ours, theirs, repeats)  # printed row by row
  tops = top_table(our_top_ops(chunk, hlo(), steps), torch_top_ops(theirs[next(iter(theirs))]), top)
  print("\n".join(["", *tops, "", *matting_table(config, size, repeats)]))


if __name__ == "__main__":
  main()
