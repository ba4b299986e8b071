"""The `compare` job: run several optimize configs on one pair and lay the results
side by side in a contact sheet with their photorealism metrics under them;
loss_vs_time.png plots each run's total loss against its wall time."""

import os

import numpy as np
from PIL import Image, ImageDraw

from stylejax import settings
from stylejax.io import images, runlog
from stylejax.jobs import optimize

TILE_HEIGHT = 256
CAPTION_HEIGHT = 44


def captioned(image, caption):
  """`image` at TILE_HEIGHT px with `caption` below it."""
  image = images.to_uint8(image)
  width = max(1, round(image.shape[1] * TILE_HEIGHT / image.shape[0]))
  tile = Image.new("RGB", (width, TILE_HEIGHT + CAPTION_HEIGHT), "white")
  tile.paste(Image.fromarray(image).resize((width, TILE_HEIGHT), Image.Resampling.LANCZOS), (0, 0))
  ImageDraw.Draw(tile).multiline_text((4, TILE_HEIGHT + 3), caption, fill="black", spacing=2)
  return tile


def contact_sheet(rows, path):
  """Rows of captioned tiles (lists of `captioned` images) in one PNG, 4 px apart."""
  gap = 4
  width = max(sum(t.width for t in row) + gap * (len(row) - 1) for row in rows)
  sheet = Image.new("RGB", (width, sum(row[0].height for row in rows) + gap * (len(rows) - 1)), "white")
  y = 0
  for row in rows:
    x = 0
    for tile in row:
      sheet.paste(tile, (x, y))
      x += tile.width + gap
    y += row[0].height + gap
  sheet.save(path)


def run(config, workdir):
  """Runs each entry of config.runs (name -> optimize config) and writes contact_sheet.png."""
  summaries, tiles = {}, []
  first = next(iter(config.runs.values()))
  content = images.load_image(settings.paths(first.content, "content")[0], first.image_size)
  style = images.load_image(settings.paths(first.style, "style")[0], first.image_size)
  tiles += [captioned(content, "content"), captioned(style, "style")]
  for name, run_config in config.runs.items():
    run_dir = os.path.join(workdir, name)
    summaries[name], result = optimize.execute(run_config, run_dir)
    masks_png = os.path.join(run_dir, "masks_content.png")
    if os.path.isfile(masks_png):
      drawn = np.asarray(Image.open(masks_png).convert("RGB"), np.float32)
      tiles.insert(2, captioned(drawn[:, drawn.shape[1] // 2:], f"masks ({name})"))
    realism = summaries[name]["photorealism"]
    caption = (f"{name}\naffine energy {realism['affine_energy']:.3g}\n"
               f"gradient SSIM {realism['gradient_ssim']:.3f}")
    tiles.append(captioned(result, caption))
  contact_sheet([tiles], os.path.join(workdir, "contact_sheet.png"))
  runlog.plot_loss_against_time({name: runlog.read_rows(os.path.join(workdir, name)) for name in summaries},
                                os.path.join(workdir, "loss_vs_time.png"))
  runlog.write_json(os.path.join(workdir, "compare.json"),
                    {name: {"photorealism": s["photorealism"], "final_losses": s["final_losses"]}
                     for name, s in summaries.items()})
  return summaries
