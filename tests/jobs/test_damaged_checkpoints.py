"""Damaged checkpoints and model directories: training falls back to the newest step that restores,
stylize names what is wrong."""

import glob
import json
import os
import shutil

import pytest

from stylejax import api
from stylejax.errors import UserError
from stylejax.io import checkpoints
from stylejax.jobs import train
from tests.helpers import assert_bitwise_equal, final_params, tiny_config


def truncate_largest_file(workdir, step, part="params"):
  """Cuts the biggest data file of a step's `part` to 100 bytes, as a crash or a bad disk would."""
  files = glob.glob(os.path.join(workdir, "checkpoints", str(step), part, "**", "d", "*"), recursive=True)
  largest = max(files, key=os.path.getsize)
  with open(largest, "r+b") as f:
    f.truncate(100)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """An uninterrupted 6-step run (checkpoints at 2, 4, 6)."""
  workdir = str(tmp_path_factory.mktemp("straight"))
  train.run(tiny_config(sample_every_steps=0), workdir)
  return workdir


@pytest.mark.slow
@pytest.mark.parametrize("sealed", [True, False])
def test_a_truncated_newest_step_is_set_aside_and_training_resumes_from_the_one_before(straight, tmp_path, sealed):
  workdir = str(tmp_path / "run")
  train.run(tiny_config(total_steps=4, sample_every_steps=0), workdir)
  truncate_largest_file(workdir, 4)
  if not sealed:  # a step saved just before a crash has no manifest: the restore itself fails
    os.remove(os.path.join(workdir, "checkpoints", "4", checkpoints.MANIFEST))
  with pytest.warns(UserWarning, match=r"step 4 .* does not restore") as caught:
    model = train.run(tiny_config(sample_every_steps=0), workdir)
  assert any("resuming from step 2" in str(w.message) for w in caught)
  assert model["steps"] == 6
  assert [name.split(".")[0] for name in os.listdir(os.path.join(workdir, "damaged_checkpoints"))] == ["4"]
  assert_bitwise_equal(final_params(workdir), final_params(straight))  # the same parameters as an undamaged run
  rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [row["step"] for row in rows] == [2, 4, 6]


@pytest.mark.slow
def test_every_step_damaged_starts_afresh(tmp_path):
  workdir = str(tmp_path / "run")
  train.run(tiny_config(total_steps=2, sample_every_steps=0), workdir)
  truncate_largest_file(workdir, 2, "train")
  with pytest.warns(UserWarning, match="starting afresh"):
    assert train.run(tiny_config(total_steps=2, sample_every_steps=0), workdir)["steps"] == 2


def test_stylize_model_directories_damaged_or_wrong(model_dir, tmp_path):
  damaged = str(tmp_path / "model")
  shutil.copytree(model_dir, damaged)
  newest = max(int(d) for d in os.listdir(os.path.join(damaged, "checkpoints")))
  shutil.copytree(os.path.join(damaged, "checkpoints", str(newest)), os.path.join(damaged, "checkpoints", str(newest + 1)))
  truncate_largest_file(damaged, newest + 1)
  with pytest.warns(UserWarning, match=f"step {newest + 1} .* has changed"):
    assert api.load_model(damaged).step == newest  # the newest step that restores
  truncate_largest_file(damaged, newest)
  with pytest.warns(UserWarning), pytest.raises(UserError, match="has no checkpoint that restores"):
    api.load_model(damaged)
  with pytest.raises(UserError, match="model directory not found"):
    api.load_model(str(tmp_path / "nowhere"))
  optimize_dir = tmp_path / "optimize_run"
  optimize_dir.mkdir()
  (optimize_dir / "config.json").write_text(json.dumps({"job": "optimize", "content": "x.jpg"}))
  with pytest.raises(UserError, match="workdir of a run of job 'optimize', which holds no trained network"):
    api.load_model(str(optimize_dir))
  cut = tmp_path / "cut"
  shutil.copytree(model_dir, cut)
  (cut / "config.json").write_text((cut / "config.json").read_text()[:50])
  with pytest.raises(UserError, match="config.json is damaged"):
    api.load_model(str(cut))
  shutil.rmtree(cut / "checkpoints")
  (cut / "config.json").write_text((tmp_path / "model" / "config.json").read_text())
  with pytest.raises(UserError, match="no checkpoints/ folder"):
    api.load_model(str(cut))
