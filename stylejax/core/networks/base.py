"""What every feed-forward network is: a typed, hashable config that builds its flax module.

A network kind is a frozen dataclass subclassing `Network`: its fields are the
settings of the config's `net` section (typed, checked in `__post_init__`,
hashable so jit specialises on them), and it declares

- `kind`: the name in `net.kind` and the registry (stylejax.core.networks);
- `tiles`: whether images too large for the device go through exact tiled
  inference (stylejax.core.tiling), or the network takes any size in one pass;
- `takes_style`: whether `apply` reads a style image (a universal network)
  or the style lives in the parameters (one network per style);
- `takes_masks`: whether `apply` also takes semantic region masks of the
  content and the style (`masks=`), so that each region takes its style from
  the matching region;
- `refines`: whether its output is a bilateral grid of the photo that
  `predict_grid` returns (with what `sliced` renders it from) and
  `apply(..., grid=)` renders in its place, so one photo's grid can be
  optimised (stylejax.methods.refine);
- `photorealistic`: whether it is meant for photo styles (the website's menu
  groups models by it);
- `regularizers`: the names of the terms it adds to the training loss
  (sown into its flax `losses` collection; each weighted by `loss.<name>_weight`);
- `smooths_in_time`: whether, on a video, it carries state from frame to frame
  (`stylize_frames`; stylejax.core.temporal) or stylises each frame alone.

It builds one flax module (`module`), called as `module(content)` or, with
`takes_style`, `module(content, style)`; `apply` and `train_apply` are the two
ways every caller runs it on images, `stylize_frames` on the frames of a video.
"""

import dataclasses
from typing import ClassVar

import jax

from stylejax.core.vgg import DTYPES


def blend(stylized, content, strength):
  """strength · stylized + (1 − strength) · content: the stylisation's strength (0: the content)."""
  return strength * stylized + (1.0 - strength) * content


@dataclasses.dataclass(frozen=True)
class Network:
  """Base of every network kind; subclasses add their settings as fields and implement `module`."""
  kind: ClassVar[str]
  tiles: ClassVar[bool] = False
  takes_style: ClassVar[bool] = False
  takes_masks: ClassVar[bool] = False
  refines: ClassVar[bool] = False
  photorealistic: ClassVar[bool] = False
  regularizers: ClassVar[tuple] = ()
  smooths_in_time: ClassVar[bool] = False  # whether `stylize_frames` smooths its transforms in time (a video)

  dtype: str = "float32"  # compute dtype of the network (float32 | bfloat16); outputs are float32

  def __post_init__(self):
    if self.dtype not in DTYPES:
      raise ValueError(f"unknown compute dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")

  @property
  def compute_dtype(self):
    return DTYPES[self.dtype]

  def module(self):
    """The flax module of these settings."""
    raise NotImplementedError

  def inputs(self, content, style):
    """The module's positional inputs: (content,) or, for a network that takes a style, (content, style)."""
    if self.takes_style:
      if style is None:
        raise ValueError(f"a {self.kind} network needs a style image beside the content")
      return content, style
    return (content,)

  def init(self, rng, content, style=None):
    """Fresh parameters for inputs shaped like `content` (B, H, W, 3) [and `style`]. Jitted as a whole: one
    compiled program instead of one per layer's initialiser (the same values, in about half the time on a CPU)."""
    return jax.jit(lambda key, *inputs: self.module().init(key, *inputs)["params"])(rng, *self.inputs(content, style))

  def train_apply(self, params, content, style=None, masks=None):
    """(output in 0..255, {regularizer: value}) as the training loss sees them; masks: for a kind that
    `takes_masks`, as its `apply`'s."""
    extra = {} if masks is None else {"masks": masks}
    out, sown = self.module().apply({"params": params}, *self.inputs(content, style), mutable=["losses"], **extra)
    return out, {name: values[0] for name, values in sown.get("losses", {}).items()}

  def stylize_frames(self, params, frames, state, style=None, strength=1.0):
    """(stylised frames, state after them): `apply` to the next frames (B, H, W, 3) of a clip, in order; `state`
    is what the kind carries from frame to frame (stylejax.core.temporal). This kind carries nothing: its
    frames are stylised one by one and `state` comes back as it was."""
    return self.apply(params, frames, style, strength), state

  def apply(self, params, content, style=None, strength=1.0):
    """The stylised content (B, H, W, 3) in 0..255 at `strength` (0: the content itself)."""
    return blend(self.module().apply({"params": params}, *self.inputs(content, style)), content, strength)
