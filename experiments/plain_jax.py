"""The plain-JAX floor of our steps (issue 24): the same computations written minimally in one file, timed.

  python experiments/plain_jax.py --weights ~/.cache/stylejax/vgg16.npz         # Gatys 512², 1024²; Johnson 256×4
  python experiments/plain_jax.py --weights ~/.cache/stylejax/vgg16.npz --ours  # with ours beside: ours/plain
  python experiments/plain_jax.py --tiny --random-weights                       # 64 px: a check on the CPU

Plain: numpy + jax + optax, the obvious formulation, nothing tuned.
- VGG to relu5_1 (16, or 19 for a file of 16 convolutions): `lax.conv_general_dilated`, NHWC, zero padding, 2×2
  average pooling (configs/common.py), inputs (x − mean) / std; weights from a .npz in the cache's format
  (stylejax/io/weights.py; `gpu_checks.sh prepare`'s float16 copy is read as float32) or random (same time).
- The loss of configs/gatys.py and configs/johnson.py, "mean" normalisation (stylejax.core.losses), batch means:
  1/(NHW) ‖F − P‖² at relu4_2 + 20 · Σ_l ⅕ · 1/N² ‖Ĝ_l − Â_l‖²_F over relu1_1…relu5_1 (Ĝ = FᵀF / HW, float32)
  + 10⁻³ · (mean squared vertical + mean squared horizontal neighbour difference).
- Gatys: Adam (lr 1) on the pixels. Johnson: Johnson et al. 2016's network (conv 9×9 32, 3×3 64 /2, 3×3 128 /2,
  5 residual blocks, two ×2 upsamplings by `lax.conv_transpose` 3×3 stride 2 'SAME', conv 9×9 3; instance norm
  (float32 statistics) and ReLU after all but the last; (tanh + 1) · 127.5), the content targets computed in the
  step, Adam (lr 1e-3) on its parameters.
Each step is one jitted function, its state donated; bfloat16 casts the networks' inputs and weights, Grams and
losses stay float32. Time per step: a warm-up call, then the median over `--repeats` runs of `--steps` calls (Johnson:
one, as the bench job's train_step) awaited at the end.

`--ours` runs our bench job's point of the same case (configs/bench.py: size, dtype, weights, steps, repeats) in this
process right after each plain one (ours/plain), and our L-BFGS step (Torch's fixed step) against our Adam step at
each Gatys size. experiments/gpu_checks.sh runs it on the GPU machine.
"""
import argparse
import functools
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENT, STYLE = "relu4_2", ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 1.0, 20.0, 1e-3  # configs/common.py
VGG16, WIDTHS = (2, 2, 3, 3, 3), (64, 128, 256, 512, 512)
NHWC = ("NHWC", "HWIO", "NHWC")
RESIDUAL_BLOCKS = 5
GATYS_ADAM, JOHNSON_ADAM = optax.adam(1.0), optax.adam(1e-3)


def read_vgg(path):
  """{"convs": {"convB_I": (kernel HWIO, bias)}, "mean", "std"} of the cache's .npz format, in float32."""
  with np.load(path) as arrays:  # allow_pickle=False: arrays only
    names = sorted({key.split("/")[0] for key in arrays.files if key.startswith("conv")})
    convs = {name: tuple(jnp.asarray(arrays[f"{name}/{part}"], jnp.float32) for part in ("kernel", "bias"))
             for name in names}
    return {"convs": convs, "mean": jnp.asarray(arrays["mean"], jnp.float32),
            "std": jnp.asarray(arrays["std"], jnp.float32)}


def random_vgg(rng, layout=VGG16):
  """VGG weights drawn He-normal, torchvision's input normalisation."""
  convs, channels = {}, 3
  for block, count in enumerate(layout):
    for index in range(count):
      width = WIDTHS[block]
      kernel = rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, width))
      convs[f"conv{block + 1}_{index + 1}"] = (jnp.asarray(kernel, jnp.float32), jnp.zeros(width))
      channels = width
  return {"convs": convs, "mean": 255 * jnp.array([0.485, 0.456, 0.406]), "std": 255 * jnp.array([0.229, 0.224, 0.225])}


