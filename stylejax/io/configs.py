"""Configs as data: the one way to set keys of a config, to tell whether two configs are the same, and to read
a saved config.json.

`override` is what the API's keyword overrides, the sweep's points, the
tools' derived runs and the website's jobs set keys with: a misspelt key is an
error, not a new setting. `differences` and `fingerprint` compare configs in
the form a run saves them (stylejax.io.runlog.config_json), so a resumed
training run, a finished sweep point and an earlier comparison run are
recognised the same way. `read` loads a config.json of any version in
today's names.
"""

import dataclasses
import hashlib
import json

import ml_collections
from flax import traverse_util

from stylejax.core import grades, terms
from stylejax.errors import UserError
from stylejax.io import runlog

# Loss normalisations under their names before they said what they are: configs saved then still load.
RENAMED_NORMALIZATIONS = {"johnson": "mean", "gatys": "sum"}
_UNSET = object()  # the value of a key one of two compared configs lacks


def override(config, values):
  """A resolved copy of `config` with `values` set: {key: value}, a key dotted (`loss.style_weight`) or with
  `__` for the dot (`loss__style_weight`, for keyword arguments).

  Every key must already exist, and each value takes its field's type (ml_collections: an int fills a
  float field, a list a tuple field); a comma string fills a tuple field with its items, as on the
  command line.
  """
  config = config.copy_and_resolve_references()
  for key, value in values.items():
    *sections, leaf = key.replace("__", ".").split(".")
    node = config
    for section in sections:
      node = node.get(section) if isinstance(node, ml_collections.ConfigDict) else None
    if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
      raise UserError(f"{key!r} is not a key of the config")
    if isinstance(node[leaf], tuple) and isinstance(value, str):
      value = tuple(part.strip() for part in value.split(",") if part.strip())
    try:
      node[leaf] = value
    except TypeError as e:
      raise UserError(f"{value!r} does not fit {key!r}: {e}") from None
  return config


def _flat(config):
  """{dotted key: value} of a config as its config.json holds it (tuples as lists)."""
  return traverse_util.flatten_dict(json.loads(runlog.config_json(config)), keep_empty_nodes=True, sep=".")


def differences(saved, config, ignore=()):
  """The dotted keys, sorted, whose values differ between two configs (a key in one only differs), but `ignore`."""
  old, new = _flat(saved), _flat(config)
  return sorted(key for key in old.keys() | new.keys()
                if key not in ignore and old.get(key, _UNSET) != new.get(key, _UNSET))


def fingerprint(config):
  """The sha256 of a config's config.json text: a record of which config a result belongs to."""
  return hashlib.sha256(runlog.config_json(config).encode()).hexdigest()


def read(path):
  """A saved config.json as a ConfigDict, in today's names: normalisations per RENAMED_NORMALIZATIONS, a `net`
  without `kind` (saved before there were several) a Johnson network, the thesis's training blend, once a
  top-level `input_blend`, its network kind `thesis`, a training config saved before colour grades and
  reference pairs with them off (`augment` at its defaults, `loss.reference_weight` 0), and one saved before
  the temporal term and fine-tunes with them off (`loss.temporal_*` at their defaults, weight 0; `init_from`
  empty), so that such a run resumes.

  Raises OSError when it cannot be read and ValueError when it holds no config, for the caller to word.
  """
  with open(path) as f:
    saved = json.load(f)
  if not isinstance(saved, dict):
    raise ValueError(f"a JSON {type(saved).__name__}, not an object")
  loss = saved.get("loss")
  if isinstance(loss, dict) and loss.get("normalization") in RENAMED_NORMALIZATIONS:
    loss["normalization"] = RENAMED_NORMALIZATIONS[loss["normalization"]]
  net = saved.get("net")
  if isinstance(net, dict):
    net.setdefault("kind", "johnson")
    blend = saved.pop("input_blend", None)
    if blend:
      net.update(kind="thesis", input_blend=blend)
    saved.setdefault("augment", dataclasses.asdict(grades.Augment()))
    if saved.get("job") == "train":
      saved.setdefault("init_from", "")
    if isinstance(loss, dict):
      loss.setdefault("reference_weight", 0.0)
      loss.setdefault("temporal_weight", 0.0)
      for key, value in dataclasses.asdict(terms.Temporal()).items():
        loss.setdefault(f"temporal_{key}", value)
  return ml_collections.ConfigDict(saved)
