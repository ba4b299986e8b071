"""The `compare` job: run several optimize configs on one pair and lay the results
side by side in a contact sheet with their photorealism metrics under them."""

import os

import numpy as np
from PIL import Image, ImageDraw

from stylejax import images, optimize, report

TILE_HEIGHT = 256
CAPTION_HEIGHT = 44


def _tile(image, caption):
  image = images.to_uint8(image)
  width = max(1, round(image.shape[1] * TILE_HEIGHT / image.shape[0]))
  tile = Image.new("RGB", (width, TILE_HEIGHT + CAPTION_HEIGHT), "white")
  tile.paste(Image.fromarray(image).resize((width, TILE_HEIGHT), Image.Resampling.LANCZOS), (0, 0))
  ImageDraw.Draw(tile).multiline_text((4, TILE_HEIGHT + 3), caption, fill="black", spacing=2)
  return tile


def contact_sheet(tiles, path):
  sheet = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), tiles[0].height), "white")
  x = 0
  for tile in tiles:
    sheet.paste(tile, (x, 0))
    x += tile.width + 4
  sheet.save(path)


def run(config, workdir):
  """Runs each entry of config.runs (name -> optimize config) and writes contact_sheet.png."""
  summaries, tiles = {}, []
  first = next(iter(config.runs.values()))
  content = images.load_image(first.content or optimize.DEFAULT_CONTENT, first.image_size)
  style = images.load_image(first.style or optimize.DEFAULT_STYLE, first.image_size)
  tiles += [_tile(content, "content"), _tile(style, "style")]
  for name, run_config in config.runs.items():
    run_dir = os.path.join(workdir, name)
    summaries[name] = optimize.run(run_config, run_dir)
    masks_png = os.path.join(run_dir, "masks_content.png")
    if os.path.isfile(masks_png):
      drawn = np.asarray(Image.open(masks_png).convert("RGB"), np.float32)
      tiles.insert(2, _tile(drawn[:, drawn.shape[1] // 2:], f"masks ({name})"))
    realism = summaries[name]["photorealism"]
    caption = (f"{name}\naffine energy {realism['affine_energy']:.3g}\n"
               f"gradient SSIM {realism['gradient_ssim']:.3f}")
    tiles.append(_tile(images.load_image(os.path.join(run_dir, "result.png")), caption))
  contact_sheet(tiles, os.path.join(workdir, "contact_sheet.png"))
  report.write_json(os.path.join(workdir, "compare.json"),
                    {name: {"photorealism": s["photorealism"], "final_losses": s["final_losses"]}
                     for name, s in summaries.items()})
  return summaries