def conv(x, kernel, stride=1):
  """Zero-padded k×k convolution (k odd) of NHWC x by an HWIO kernel."""
  pad = kernel.shape[0] // 2
  return jax.lax.conv_general_dilated(x, kernel, (stride, stride), [(pad, pad)] * 2, dimension_numbers=NHWC)


def vgg_features(vgg, images, dtype):
  """{layer: float32 features} at the content and style layers of 0..255 NHWC images, computed in `dtype`."""
  x = ((images - vgg["mean"]) / vgg["std"]).astype(dtype)
  features = {}
  for name, (kernel, bias) in sorted(vgg["convs"].items()):  # network order: conv1_1, conv1_2, conv2_1, ...
    if name.endswith("_1") and name != "conv1_1":  # 2×2 average pooling before each block but the first
      b, h, w, c = x.shape
      x = x.reshape(b, h // 2, 2, w // 2, 2, c).mean((2, 4))
    x = jax.nn.relu(conv(x, kernel.astype(dtype)) + bias.astype(dtype))
    layer = "relu" + name[4:]
    if layer in (CONTENT, *STYLE):
      features[layer] = x.astype(jnp.float32)
    if layer == STYLE[-1]:
      return features
  return features


def gram(features):
  """Ĝ = FᵀF / (HW) of (B, H, W, N) features -> (B, N, N), float32 (Gatys et al. 2016, eq. 3, over positions)."""
  return jnp.einsum("bhwi,bhwj->bij", features, features) / (features.shape[1] * features.shape[2])


def perceptual_loss(vgg, images, content_features, grams, dtype):
  """The Gatys/Johnson loss of 0..255 images (B, H, W, 3): content against relu4_2 features (B, h, w, N), style
  against the style's Grams {layer: (N, N)}, TV; "mean" normalisation (see the module's docstring)."""
  features = vgg_features(vgg, images, dtype)
  content = jnp.mean(jnp.square(features[CONTENT] - content_features))
  style = sum(jnp.sum(jnp.square(gram(features[layer]) - grams[layer]), (1, 2)).mean() / grams[layer].shape[-1] ** 2
              for layer in STYLE) / len(STYLE)
  tv = jnp.mean(jnp.square(jnp.diff(images, axis=1))) + jnp.mean(jnp.square(jnp.diff(images, axis=2)))
  return CONTENT_WEIGHT * content + STYLE_WEIGHT * style + TV_WEIGHT * tv


@functools.partial(jax.jit, static_argnames="dtype")
def style_grams(vgg, style, dtype):
  """The style's Grams {layer: (N, N)} of one 0..255 image (1, H, W, 3)."""
  features = vgg_features(vgg, style, dtype)
  return {layer: gram(features[layer])[0] for layer in STYLE}


@functools.partial(jax.jit, static_argnames="dtype", donate_argnums=0)
def gatys_step(carry, vgg, content_features, grams, dtype):
  """One Adam step on the pixels x (1, H, W, 3): carry (x, Adam's state)."""
  x, opt_state = carry
  grad = jax.grad(perceptual_loss, argnums=1)(vgg, x, content_features, grams, dtype)
  updates, opt_state = GATYS_ADAM.update(grad, opt_state)
  return x + updates, opt_state


def init_network(rng):
  """{layer: {kernel HWIO, bias[, scale, shift of its instance norm]}}, He-normal kernels."""
  shapes = {"down0": (9, 3, 32), "down1": (3, 32, 64), "down2": (3, 64, 128),
            **{f"res{i}{half}": (3, 128, 128) for i in range(RESIDUAL_BLOCKS) for half in "ab"},
            "up0": (3, 128, 64), "up1": (3, 64, 32), "out": (9, 32, 3)}
  params = {}
  for name, (k, fan_in, width) in shapes.items():
    kernel = jnp.asarray(rng.normal(0, np.sqrt(2 / (k * k * fan_in)), (k, k, fan_in, width)), jnp.float32)
    params[name] = {"kernel": kernel, "bias": jnp.zeros(width)}
    if name != "out":
      params[name].update(scale=jnp.ones(width), shift=jnp.zeros(width))
  return params


def transform_network(params, images, dtype):
  """Johnson et al. 2016's transformation network: 0..255 images (B, H, W, 3), H and W multiples of 4 -> 0..255."""

  def layer(name, x, stride=1, relu=True, up=False):
    p = params[name]
    kernel = p["kernel"].astype(dtype)
    y = jax.lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=NHWC) if up else conv(x, kernel, stride)
    y = (y + p["bias"].astype(dtype)).astype(jnp.float32)
    mean, var = y.mean((1, 2), keepdims=True), y.var((1, 2), keepdims=True)  # instance norm
    y = ((y - mean) * jax.lax.rsqrt(var + 1e-6) * p["scale"] + p["shift"]).astype(dtype)
    return jax.nn.relu(y) if relu else y

  x = layer("down2", layer("down1", layer("down0", (images / 127.5 - 1).astype(dtype)), 2), 2)
  for i in range(RESIDUAL_BLOCKS):
    x = x + layer(f"res{i}b", layer(f"res{i}a", x), relu=False)
  x = layer("up1", layer("up0", x, up=True), up=True)
  out = conv(x, params["out"]["kernel"].astype(dtype)) + params["out"]["bias"].astype(dtype)
  return (jnp.tanh(out.astype(jnp.float32)) + 1) * 127.5


