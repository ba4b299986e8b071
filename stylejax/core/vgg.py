"""VGG16/VGG19 convolutional feature extractor with named taps.

Taps are `conv{b}_{i}` (pre-activation), `relu{b}_{i}` and `pool{b}`, as in
Simonyan & Zisserman (2015) and the style-transfer literature. Only the layers
up to the deepest requested tap are computed. Inputs are NHWC images in 0..255;
each weight source brings its own normalisation `(x - mean) / std` (in 0..255
units), applied here so callers never preprocess by hand.

On the CPU, the float32 convolutions of 512 output channels (blocks 4 and 5)
run as Winograd's minimal filtering F(2×2, 3×3) (`winograd_conv`): 2.25x
fewer multiplications, as batched matrix products, 1.2–1.9x faster than
XLA:CPU's convolution at those shapes forward and backward (shallower layers,
with fewer channels and more pixels, are faster direct: docs/benchmarks.md).
"""

import functools

import jax
import jax.numpy as jnp
from flax import struct

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}  # compute dtypes of the VGG and the networks

# Convolutions per block; block b has WIDTHS[b] output channels.
LAYOUTS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
POOLINGS = ("avg", "max")


def conv_names(arch):
  """Names of the convolutions of `arch` in network order."""
  return [f"conv{b + 1}_{i + 1}" for b, n in enumerate(LAYOUTS[arch]) for i in range(n)]


def tap_names(arch):
  """Every tap of `arch` in network order: conv, relu per convolution, pool per block."""
  names = []
  for b, n in enumerate(LAYOUTS[arch]):
    for i in range(n):
      names += [f"conv{b + 1}_{i + 1}", f"relu{b + 1}_{i + 1}"]
    names.append(f"pool{b + 1}")
  return names


def check_layers(arch, layers):
  """Raises ValueError naming the first layer `arch` does not have."""
  known = set(tap_names(arch))
  for layer in layers:
    if layer not in known:
      raise ValueError(f"unknown {arch} layer {layer!r}; layers are {', '.join(tap_names(arch))}")


def conv_flops(arch, height, width, layers):
  """Multiply-add FLOPs (2 per MAC) of the convolutions needed for `layers`."""
  order = tap_names(arch)
  deepest = max(order.index(layer) for layer in layers)
  flops, h, w, channels_in = 0, height, width, 3
  for tap in order[:deepest + 1]:
    if tap.startswith("conv"):
      channels_out = WIDTHS[int(tap[4]) - 1]
      flops += 2 * h * w * 9 * channels_in * channels_out
      channels_in = channels_out
    elif tap.startswith("pool"):
      h, w = h // 2, w // 2
  return flops


# Winograd F(2×2, 3×3) (Lavin & Gray 2016, "Fast algorithms for convolutional neural networks"): a 2×2 output
# tile is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for the 4×4 input tile d and the 3×3 filter g, summed over input channels,
# with Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]], G = [[1,0,0],[½,½,½],[½,-½,½],[0,0,1]],
# Aᵀ = [[1,1,1,0],[0,1,-1,-1]]; the sum over channels of the 16 products is 16 matrix products.
# The input gradient is the same convolution with the filter flipped and its channels swapped, whose transform is
# U[p(a), p(b)]ᵀ with p swapping rows 0 and 3 (G's rows for a flipped filter): the same U, read transposed in
# permuted order.
_FLIP = (3, 1, 2, 0)  # p


def _filter_rows(g):
  """G·g along the first axis: (3, ...) -> 4 arrays (...)."""
  half = 0.5 * (g[0] + g[2])
  return [g[0], half + 0.5 * g[1], half - 0.5 * g[1], g[2]]


def _input_rows(d):
  """Bᵀ·d for 4 arrays d."""
  return [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]


def _output_rows(m):
  """Aᵀ·m for 4 arrays m."""
  return [m[0] + m[1] + m[2], m[1] - m[2] - m[3]]


def winograd_filter(kernel):
  """U = G g Gᵀ of a (3, 3, I, O) HWIO kernel: (16, I, O), rows (a, b) in row-major order."""
  return jnp.stack([u for row in _filter_rows(kernel) for u in _filter_rows(row)])


def _winograd(x, u, flipped=False):
  """The 'SAME' stride-1 3×3 convolution of NHWC x with the filter whose transform is `u`, in 2×2 tiles (odd
  sides padded, then cropped); `flipped`: with that filter flipped and its channels swapped (u read as
  U[p(a), p(b)]ᵀ), the input gradient."""
  batch, height, width, _ = x.shape
  tiles_h, tiles_w = (height + 1) // 2, (width + 1) // 2
  padded = jnp.pad(x, ((0, 0), (1, 2 * tiles_h + 1 - height), (1, 2 * tiles_w + 1 - width), (0, 0)))
  rows = _input_rows([padded[:, a:a + 2 * tiles_h:2] for a in range(4)])
  v = [_input_rows([row[:, :, b:b + 2 * tiles_w:2] for b in range(4)]) for row in rows]  # v[a][b]: (B, th, tw, C)
  order = _FLIP if flipped else range(4)
  v = jnp.stack([v[order[a]][order[b]] for a in range(4) for b in range(4)])
  v = v.reshape(16, batch * tiles_h * tiles_w, x.shape[-1])
  m = jax.lax.dot_general(v, u, (((2,), (2 if flipped else 1,)), ((0,), (0,))))  # (16, tiles, out)
  m = m.reshape(4, 4, batch, tiles_h, tiles_w, -1)
  m = [[m[order[a], order[b]] for b in range(4)] for a in range(4)]
  y = _output_rows([jnp.stack(_output_rows(row)) for row in m])  # y[s][t] = y[s, t]
  y = jnp.transpose(jnp.stack(y), (2, 3, 0, 4, 1, 5)).reshape(batch, 2 * tiles_h, 2 * tiles_w, -1)
  return y[:, :height, :width]


