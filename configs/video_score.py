"""How steady and how stylised trained networks are on clips (job `video_score`, stylejax.tools.video_score).

  python run.py --config configs/video_score.py --workdir runs/video_score \
      --config.models=stylejax/assets/models/grace_hopper,stylejax/assets/models/starry_night \
      --config.clips=pan,object,cut,clip.mp4

Synthetic clips (pan, zoom, object, light, cut: stylejax.core.motion) are made from `photo` with exact flow;
video files are read (their first max_frames frames) and their flow estimated with OpenCV's DIS
(pip install opencv-python-headless).
"""

import ml_collections


def get_config(arg=None):
  if arg:
    raise ValueError(f"unknown config argument {arg!r}; configs/video_score.py takes none")
  config = ml_collections.ConfigDict()
  config.job = "video_score"
  config.seed = 0
  config.models = "stylejax/assets/models/grace_hopper,stylejax/assets/models/starry_night"  # model directories
  config.clips = "pan,object,cut"  # synthetic motions (pan | zoom | object | light | cut) or video files
  config.style = ""  # a style photo for a network that takes one (universal); the others use their own style
  config.photo = "bundled:chelsea.jpg"  # what the synthetic clips look at
  config.frames = 24  # frames of a synthetic clip
  config.noise = 3.0  # σ of a synthetic clip's sensor noise (levels of 0..255)
  config.size = 384  # long side of the frames (synthetic 16:9; real clips shrunk to it)
  config.max_frames = 48  # frames read from a video file
  config.smoothing = 0.9  # the smoothed rows' decay (stylejax.core.temporal; configs/stylize.py's default)
  config.batch_size = 4  # frames per forward pass
  config.score_every = 4  # quality scored on every n-th frame
  config.max_input_pixels = 100_000_000
  return config
