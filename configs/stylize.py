"""Stylise photos with a network trained by configs/johnson.py, fast_photo.py, fast_photo_thesis.py or
universal_photo.py (which also takes --config.style=PHOTO: every input gets that style).

  python run.py --config configs/stylize.py --workdir runs/stylize \
      --config.checkpoint=runs/starry --config.input='photos/*.jpg' --config.output=styled/
"""

import ml_collections


def get_config(arg=None):
  if arg:
    raise ValueError(f"unknown config argument {arg!r}; configs/stylize.py takes none")
  config = ml_collections.ConfigDict()
  config.job = "stylize"
  config.checkpoint = ""  # a train workdir (or an export): configs/johnson.py, fast_photo.py, ..., universal_photo.py
  config.input = ""  # an image or video file, a folder (recursive) or a glob pattern
  config.output = ""  # folder; the input's folder tree is mirrored
  config.style = ""  # a style photo for a network that takes one (configs/universal_photo.py); "" for the others
  config.output_format = "jpeg"  # jpeg | png | webp
  config.quality = 92  # jpeg / webp
  config.overwrite = False  # False: existing outputs are skipped (a rerun resumes)
  config.shard = ""  # I/N: only the inputs I, I+N, ... of the sorted list; "": jax.process_index()/process_count()
  config.max_side = 0  # >0: shrink larger images to this long side first (videos keep their size)
  config.max_input_pixels = 100_000_000
  config.batch_size = 8  # same-size images per forward pass
  config.num_threads = 4  # image decoding threads
  config.tile_pixels = 4096 * 4096  # larger images are stylised in exact tiles (Johnson networks)
  config.tile_size = 1024  # side of each tile's kept core (multiple of 4)
  config.strength = 1.0  # 1: stylised only; 0: the content (bilateral networks: transforms blended with the identity)
  config.original_colors = False  # keep each photo's colours (luminance-only transfer)
  config.regions = 0  # a universal network: match up to K regions of each photo and the style, found automatically
  config.refine_steps = 0  # a universal network: optimise each photo's grid against slow Luan's objective (50: ~1 min)
  # A universal network with Luan's colour-coded segmentation masks: each photo's (one file for one input, or a
  # folder holding masks/a/b.png for photos/a/b.jpg) and the style's; matching colours are matching regions.
  config.content_masks = ""
  config.style_mask = ""
  # Videos (mp4, m4v, mov, mkv, webm, avi, animated gif): written in the input's container (avi: mp4) with its
  # frame rate, size, frame count and audio; resumable by chunks (kept in the workdir's video_parts/).
  config.frame_rate = 0.0  # > 0: `input` is a folder of frames (images in name order), one video at this rate
  config.video_chunk = 64  # frames per kept segment (rounded up to whole batches)
  config.video_frames = False  # also write each stylised frame as an image (NAME_frames/000000.jpg, ...)
  config.smoothing = 0.9  # bilateral-grid networks: weight of the past in the grids' moving average; 0: off
  config.scene_cut = 0.1  # mean thumbnail change (0..1) that restarts the smoothing (a new shot)
  config.compute_dtype = ""  # "": as trained | float32 | bfloat16
  config.engine = "local"  # local (this process) | ray (a Ray Data pipeline on a cluster: pip install -e '.[ray]')
  config.ray_address = ""  # ray: the cluster's address; "": $RAY_ADDRESS, else a new local cluster
  config.ray_actors = 0  # ray: model actors (a video: its chunks shared by as many tasks); 0: one per GPU (one on a CPU)
  config.video_overlap = 64  # ray: frames before a task's share of a video that warm up its smoothing
  return config