def _direct_conv(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


@jax.custom_vjp
def winograd_conv(x, kernel, filters):
  """The 'SAME' stride-1 convolution of NHWC x with a (3, 3, I, O) kernel by Winograd's F(2×2, 3×3), `filters`
  being winograd_filter(kernel); the input gradient is one too, and the kernel gradient XLA's (removed by XLA
  where unused, as for VGG's fixed weights; the filters' is zero: the kernel's holds it all). The same map as the
  direct convolution, to float32 rounding (about 1e-6 relative)."""
  return _winograd(x, filters)


def _winograd_forward(x, kernel, filters):
  return _winograd(x, filters), (x, kernel, filters)


def _winograd_backward(residuals, cotangent):
  x, kernel, filters = residuals
  kernel_grad = jax.vjp(lambda k: _direct_conv(x, k), kernel)[1](cotangent)[0]
  return _winograd(cotangent, filters, flipped=True), kernel_grad, jnp.zeros_like(filters)


winograd_conv.defvjp(_winograd_forward, _winograd_backward)


def uses_winograd(kernel):
  """Whether VGG's convolution with `kernel` runs as Winograd's: on the CPU, in float32, at 512 output channels
  (where it is faster than XLA's)."""
  return kernel.shape[-1] >= 512 and kernel.dtype == jnp.float32 and jax.default_backend() == "cpu"


def conv3x3(x, kernel, filters=None):
  """VGG's 'SAME' 3×3 convolution: Winograd's where `uses_winograd` (with `filters` when held ready), else
  XLA's."""
  if uses_winograd(kernel):
    return winograd_conv(x, kernel, winograd_filter(kernel) if filters is None else filters)
  return _direct_conv(x, kernel)


@jax.jit
def _winograd_filters(kernels):
  return {name: winograd_filter(kernel) for name, kernel in kernels.items()}


def _pool(x, kind):
  """2x2, stride 2 pooling (odd trailing rows/columns dropped, as torchvision)."""
  b, h, w, c = x.shape
  blocks = x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c)
  return blocks.mean((2, 4)) if kind == "avg" else blocks.max((2, 4))


@struct.dataclass
class Vgg:
  """Pretrained VGG weights plus the input normalisation of their source.

  params: {"conv1_1": {"kernel": (3, 3, in, out) HWIO, "bias": (out,)}, ...}.
  mean, std: (3,) in 0..255 units; the network sees (x - mean) / std.
  """
  params: dict
  mean: jax.Array
  std: jax.Array
  arch: str = struct.field(pytree_node=False)
  pooling: str = struct.field(pytree_node=False, default="avg")
  winograd: dict = None  # {conv: winograd_filter(kernel)} held ready by with_winograd_filters; else per call

  def with_winograd_filters(self, layers):
    """This VGG with the Winograd filters of the convolutions up to the deepest of `layers` held ready, so that
    a jitted caller (a chunk of optimisation steps) does not transform them on every call (0.1 s a call at
    VGG16's conv4_1–conv5_1 on 2 loaded cores)."""
    order = tap_names(self.arch)
    deepest = max(order.index(layer) for layer in layers)
    kernels = {name: self.params[name]["kernel"] for name in order[:deepest + 1]
               if name.startswith("conv") and uses_winograd(self.params[name]["kernel"])}
    return self.replace(winograd=_winograd_filters(kernels))

  def features(self, images, layers, dtype=jnp.float32):
    """{layer: NHWC float32 features} of 0..255 NHWC `images`.

    `dtype` is the compute type (e.g. bfloat16); features are returned in fp32. One jitted program per
    shape, also when called outside a jit (scoring, automatic masks): run op by op, the Winograd convolutions
    compiled about 300 small programs per image shape.
    """
    return _features(self, images, tuple(sorted(set(layers))), jnp.dtype(dtype))


@functools.partial(jax.jit, static_argnames=("layers", "dtype"))
def _features(vgg, images, layers, dtype):
  wanted = set(layers)
  x = ((images - vgg.mean) / vgg.std).astype(dtype)
  out = {}
  for tap in tap_names(vgg.arch):
    if not wanted - out.keys():
      break
    if tap.startswith("conv"):
      p = vgg.params[tap]
      filters = (vgg.winograd or {}).get(tap) if dtype == jnp.float32 else None
      x = conv3x3(x, p["kernel"].astype(dtype), filters) + p["bias"].astype(dtype)
    elif tap.startswith("relu"):
      x = jax.nn.relu(x)
    else:
      x = _pool(x, vgg.pooling)
    if tap in wanted:
      out[tap] = x.astype(jnp.float32)
  return out
