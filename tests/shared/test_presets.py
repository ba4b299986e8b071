"""Presets: every one builds with each of its arguments, and presets of one job and network kind have the
same keys (code reads them directly, never with a default); a wrong network setting in a preset is one error line."""

import importlib

import pytest
from flax import traverse_util

from configs import fast_photo, johnson
from stylejax import settings
from stylejax.errors import UserError

ARGUMENTS = {"gatys": ["", "tiny"], "luan": ["", "tiny"], "johnson": ["", "tiny", "small", "johnson_layers", "tiny,small", "small,photos"],
             "fast_photo": ["", "cpu", "tiny", "matting", "cpu,matting"], "fast_photo_thesis": ["", "cpu", "tiny"],
             "universal_photo": ["", "cpu", "tiny", "matting", "cpu,matting", "tiny,regions"],
             "web": ["", "tiny"], "stylize": [""], "export": [""], "weights": [""], "score": [""]}


def _keys(config):
  return set(traverse_util.flatten_dict(config.to_dict(), sep=".", keep_empty_nodes=True))


def test_presets_of_one_job_and_network_kind_have_the_same_keys_with_every_argument():
  groups = {}
  for name, arguments in ARGUMENTS.items():
    for arg in arguments:
      config = importlib.import_module(f"configs.{name}").get_config(arg or None)
      kind = settings.network(config).kind if "net" in config else None
      groups.setdefault((config.job, kind), []).append((f"{name}:{arg}", _keys(config)))
      if "loss" in config:
        settings.objective(config)  # every preset's loss reads
  assert set(groups) >= {("optimize", None), ("train", "johnson"), ("train", "thesis"), ("train", "bilateral"),
                         ("train", "universal")}
  for group, members in groups.items():
    union = set.union(*(keys for _, keys in members))
    assert {name: sorted(union - keys) for name, keys in members if union - keys} == {}, group


def test_bad_network_settings_are_refused_in_one_line():
  for key, value, message in (("kind", "unet", "unknown net.kind"), ("grid_size", 6, "power of 2"),
                              ("grid_depth", 10**6, "grid_depth"), ("low_res", 2**20, "at most 4096"),
                              ("width", 10**6, "width must be in"),
                              ("padding", "mirror", "unknown padding"), ("upsample", "bicubic", "net.upsample")):
    bad = fast_photo.get_config("tiny")
    bad.net[key] = value
    with pytest.raises(UserError, match=message):
      settings.network(bad)
  message = r"residual_blocks must be in 0\.\.64 and width in 1\.\.1024"
  for key, value in (("width", 0), ("width", 4096), ("residual_blocks", -1), ("residual_blocks", 10**6)):
    bad = johnson.get_config("tiny")
    bad.net[key] = value
    with pytest.raises(UserError, match=message):
      settings.network(bad)
  bad = fast_photo.get_config("tiny")
  del bad.loss["grid_smoothness_weight"]
  with pytest.raises(UserError, match="set loss.grid_smoothness_weight"):
    settings.objective(bad)
