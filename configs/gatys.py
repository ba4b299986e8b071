"""Slow artistic transfer (Gatys et al. 2016): optimise the pixels of one image.

  python run.py --config configs/gatys.py --workdir runs/gatys \
      --config.content=photo.jpg --config.style=painting.jpg

With no overrides, stylizes the bundled cat photo with van Gogh's Starry Night:
500 Adam steps, or on a CPU the shorter CPU_SCHEDULE (`schedule`, below).
`configs/gatys.py:tiny` is a 64 px, 20-step smoke run for tests and CPUs.
"""

import ml_collections

from configs import common

# What `schedule=cpu` sets: 50 steps of Torch's L-BFGS at one scale instead of 500 Adam steps, 1.5 minutes at
# 512 px on a 2-core CPU instead of 11, with lower content and style losses (experiments/first_command.md).
# `auto` picks it only while these keys hold this file's values, so an override of any of them runs as given.
CPU_SCHEDULE = {"num_scales": 1, "scale_steps": (), "optimizer": "lbfgs", "learning_rate": 1.0, "total_steps": 50}


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "optimize"
  config.seed = 0

  # Images: files, or `bundled:NAME` for the package's own (stylejax/assets).
  config.content = "bundled:chelsea.jpg"
  config.style = ("bundled:starry_night.jpg",)  # one or several; several are blended
  config.style_blend_weights = ()  # one per style; empty: equal
  config.image_size = 512  # long side of the output, pixels
  config.style_scale = 1.0  # style image long side = image_size * style_scale
  config.num_scales = 1  # >1: coarse to fine, image_size / 2^k first
  config.upsample = "resize"  # to the next scale: resize (Lanczos) | guided (the coarse result's local
  # affine colour transforms applied to the finer content: photorealistic, keeps the content's detail)
  config.init = "mix"  # content | noise | mix | path to an image
  config.noise_ratio = 0.6  # mix = noise_ratio * noise + (1 - noise_ratio) * content (thesis)
  config.original_colors = False  # keep the content's colours (luminance-only transfer)
  config.max_input_pixels = 100_000_000  # refuse larger input files
  config.max_image_size = 4096  # largest allowed image_size

  config.vgg = common.vgg()
  config.compute_dtype = "float32"  # float32 | bfloat16 (Grams and losses stay float32)
  config.loss = common.loss()
  config.masks = common.masks()  # configs/luan.py turns these on
  config.two_stage = False  # Luan: a stage without the affine term, then one with it
  config.postprocess = ""  # "" | smooth_affine (guided filter of the result by the content, Luan's last step)
  config.smooth_radius = 2
  config.smooth_eps = 1e-4

  # Optimiser.
  config.optimizer = "adam"  # adam | lbfgs (Torch's: fixed step, history 100) | lbfgs_linesearch (optax zoom)
  config.learning_rate = 1.0  # Adam on 0..255 pixels (thesis); lbfgs: the fixed step (1 as Torch);
  # lbfgs_linesearch: 0 lets the line search pick every step
  config.total_steps = 500  # per scale (per stage with two_stage)
  config.scale_steps = ()  # steps at each scale, coarse to fine, instead of total_steps at each
  config.stop_tolerance = 0.0  # stop a phase once a chunk changes the loss by at most this fraction (0: never)
  config.schedule = "auto"  # full: the keys above | cpu: CPU_SCHEDULE's values | auto: cpu where JAX runs on the
  # CPU and those keys are as above, else full (stylejax.settings.resolve_schedule); summary.json says which ran

  # Outputs.
  config.log_every_steps = 10  # also the number of steps per jitted chunk
  config.snapshot_every_steps = 0  # 0: none; else a multiple of log_every_steps

  if "tiny" in common.arguments(arg, ("tiny",)):
    config.image_size = 64
    config.total_steps = 20
    config.log_every_steps = 5
    config.schedule = "full"
  return config
