"""Export a trained model directory compactly (parameters only), e.g. to ship it with the website:

  python run.py --config configs/export.py --workdir stylejax/assets/models/starry_night \\
      --config.model=runs/starry
"""

import ml_collections


def get_config(arg=None):
  if arg:
    raise ValueError(f"unknown config argument {arg!r}; configs/export.py takes none")
  config = ml_collections.ConfigDict()
  config.job = "export"
  config.model = ""  # the workdir of a configs/johnson.py, fast_photo.py or fast_photo_thesis.py run
  config.dtype = "float32"  # float32 | float16 (half the bytes; the network still computes in its compute_dtype)
  return config
