"""Whether a picture is textured all over, as a painting is: the photorealistic methods' guard.

A photo nearly always has smooth areas (sky, walls, skin, an out-of-focus background): blocks whose grey level
hardly varies. Brush strokes and canvas leave a painting almost none. The share of smooth blocks,

    s = |{B : σ(Y_B) < FLAT}| / |{B}|,

over the BLOCK×BLOCK blocks B of the luminance Y (0..1) of the picture at SIDE px on its long side (never
enlarged), is below PAINTED in all 7 copies of our paintings (the three bundled ones, the larger copies they were
made from, Luan's Starry Night: s ≤ 0.0023) and in 33 of their 35 views with random crops (two crops of the large
Matisse: 0.0053, 0.0070), and in 7 of the 165 development photos, all textured all over (forests, church
interiors, rain; photos' median 0.31). `python experiments/painting_guard.py` measures it. Such a style picture's
texture is what the photorealistic methods cannot carry over (they only recolour the photo), so the advice holds
for those photos too. Flat digital art (posters, cartoons) is smooth and not flagged.
"""

import numpy as np
from PIL import Image

SIDE, BLOCK, FLAT, PAINTED = 512, 8, 0.01, 0.005


def smooth_share(image):
  """s above for `image` (H, W, 3) 0..255."""
  picture = Image.fromarray(np.asarray(image, np.uint8))
  scale = min(1.0, SIDE / max(picture.size))  # never enlarged: enlarging smooths the strokes
  picture = picture.resize(tuple(max(BLOCK, round(side * scale)) for side in picture.size), Image.BICUBIC)
  luminance = np.asarray(picture, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
  rows, cols = luminance.shape[0] // BLOCK, luminance.shape[1] // BLOCK
  blocks = luminance[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK)
  return float((blocks.std((1, 3)) < FLAT).mean())


def textured_all_over(image):
  """Whether `image` (H, W, 3) 0..255 has almost no smooth area, as a painting: s < PAINTED."""
  return smooth_share(image) < PAINTED
