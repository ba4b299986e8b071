"""The fast models the site offers: every model directory (trained or exported) in the bundled
stylejax/assets/models and in the configured models_dir, grouped by what their network kind is for:
painting or photo styles trained in (`Network.photorealistic`), or the look of any style photo the user
uploads beside the photo (`Network.takes_style`: the universal network).

Folders are scanned on every call, so a model directory copied into models_dir
appears in the menu at the next page load. Reading a model's config.json needs
no accelerator: the server lists models, the worker loads them.
"""

import dataclasses
import os
import re

from stylejax import errors
from stylejax.core import networks
from stylejax.io import assets, checkpoints, configs

GROUPS = ("Painting styles", "Photo styles", "Your own style photo")  # in menu order
METHODS = {"gatys": "Artistic (Gatys)", "luan": "Photorealistic (Luan)",  # custom jobs' methods, as their pages
           "refined": "Photorealistic, quick (universal network, refined)"}  # and mails name them
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclasses.dataclass(frozen=True)
class Model:
  name: str  # the folder's name: the menu's value and the URL of its style image
  path: str
  kind: str
  style: str  # path of style.jpg, or ''
  example: str = ""  # path of example.jpg (a photo it stylised, experiments/model_example.py), or ''

  @property
  def takes_style(self):
    return networks.KINDS[self.kind].takes_style

  @property
  def takes_masks(self):
    return networks.KINDS[self.kind].takes_masks

  @property
  def refines(self):
    return networks.KINDS[self.kind].refines

  @property
  def group(self):
    return GROUPS[2] if self.takes_style else GROUPS[networks.KINDS[self.kind].photorealistic]

  @property
  def title(self):
    return title(self.name)


def title(name):
  """A model's name as the pages show it: starry_night -> Starry night."""
  return name.replace("_", " ").replace("-", " ").capitalize()


def how_made(job):
  """A job's method in the pages' and mails' words: its model's title (also once the model is gone from the
  site), or the custom method's name."""
  if job.kind in ("online", "video"):
    return title(job.params["model"])
  return METHODS.get(job.params.get("method"), "Your job")


def bundled_dir():
  """The models shipped with the package."""
  return assets.path("models")


def _read(folder):
  """The Model of a folder, or None if it holds no usable model directory."""
  has_weights = (os.path.isdir(os.path.join(folder, "checkpoints"))
                 or os.path.isfile(os.path.join(folder, checkpoints.EXPORTED)))
  try:
    with errors.reading(f"{folder}/config.json"):  # any damage (even a RecursionError) means: not a model
      kind = configs.read(os.path.join(folder, "config.json")).net.kind
  except errors.UserError:
    return None
  if not has_weights or not isinstance(kind, str) or kind not in networks.KINDS:
    return None
  style = os.path.join(folder, "style.jpg")  # a network that takes a style has no style of its own to show
  shown = os.path.isfile(style) and not networks.KINDS[kind].takes_style
  example = os.path.join(folder, "example.jpg")
  return Model(os.path.basename(folder), folder, kind, style if shown else "",
               example if os.path.isfile(example) else "")


def models(folders):
  """{name: Model} of every model directory directly inside `folders` (missing folders are skipped; a name in a
  later folder replaces the same name in an earlier one), ordered by group, then name."""
  found = {}
  for folder in folders:
    if not os.path.isdir(folder):
      continue
    for name in sorted(os.listdir(folder)):
      model = _read(os.path.join(folder, name)) if _NAME.fullmatch(name) else None
      if model is not None:
        found[name] = model
  return dict(sorted(found.items(), key=lambda item: (GROUPS.index(item[1].group), item[0])))
