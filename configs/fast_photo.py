"""Fast photorealistic transfer: a bilateral-grid network trained for one style photo.

  python run.py --config configs/fast_photo.py:cpu --workdir runs/photo_style

The network (stylejax.core.networks.bilateral, after Gharbi et al. 2017 and Xia
et al. 2020) sees each photo at low_res² and predicts a grid of local affine
colour transforms that is sliced by a full-resolution guide and applied to the
photo's own pixels: the output is photorealistic by construction and any size
takes one pass. Loss: Luan's content and style terms in his normalisation (the
weights of configs/luan.py) plus the grid's smoothness; the matting term is
optional (`:matting`). No overrides: the style of the bundled Grace Hopper
portrait, the bundled and scikit-image samples as training data, 256 px crops,
batch 8 (a GPU preset). Then stylise with configs/stylize.py
--config.checkpoint=runs/photo_style. Arguments (comma-separated): `cpu` (128
px crops and a 128² low-resolution view, batch 4, 800 steps: about 15 minutes
on a 2-core CPU), `tiny` (64 px, 12 steps: tests), `matting` (adds Luan's
matting-Laplacian energy of each batch, matrix-free).
"""

import ml_collections

from configs import common, johnson


def get_config(arg=None):
  items = common.arguments(arg, ("cpu", "tiny", "matting"))
  config = johnson.get_config()
  config.style = "bundled:grace_hopper.jpg"
  config.preview_images = ("bundled:astronaut.jpg", "bundled:coffee.jpg")
  config.image_size = 256
  config.batch_size = 8
  config.total_steps = 5000
  config.learning_rate = 1e-3

  config.net = ml_collections.ConfigDict()
  config.net.kind = "bilateral"
  config.net.low_res = 256  # the network's view of every photo, low_res² (aspect ratio not kept)
  config.net.grid_size = 16  # grid cells per side
  config.net.grid_depth = 8  # grid cells over the guide's range
  config.net.width = 8  # channels of the first convolution, doubling with each stride
  config.net.padding = "reflect"  # reflect | zeros (zeros: the network learns bright frames at the borders)

  # Luan's layers, normalisation and weights (configs/luan.py), without TV: the output keeps the photo's
  # own edges, and the grid's smoothness takes TV's place.
  loss = config.loss
  loss.normalization = "luan"
  loss.content_layers = ("conv4_2",)
  loss.style_layers = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
  loss.style_layer_weights = (1.0, 1.0, 1.0, 1.0, 1.0)
  loss.content_weight = 5.0
  loss.style_weight = 400.0
  loss.tv_weight = 0.0
  loss.grid_smoothness_weight = 1e7  # Σ over the grid's axes of the mean squared neighbour difference

  for item in items:
    if item == "cpu":
      config.image_size = 128
      config.net.low_res = 128
      config.batch_size = 4
      config.total_steps = 800
      config.sample_every_steps = 250
      config.checkpoint_every_steps = 250
    elif item == "tiny":
      config.update(johnson.TINY)
      config.net.low_res = 64
      config.net.grid_size = 8
      config.net.grid_depth = 4
    elif item == "matting":
      loss.affine_weight = 3e4  # configs/luan.py's λ
      loss.affine_form = "energy"
      loss.laplacian_backend = "matrix_free"
  return config
