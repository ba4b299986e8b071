"""Presets: every one builds with each of its arguments, and presets of one job and network kind have the
same keys (code reads them directly, never with a default)."""

import importlib

from flax import traverse_util

from stylejax import settings

ARGUMENTS = {"gatys": ["", "tiny"], "luan": ["", "tiny"], "johnson": ["", "tiny", "small", "johnson_layers", "tiny,small"],
             "fast_photo": ["", "cpu", "tiny", "matting", "cpu,matting"], "fast_photo_thesis": ["", "cpu", "tiny"],
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
  assert set(groups) >= {("optimize", None), ("train", "johnson"), ("train", "thesis"), ("train", "bilateral")}
  for group, members in groups.items():
    union = set.union(*(keys for _, keys in members))
    assert {name: sorted(union - keys) for name, keys in members if union - keys} == {}, group
