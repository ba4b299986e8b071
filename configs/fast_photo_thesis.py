"""The thesis's fast photorealistic model (its §4): a Johnson network trained with the matting term.

  python run.py --config configs/fast_photo_thesis.py:cpu --workdir runs/thesis_photo

The feed-forward network of the fast artistic method (configs/johnson.py) trained
with content + style + TV + the thesis's matting term 1/N Σ_c ‖L V_c[O] − L V_c[C]‖²
(L the matting Laplacian of each batch's content, matrix-free inside the
jitted step), at the thesis's weights: content 1e1, style 1e2, TV 1e-3 and
matting 1e4 on pixels in [0, 1], in the `mean` normalisation (losses as means:
the size-independent form of the Johnson code the thesis built on). During
training only, the output is blended with the input, 0.85·out + 0.15·in.
Reproduced so its results can be compared with configs/fast_photo.py (README,
fast photorealistic section); same style, data and arguments (`cpu`, `tiny`).
"""

from configs import common, fast_photo, johnson
from stylejax.io import configs as configs_lib

# Taken from configs/fast_photo.py (with the same arguments): the style, the data, the sizes and the schedule.
SHARED = ("style", "preview_images", "image_size", "batch_size", "style_size", "total_steps", "learning_rate",
          "log_every_steps", "sample_every_steps", "checkpoint_every_steps", "preview_size")


def get_config(arg=None):
  common.arguments(arg, ("cpu", "tiny"))
  photo = fast_photo.get_config(arg)
  config = configs_lib.override(johnson.get_config(), {key: photo[key] for key in SHARED})
  config.net.kind = "thesis"  # Johnson's network, trained on 0.85·out + 0.15·in (thesis §4; off at inference)
  config.net.input_blend = 0.15
  config.loss.content_weight = 10.0
  config.loss.style_weight = 100.0
  config.loss.tv_weight = 1e-3
  config.loss.affine_weight = 1e4
  config.loss.affine_form = "difference"
  config.loss.laplacian_backend = "matrix_free"
  return config
