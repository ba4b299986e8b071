"""Fast artistic transfer (Johnson et al. 2016): train a feed-forward network for one style.

  python run.py --config configs/johnson.py --workdir runs/starry \
      --config.style=painting.jpg --config.data=folder:/data/coco/train2017

Then stylise any photos with configs/stylize.py --config.checkpoint=runs/starry.
Running the same command again resumes from the last checkpoint. Arguments
(comma-separated): `tiny` (64 px, 12 steps on the samples: tests and CPUs), `small` (net.width 16,
resize upsampling: the website's CPU models),
`johnson_layers` (Johnson's VGG16 layers instead of the thesis's), `photos` (the
development photos of configs/photos.py as contents, reflection padding: the
website's painting models), `steady` (a short fine-tune of --config.init_from=MODEL with the temporal term,
for video: docs/video.md). The thesis's
photorealistic variant of this network is configs/fast_photo_thesis.py.
"""

import ml_collections

from configs import common, photos

# `tiny`: 64 px, 12 steps on the samples (tests and CPUs); shared by the fast photorealistic presets.
TINY = {"image_size": 64, "batch_size": 2, "style_size": 128, "total_steps": 12, "log_every_steps": 2,
        "sample_every_steps": 6, "checkpoint_every_steps": 4, "preview_size": 64}


TEMPORAL_WEIGHT = 100.0  # `steady`: the temporal term's weight (docs/video.md)


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.job = "train"
  config.seed = 0

  # Style and content data (stylejax.data).
  config.style = "bundled:starry_night.jpg"
  config.style_size = 512  # long side of the style image for its Gram matrices
  config.data = "samples"  # samples | folder:PATH | tfds:NAME
  config.data_dir = ""  # tfds data_dir (empty: tfds's default)
  config.num_threads = 4  # image decoding threads
  config.image_size = 256  # training crops, pixels (thesis)
  config.batch_size = 4  # global, split over all devices (thesis)
  config.max_input_pixels = 100_000_000

  # Network (stylejax.core.nets: Johnson et al. 2016, supplementary table).
  config.net = ml_collections.ConfigDict()
  config.net.kind = "johnson"  # johnson | bilateral (configs/fast_photo.py)
  config.net.upsample = "transpose"  # transpose (thesis) | resize (nearest + conv: no checkerboard)
  config.net.padding = "zeros"  # zeros | reflect
  config.net.residual_blocks = 5
  config.net.width = 32  # channels at full resolution (2x, 4x at 1/2, 1/4); `small`: 16
  config.compute_dtype = "float32"  # float32 | bfloat16 (network and VGG; losses stay float32)

  # Loss network and loss (the thesis's layers; see johnson_layers).
  config.vgg = common.vgg()
  config.loss = common.loss()  # affine_weight > 0 (laplacian_backend=matrix_free): the matting term
  config.augment = common.augment()  # a network that takes a style: random colour grades and reference pairs

  config.learning_rate = 1e-3
  config.total_steps = 40_000
  config.init_from = ""  # a model (train workdir or export) of the same network to start from; a resumed run ignores it
  # Multi-host: jax.distributed.initialize(), the cluster (SLURM, Open MPI, Kubernetes, Cloud TPU) detected from
  # the environment, or these three set on every process (e.g. two processes on one machine: 127.0.0.1:PORT, 2, I).
  config.distributed = False
  config.coordinator = ""  # HOST:PORT of process 0
  config.num_processes = 0
  config.process_id = -1

  # Outputs.
  config.log_every_steps = 50
  config.sample_every_steps = 500  # 0: only at the end
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 3
  config.preview_images = ("bundled:chelsea.jpg", "bundled:rocket.jpg")  # stylized every sample_every_steps
  config.preview_size = 256  # long side of the previews

  for item in common.arguments(arg, ("tiny", "small", "johnson_layers", "photos", "steady")):
    if item == "tiny":
      config.update(TINY)
    elif item == "small":  # a quarter of the compute: about a second per megapixel on a 2-core CPU
      config.net.width = 16
      config.net.upsample = "resize"
    elif item == "johnson_layers":  # Johnson et al. 2016 with VGG16
      config.loss.content_layers = ("relu2_2",)
      config.loss.style_layers = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    elif item == "photos":  # 82 varied photos instead of a dozen samples; no border lines from zero padding
      config.data = "files:" + photos.listed()
      config.net.padding = "reflect"
    elif item == "steady":  # fine-tune --config.init_from=MODEL for video: its output moves with its input
      config.loss.temporal_weight = TEMPORAL_WEIGHT
      config.learning_rate = 2e-4
      config.total_steps = 300
  return config
