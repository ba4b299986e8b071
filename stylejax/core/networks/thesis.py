"""The thesis's fast photorealistic network (kind "thesis", its §4): Johnson's network whose training
output is blended with its input,

    O = (1 − b)·T_θ(C) + b·C,   b = `input_blend` (the thesis: 0.15),

so the loss sees a photo-like output from the first step; at inference the
network's own output is used (b = 0). Trained with the matting term
(configs/fast_photo_thesis.py).
"""

import dataclasses

from stylejax.core.networks import base, johnson


@dataclasses.dataclass(frozen=True)
class Thesis(johnson.Johnson):
  kind = "thesis"
  photorealistic = True

  input_blend: float = 0.15  # b: the share of the input in the trained output

  def __post_init__(self):
    super().__post_init__()
    if not 0.0 <= self.input_blend < 1.0:
      raise ValueError(f"input_blend must be in [0, 1) (the share of the input in the trained output), "
                       f"got {self.input_blend}")

  def train_apply(self, params, content, style=None, masks=None):
    out, own = super().train_apply(params, content, style, masks)
    return base.blend(out, content, 1.0 - self.input_blend), own
