"""Slow artistic transfer (Gatys et al. 2016): optimise the pixels of one image.

  python run.py --config configs/gatys.py --workdir runs/gatys \
      --config.content=photo.jpg --config.style=painting.jpg

With no overrides, stylises the bundled cat photo with van Gogh's Starry Night.
`configs/gatys.py:tiny` is a 64 px, 20-step smoke run for tests and CPUs.
"""

import ml_collections


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "optimize"
  config.seed = 0

  # Images. Empty content/style: the bundled samples (stylejax/assets).
  config.content = ""
  config.style = ""  # one path, or several separated by commas
  config.style_blend_weights = ""  # comma-separated, one per style; empty: equal
  config.image_size = 512  # long side of the output, pixels
  config.style_scale = 1.0  # style image long side = image_size * style_scale
  config.num_scales = 1  # >1: coarse to fine, image_size / 2^k first
  config.init = "mix"  # content | noise | mix | path to an image
  config.noise_ratio = 0.6  # mix = noise_ratio * noise + (1 - noise_ratio) * content (thesis)
  config.original_colors = False  # keep the content's colours (luminance-only transfer)
  config.max_input_pixels = 100_000_000  # refuse larger input files
  config.max_image_size = 4096  # largest allowed image_size

  # Network.
  config.vgg = ml_collections.ConfigDict()
  config.vgg.arch = "vgg16"  # vgg16 (embedded) | vgg19 (install with configs/weights.py)
  config.vgg.weights = ""  # a weights file; empty: the cache or the embedded VGG16
  config.vgg.pooling = "avg"  # avg (Gatys) | max
  config.compute_dtype = "float32"  # float32 | bfloat16 (Grams and losses stay float32)

  # Loss (stylejax.losses; SPEC §1).
  config.content_layers = "relu4_2"
  config.style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"
  config.style_layer_weights = ""  # empty: 1/L each (thesis: 1/5)
  config.loss_normalization = "johnson"  # johnson (size-independent) | gatys (thesis sums)
  config.content_weight = 1.0
  config.style_weight = 20.0
  config.tv_weight = 1e-3

  # Photorealism (Luan et al. 2017; configs/luan.py turns these on).
  config.masks = "none"  # none | files (Luan's colour PNGs) | labels (label maps) | auto (VGG k-means)
  config.content_mask = ""  # files/labels: the content's mask file
  config.style_mask = ""
  config.label_groups = ""  # labels: label->group table; empty: ADE20K's 150 classes in 10 groups
  config.auto_mask_regions = 3  # k of the automatic masks
  config.affine_weight = 0.0  # φ of the matting-Laplacian term on pixels in [0, 1] (Luan: 1e4)
  config.laplacian_backend = "banded"  # banded | matrix_free | sparse (BCOO)
  config.matting_eps = 1e-7
  config.matting_radius = 1
  config.two_stage = False  # Luan: a stage without the affine term, then one with it
  config.postprocess = ""  # "" | smooth_affine (guided filter of the result by the content, Luan's last step)
  config.smooth_radius = 2
  config.smooth_eps = 1e-4

  # Optimiser.
  config.optimizer = "adam"  # adam | lbfgs
  config.learning_rate = 1.0  # Adam on 0..255 pixels (thesis); lbfgs: 0 = line search
  config.total_steps = 500  # per scale

  # Outputs.
  config.log_every_steps = 10  # also the number of steps per jitted chunk
  config.snapshot_every_steps = 0  # 0: none; else a multiple of log_every_steps

  if arg == "tiny":
    config.image_size = 64
    config.total_steps = 20
    config.log_every_steps = 5
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}; use :tiny or nothing")
  return config
