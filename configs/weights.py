"""Install VGG weights into the cache ($STYLEJAX_HOME, default ~/.cache/stylejax).

  python run.py --config configs/weights.py --workdir runs/weights \
      --config.source=/path/to/imagenet-vgg-verydeep-19.mat
  python run.py --config configs/weights.py --workdir runs/weights --config.source=vgg19-dcbb9e9d.pth
  python run.py --config configs/weights.py --workdir runs/weights --config.source=download

Converts the file to `vgg19.npz` (+ `.sha256`), which `vgg.arch=vgg19` then finds.
"""

import ml_collections


def get_config(arg=None):
  del arg
  config = ml_collections.ConfigDict()
  config.job = "weights"
  config.source = ""  # a .mat, .pth or .npz file, or "download"
  config.arch = "vgg19"
  return config
