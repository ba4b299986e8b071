"""Configs as data: overrides by key (checked and typed), the one "same config" check, old saved configs read."""

import json

import pytest

from configs import common, gatys, johnson
from stylejax import settings
from stylejax.core import networks
from stylejax.errors import UserError
from stylejax.io import assets, checkpoints, configs, runlog
from stylejax.jobs import train


def test_an_unknown_key_is_refused_not_added():
  config = gatys.get_config()
  for key in ("style_wieght", "loss.style_wieght", "loss__style_wieght", "nosuch.style_weight", "image_size.x"):
    with pytest.raises(UserError, match=f"'{key}' is not a key of the config"):
      configs.override(config, {key: 1.0})


def test_values_take_their_field_type():
  config = configs.override(gatys.get_config(), {"loss.style_weight": 50, "style": ["a.jpg", "b.jpg"],
                                                 "loss.style_layers": "relu1_1, relu2_1", "scale_steps": ()})
  assert config.loss.style_weight == 50.0 and isinstance(config.loss.style_weight, float)  # int fills a float
  assert config.style == ("a.jpg", "b.jpg") and config.loss.style_layers == ("relu1_1", "relu2_1")
  with pytest.raises(UserError, match="'big' does not fit 'image_size'"):
    configs.override(config, {"image_size": "big"})
  with pytest.raises(UserError, match="does not fit 'loss'"):
    configs.override(config, {"loss": 1.0})


def test_double_underscore_is_the_dot_and_the_original_is_untouched():
  config = gatys.get_config()
  config.lock()  # as the command line leaves a config
  changed = configs.override(config, {"loss__style_weight": 7.0, "masks.source": "auto"})
  assert (changed.loss.style_weight, changed.masks.source) == (7.0, "auto")
  assert (config.loss.style_weight, config.masks.source) == (20.0, "none")


def test_differences_name_changed_keys_in_the_saved_form_and_skip_resumable_ones(tmp_path):
  config = johnson.get_config("tiny")
  runlog.write_config(str(tmp_path), config)
  saved = configs.read(str(tmp_path / "config.json"))  # tuples come back as lists: not a difference
  assert configs.differences(saved, config) == []
  changed = configs.override(config, {"total_steps": 100, "loss.style_weight": 1.0, "seed": 3})
  assert configs.differences(saved, changed) == ["loss.style_weight", "seed", "total_steps"]
  assert configs.differences(saved, changed, ignore=train.RESUMABLE_CHANGES) == ["loss.style_weight", "seed"]
  with changed.unlocked():
    changed.loss.extra_weight = 0.0  # a key in one config only differs
  assert "loss.extra_weight" in configs.differences(saved, changed)
  assert configs.fingerprint(saved) == configs.fingerprint(config) != configs.fingerprint(changed)


@pytest.mark.parametrize("old, new", [("johnson", "mean"), ("gatys", "sum"), ("luan", "luan")])
def test_old_normalisation_names_are_read_as_todays(tmp_path, old, new):
  saved = gatys.get_config().to_dict()
  saved["loss"]["normalization"] = old
  (tmp_path / "config.json").write_text(json.dumps(saved))
  assert configs.read(str(tmp_path / "config.json")).loss.normalization == new


def test_networks_saved_before_kinds_and_the_thesis_kind_are_read_as_todays(tmp_path):
  saved = johnson.get_config().to_dict()
  del saved["net"]["kind"], saved["net"]["width"]  # model directories from before the bilateral network, net.width
  (tmp_path / "config.json").write_text(json.dumps(saved))
  assert configs.read(str(tmp_path / "config.json")).net.to_dict() == {
      "kind": "johnson", "upsample": "transpose", "padding": "zeros", "residual_blocks": 5}
  saved["input_blend"] = 0.15  # the thesis's network before it was a kind
  (tmp_path / "config.json").write_text(json.dumps(saved))
  config = configs.read(str(tmp_path / "config.json"))
  assert config.net.kind == "thesis" and config.net.input_blend == 0.15 and "input_blend" not in config
  assert settings.network(config) == networks.build("thesis", {"input_blend": 0.15})  # width: Johnson's 32


def test_a_training_run_saved_before_colour_grades_reads_as_todays_config_and_resumes(tmp_path):
  config = johnson.get_config("tiny")
  saved = json.loads(runlog.config_json(config))
  del saved["augment"], saved["loss"]["reference_weight"]
  (tmp_path / "config.json").write_text(json.dumps(saved))
  assert configs.differences(configs.read(str(tmp_path / "config.json")), config) == []


def test_a_training_run_saved_before_the_temporal_term_reads_as_todays_config_and_resumes(tmp_path):
  config = johnson.get_config("tiny")
  saved = json.loads(runlog.config_json(config))
  del saved["init_from"]
  for key in [key for key in saved["loss"] if key.startswith("temporal_")]:
    del saved["loss"][key]
  (tmp_path / "config.json").write_text(json.dumps(saved))
  read = configs.read(str(tmp_path / "config.json"))
  assert configs.differences(read, config) == [] and "temporal" not in settings.objective(read).names


def test_the_bundled_models_name_todays_normalisations():
  for name, normalization in (("starry_night", "mean"), ("grace_hopper", "luan")):
    with open(assets.path(f"models/{name}/config.json")) as f:
      assert json.load(f)["loss"]["normalization"] == normalization
    assert checkpoints.read_config(assets.path(f"models/{name}")).loss.normalization == normalization


def test_a_config_json_that_is_no_config_is_refused(tmp_path):
  (tmp_path / "config.json").write_text("[1, 2]")
  with pytest.raises(ValueError, match="not an object"):
    configs.read(str(tmp_path / "config.json"))
  with pytest.raises(UserError, match="config.json is damaged"):
    checkpoints.read_config(str(tmp_path))


def test_preset_arguments_are_comma_separated_and_checked():
  assert common.arguments("tiny,small", ("tiny", "small")) == ["tiny", "small"]
  assert common.arguments(None, ("tiny",)) == common.arguments("", ("tiny",)) == []
  with pytest.raises(ValueError, match="unknown config argument 'huge'; use tiny, small, comma-separated"):
    common.arguments("tiny,huge", ("tiny", "small"))
  with pytest.raises(ValueError, match="unknown config argument 'big'; use tiny, small, johnson_layers"):
    johnson.get_config("big")