@functools.partial(jax.jit, static_argnames="dtype", donate_argnums=0)
def johnson_step(carry, vgg, batch, grams, dtype):
  """One Adam step on the network's parameters for a content batch (B, H, W, 3): carry (params, Adam's state)."""
  params, opt_state = carry
  content_features = vgg_features(vgg, batch, dtype)[CONTENT]

  def loss(params):
    return perceptual_loss(vgg, transform_network(params, batch, dtype), content_features, grams, dtype)

  updates, opt_state = JOHNSON_ADAM.update(jax.grad(loss)(params), opt_state)
  return optax.apply_updates(params, updates), opt_state


def ms_per_step(step, carry, steps, repeats):
  """Median ms per call of carry -> step(carry): a warm-up call, then `repeats` runs of `steps` calls, each run
  awaited at its end."""
  carry = jax.block_until_ready(step(carry))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(steps):
      carry = step(carry)
    jax.block_until_ready(carry)
    times.append((time.perf_counter() - start) * 1e3 / steps)
  return float(np.median(times))


def plain_gatys(vgg, size, dtype, rng, steps, repeats):
  """ms per plain Gatys step at size², random content and style (the time does not depend on them)."""
  content, style = (jnp.asarray(rng.uniform(0, 255, (1, size, size, 3)), jnp.float32) for _ in range(2))
  targets = jax.jit(vgg_features, static_argnums=2)(vgg, content, dtype)[CONTENT], style_grams(vgg, style, dtype)
  step = lambda carry: gatys_step(carry, vgg, *targets, dtype)  # noqa: E731
  return ms_per_step(step, (content + 0, GATYS_ADAM.init(content)), steps, repeats)


def plain_johnson(vgg, size, batch, dtype, rng, repeats):
  """ms per plain Johnson training step on a random batch of `batch` size² crops."""
  style, images = (jnp.asarray(rng.uniform(0, 255, (n, size, size, 3)), jnp.float32) for n in (1, batch))
  grams, params = style_grams(vgg, style, dtype), init_network(rng)
  step = lambda carry: johnson_step(carry, vgg, images, grams, dtype)  # noqa: E731
  return ms_per_step(step, (params, JOHNSON_ADAM.init(params)), 1, repeats)


def ours(method, overrides, weights, tiny):
  """ms per step of our bench job's point (configs/bench.py:METHOD[,tiny] with `overrides`), run in this process."""
  if ROOT not in sys.path:  # the package and its configs: imported with --ours only
    sys.path.insert(0, ROOT)
  from configs import bench
  from stylejax import launch
  from stylejax.io import configs
  config = bench.get_config(method + (",tiny" if tiny else ""))
  config = configs.override(config, {**overrides, "vgg.weights": weights or ""})
  with tempfile.TemporaryDirectory() as workdir:
    return launch.run(config, workdir)["ms"]


