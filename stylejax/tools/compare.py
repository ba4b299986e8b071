"""The `compare` job: run several optimize configs on one pair, score each result
with the fixed protocol (stylejax.core.scoring) beside optional reference images
(e.g. Luan's published result), and lay them side by side.

Writes contact_sheet.png (content | style | masks | references | runs, scored; six per row),
score.md/score.json (the scores table), tradeoff.png (style distance against
affine energy, references marked), loss_vs_time.png (each run's total loss
against its wall time) and compare.json.
"""

import os

import numpy as np
from PIL import Image, ImageDraw

from stylejax import api, launch, settings
from stylejax.io import images, mask_files, runlog
from stylejax.tools import score as score_tool

TILE_HEIGHT = 256
CAPTION_HEIGHT = 44
TILES_PER_ROW = 6


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


def scoring_inputs(run_config):
  """(content, style, content mask, style mask) the scorer needs for a run's pair (masks: with masks.source=files)."""
  content = images.read_rgb(settings.paths(run_config.content, "content")[0], run_config.max_input_pixels)
  style = images.read_rgb(settings.paths(run_config.style, "style")[0], run_config.max_input_pixels)
  masks = (None, None)
  if run_config.masks.source == "files":
    masks = tuple(mask_files.load_segmentation(path, run_config.max_input_pixels)
                  for path in (run_config.masks.content, run_config.masks.style))
  return (content, style, *masks)


def caption(name, scores):
  return (f"{name}\nstyle {scores['style']:.3g} color {scores['color']:.3f}\n"
          f"affine {scores['affine_energy']:.3g} gSSIM {scores['gradient_ssim']:.3f}")


def run(config, workdir):
  """Runs each entry of config.runs (name -> optimize config), scores them and the images of
  config.references (name -> path; optional), and writes the outputs listed above."""
  summaries, scores, tiles = {}, {}, []
  first = next(iter(config.runs.values()))
  pair = scoring_inputs(first)
  tiles += [captioned(images.at_long_side(pair[0], first.image_size), "content"),
            captioned(images.at_long_side(pair[1], first.image_size), "style")]
  for name, path in config.get("references", {}).items():
    reference = images.read_rgb(settings.paths(path, name)[0], first.max_input_pixels)
    scores[name] = api.score(reference, *pair)
    tiles.append(captioned(images.at_long_side(reference, first.image_size), caption(name, scores[name])))
  references, masks_shown = list(scores), False
  for name, run_config in config.runs.items():
    run_dir = os.path.join(workdir, name)
    summaries[name] = launch.run(run_config, run_dir)
    result = images.load_image(os.path.join(run_dir, summaries[name]["image"]))
    scores[name] = api.score(result, *scoring_inputs(run_config))
    masks_png = os.path.join(run_dir, "masks_content.png")
    if os.path.isfile(masks_png) and not masks_shown:
      drawn = np.asarray(Image.open(masks_png).convert("RGB"), np.float32)
      tiles.insert(2, captioned(drawn[:, drawn.shape[1] // 2:], f"masks ({name})"))
      masks_shown = True
    tiles.append(captioned(result, caption(name, scores[name])))
  contact_sheet([tiles[k:k + TILES_PER_ROW] for k in range(0, len(tiles), TILES_PER_ROW)],
                os.path.join(workdir, "contact_sheet.png"))
  runlog.write_table(workdir, score_tool.markdown(scores), {"scores": scores, "references": references}, name="score")
  runlog.plot_tradeoff({name: scores[name] for name in summaries}, {name: scores[name] for name in references},
                       os.path.join(workdir, "tradeoff.png"))
  runlog.plot_loss_against_time({name: runlog.read_rows(os.path.join(workdir, name)) for name in summaries},
                                os.path.join(workdir, "loss_vs_time.png"))
  runlog.write_json(os.path.join(workdir, "compare.json"),
                    {name: {"photorealism": s["photorealism"], "final_losses": s["final_losses"],
                            "wall_time_s": s["wall_time_s"], "scores": scores[name]}
                     for name, s in summaries.items()})
  return summaries
