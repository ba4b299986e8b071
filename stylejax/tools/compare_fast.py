"""The `compare_fast` job: a trained feed-forward network next to Gatys on the same photos.

For every photo (long side image_size): the network's stylisation (one pass)
and a Gatys optimisation (config.gatys, with the network's style, loss layers
and weights, and its style image at the size the network was trained with),
both scored with the same loss (the network's Objective and style Gram
targets). Writes contact_sheet.png (one row per photo: photo | style | fast |
Gatys, losses and times under the pictures) and compare_fast.json.
"""

import os
import time

import jax
import jax.numpy as jnp

from stylejax import api, launch, settings
from stylejax.core import networks
from stylejax.errors import UserError
from stylejax.io import configs, images, runlog, weights
from stylejax.methods import pixels
from stylejax.tools import compare

LOSS_KEYS = ("loss", "vgg", "seed")  # what Gatys takes from the network's config


def _gatys_config(config, train_config, photo):
  """config.gatys on `photo` with the network's LOSS_KEYS and style, the style at the long side it was trained
  with (the same style Gram targets)."""
  return configs.override(config.gatys, {
      **{key: train_config[key] for key in LOSS_KEYS}, "content": photo, "style": (train_config.style,),
      "image_size": config.image_size, "style_scale": train_config.style_size / config.image_size})


def _caption(name, terms, seconds):
  return (f"{name}: {seconds:.3g} s\ncontent {float(terms['content']):.3g}  style {float(terms['style']):.3g}\n"
          f"total {float(terms['total']):.4g}")


def run(config, workdir):
  photos = settings.paths(config.photos, "photos")
  if not photos or not config.checkpoint:
    raise UserError("compare_fast needs --config.checkpoint (a train workdir) and --config.photos (comma-separated)")
  model = api.load_model(config.checkpoint)
  net, params, step, train_config = model.net, model.params, model.step, model.config
  objective = settings.objective(train_config)
  vgg = weights.load_vgg(train_config.vgg.arch, train_config.vgg.weights, train_config.vgg.pooling)
  grams, style = api.style_targets(objective, vgg, settings.paths(train_config.style, "style")[0],
                                   train_config.style_size, train_config.max_input_pixels)
  results, rows = {}, []
  for photo in photos:
    name = os.path.splitext(os.path.basename(photo))[0]
    content = images.load_image(photo, config.image_size, config.max_input_pixels)
    batch = jnp.asarray(content)[None]
    jax.block_until_ready(networks.stylize(net, params, batch))  # compile
    start = time.perf_counter()
    fast = jax.block_until_ready(networks.stylize(net, params, batch))
    fast_seconds = time.perf_counter() - start
    summary = launch.run(_gatys_config(config, train_config, photo), os.path.join(workdir, name))
    gatys = images.load_image(os.path.join(workdir, name, summary["image"]))
    targets = objective.targets(vgg, batch, grams)
    scores = {key: {k: float(v) for k, v in pixels.evaluate(vgg, targets, jnp.asarray(image)[None],
                                                              objective=objective).items()}
              for key, image in (("fast", fast[0]), ("gatys", gatys))}
    images.save_image(os.path.join(workdir, name, "fast.png"), fast[0])
    results[name] = {**scores, "fast_seconds": fast_seconds, "gatys_seconds": summary["wall_time_s"],
                     "gatys_steps": summary["steps"]}
    rows.append([compare.captioned(content, name), compare.captioned(style, "style"),
                 compare.captioned(fast[0], _caption(f"fast (step {step})", scores["fast"], fast_seconds)),
                 compare.captioned(gatys, _caption(f"Gatys ({summary['steps']} steps)", scores["gatys"],
                                                   summary["wall_time_s"]))])
  compare.contact_sheet(rows, os.path.join(workdir, "contact_sheet.png"))
  runlog.write_json(os.path.join(workdir, "compare_fast.json"),
                    {"checkpoint": os.path.abspath(config.checkpoint), "checkpoint_step": step,
                     "image_size": config.image_size, "photos": results, **runlog.environment()})
  return results
