"""Score stylised images with the fixed protocol of stylejax.core.scoring.

  python run.py --config configs/score.py --workdir runs/score \
      --config.outputs=runs/luan/result.png,luan_result3.png,in3.png \
      --config.content=in3.png --config.style=tar3.png \
      --config.content_mask=in3_seg.png --config.style_mask=tar3_seg.png

Writes score.json and score.md (one row per output). Without masks the style
distance is unmasked. No overrides: the bundled portrait pair's content photo
scored as its own output (the "unchanged photo" reference).
"""

import ml_collections


def get_config(arg=None):
  del arg
  config = ml_collections.ConfigDict()
  config.job = "score"
  config.outputs = ("bundled:astronaut.jpg",)  # images to score, each with the content's aspect ratio
  config.content = "bundled:astronaut.jpg"
  config.style = "bundled:grace_hopper.jpg"
  config.content_mask = ""  # Luan's colour-coded mask of the content (optional)
  config.style_mask = ""  # ... and of the style
  config.max_input_pixels = 100_000_000
  return config
