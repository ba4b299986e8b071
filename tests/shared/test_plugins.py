"""Adding a network or a loss term is one class: both defined here, outside the package, run through the jobs."""

import dataclasses
import json
import os

import flax.linen as nn
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import gatys, stylize as stylize_preset
from stylejax import api, settings
from stylejax.core import networks, terms
from stylejax.io import assets, images
from stylejax.jobs import optimize, stylize, train
from tests.helpers import tiny_config


class _ColourShiftModule(nn.Module):
  features: int

  @nn.compact
  def __call__(self, content):
    hidden = nn.relu(nn.Conv(self.features, (3, 3))(content / 127.5 - 1.0))
    offset = 50.0 * jnp.tanh(nn.Conv(3, (1, 1))(hidden))
    self.sow("losses", "offset_size", jnp.mean(jnp.square(offset / 50.0)))
    return jnp.clip(content + offset, 0.0, 255.0)


@dataclasses.dataclass(frozen=True)
class ColourShift(networks.Network):
  """A per-pixel colour offset from one 3×3 convolution, with its own regulariser: the whole plug-in."""
  kind = "colour_shift"
  regularizers = ("offset_size",)
  features: int = 4

  def module(self):
    return _ColourShiftModule(self.features)


class _StyleColourModule(nn.Module):
  @nn.compact
  def __call__(self, content, style):
    style_colour = jnp.mean(style, axis=(1, 2), keepdims=True) / 127.5 - 1.0
    shift = 60.0 * jnp.tanh(nn.Dense(3)(style_colour))
    return jnp.clip(content + shift, 0.0, 255.0)


@dataclasses.dataclass(frozen=True)
class StyleColour(networks.Network):
  """Shifts the content's colours by a learned function of the style image's mean colour: a network that
  takes a style input (one network for many styles)."""
  kind = "style_colour"
  takes_style = True

  def module(self):
    return _StyleColourModule()


@dataclasses.dataclass(frozen=True)
class Brightness(terms.Term):
  """(mean(O) − b)² per image, averaged over the batch: pulls the output's mean brightness to b."""
  name = "brightness"
  target: float = 128.0

  def __call__(self, seen):
    return jnp.mean(jnp.square(jnp.mean(seen.image, axis=(1, 2, 3)) - self.target))

  @classmethod
  def configure(cls, loss, masked):
    return cls(float(loss["brightness_target"]))


@pytest.fixture
def colour_shift():
  networks.register(ColourShift)
  networks.register(StyleColour)
  yield
  del networks.KINDS["colour_shift"], networks.KINDS["style_colour"]


def test_a_network_defined_outside_the_package_trains_through_the_train_job_and_stylises(colour_shift, tmp_path):
  config = tiny_config(total_steps=2, sample_every_steps=0)
  config.net = ml_collections.ConfigDict({"kind": "colour_shift", "features": 4})
  config.loss.offset_size_weight = 10.0
  workdir = str(tmp_path / "model")
  summary = train.run(config, workdir)
  assert summary["steps"] == 2 and summary["net"] == {"kind": "colour_shift", "features": 4}
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  assert rows[-1]["offset_size"] > 0  # its regulariser is a logged term of the loss

  model = api.load_model(workdir)
  assert isinstance(model.net, ColourShift) and model.step == 2
  photo = images.load_image(assets.path("chelsea.jpg"), 48)
  stylised = model.stylize(photo)
  assert stylised.shape == photo.shape and 0 < np.abs(stylised - photo).mean() < 50
  out = tmp_path / "out"
  stylize_config = stylize_preset.get_config()
  stylize_config.update({"checkpoint": workdir, "input": assets.path("chelsea.jpg"), "output": str(out)})
  stylize.run(stylize_config, str(tmp_path / "stylize"))
  assert os.listdir(out) == ["chelsea.jpg"]  # the default output_format


def test_a_network_that_takes_a_style_trains_on_several_styles_and_stylises_with_any(colour_shift, tmp_path):
  config = tiny_config(total_steps=2, sample_every_steps=0, style="bundled:starry_night.jpg,bundled:the_scream.jpg")
  config.net = ml_collections.ConfigDict({"kind": "style_colour"})
  workdir = str(tmp_path / "model")
  assert train.run(config, workdir)["steps"] == 2
  model = api.load_model(workdir)
  photo = images.load_image(assets.path("chelsea.jpg"), 48)
  starry, scream = (model.stylize(photo, style=assets.path(name)) for name in ("starry_night.jpg", "the_scream.jpg"))
  assert starry.shape == photo.shape and np.abs(starry - scream).mean() > 0.01  # the style input matters
  with pytest.raises(settings.UserError, match="needs a style image"):
    model.stylize(photo)


@pytest.mark.slow  # two optimize runs
def test_a_loss_term_defined_outside_the_package_is_one_class_and_one_config_entry(monkeypatch, tmp_path):
  monkeypatch.setattr(terms, "TERMS", terms.TERMS + (Brightness,))
  config = gatys.get_config("tiny")
  config.loss.brightness_weight = 1.0
  config.loss.brightness_target = 30.0
  objective = settings.objective(config)
  assert objective.names == ("content", "style", "tv", "brightness") and objective.term("brightness").target == 30.0
  summary = optimize.run(config, str(tmp_path / "dark"))
  assert summary["final_losses"]["brightness"] < summary["initial_losses"]["brightness"]
  plain = optimize.run(gatys.get_config("tiny"), str(tmp_path / "plain"))
  dark, light = (images.load_image(tmp_path / name / "result.png") for name in ("dark", "plain"))
  assert dark.mean() < light.mean() - 10 and "brightness" not in plain["final_losses"]


def test_a_weight_that_names_no_term_is_refused():
  config = gatys.get_config("tiny")
  config.loss.sharpness_weight = 1.0
  with pytest.raises(settings.UserError, match="loss.sharpness_weight names no loss term"):
    settings.objective(config)