def table(header, rows):
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def read_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  weights = parser.add_mutually_exclusive_group(required=True)
  weights.add_argument("--weights", help="VGG weights, a .npz in the cache's format (stylejax/io/weights.py)")
  weights.add_argument("--random-weights", action="store_true", help="random VGG16 weights (ours: its default VGG)")
  parser.add_argument("--gatys", default="512,1024", help="Gatys image sides, comma-separated")
  parser.add_argument("--johnson", default="256x4", help="Johnson's training crops: SIDExBATCH")
  parser.add_argument("--dtypes", default="float32,bfloat16", help="compute dtypes, comma-separated")
  parser.add_argument("--steps", type=int, default=10, help="Gatys steps per timed run (Johnson: 1)")
  parser.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up call")
  parser.add_argument("--tiny", action="store_true",
                      help="--gatys 64 --johnson 64x2 --steps 2 --repeats 2; ours: the presets' tiny configs")
  parser.add_argument("--ours", action="store_true", help="our bench points beside, in this process")
  parser.add_argument("--out", help="also write the tables to this markdown file")
  args = parser.parse_args()
  if args.tiny:
    args.gatys, args.johnson, args.steps, args.repeats = "64", "64x2", 2, 2
  return args


def main():
  args = read_args()
  rng = np.random.default_rng(0)
  vgg = random_vgg(rng) if args.random_weights else read_vgg(args.weights)
  arch = "vgg19" if len(vgg["convs"]) == 16 else "vgg16"
  dtypes = args.dtypes.split(",")
  side, batch = (int(n) for n in args.johnson.split("x"))
  rows, lbfgs_rows = [], []

  def measured(case, size, dtype, plain_ms, method, overrides):
    """A row of the table: the plain step's time, and with --ours our bench point's, measured right after it."""
    ours_ms = ours(method, overrides, args.weights, args.tiny) if args.ours else None
    both = (f"{ours_ms:.2f}", f"{ours_ms / plain_ms:.2f}") if args.ours else ()
    rows.append((case, size, dtype, f"{plain_ms:.2f}", *both))
    print(*rows[-1], file=sys.stderr, flush=True)  # progress, should a time limit stop the run
    return ours_ms

  for size in (int(n) for n in args.gatys.split(",")):
    point = {"bench.size": str(size), "vgg.arch": arch, "bench.steps": args.steps, "bench.repeats": args.repeats}
    adam = {}
    for dtype in dtypes:
      plain_ms = plain_gatys(vgg, size, jnp.dtype(dtype), rng, args.steps, args.repeats)
      adam[dtype] = measured("Gatys Adam step", f"{size}²", dtype, plain_ms, "gatys",
                             {**point, "compute_dtype": dtype})
    if args.ours and "float32" in adam:
      lbfgs = ours("gatys", {**point, "optimizer": "lbfgs"}, args.weights, args.tiny)
      lbfgs_rows.append((f"{size}²", f"{adam['float32']:.2f}", f"{lbfgs:.2f}", f"{lbfgs / adam['float32']:.1f}"))
  for dtype in dtypes:
    plain_ms = plain_johnson(vgg, side, batch, jnp.dtype(dtype), rng, args.repeats)
    measured("Johnson train step", f"{side}² × {batch}", dtype, plain_ms, "johnson",
             {"image_size": side, "batch_size": batch, "compute_dtype": dtype, "vgg.arch": arch,
              "bench.repeats": args.repeats})

  device = jax.devices()[0].device_kind
  text = f"Plain JAX against ours, {arch}, on {device} (ms per step, median of {args.repeats} runs)\n\n"
  text += table(("case", "size", "dtype", "plain ms") + (("ours ms", "ours/plain") if args.ours else ()), rows)
  if lbfgs_rows:
    text += "\n\nOur L-BFGS step (Torch's fixed step) against our Adam step, float32\n\n"
    text += table(("size", "Adam ms", "L-BFGS ms", "L-BFGS/Adam"), lbfgs_rows)
  print(text)
  if args.out:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
      f.write(text + "\n")


if __name__ == "__main__":
  main()
