"""Damaged checkpoints and model directories: training falls back to the newest step that restores,
stylize names what is wrong, and a damaged shipped model (params.npz, config.json) is one error naming the file."""

import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from configs import export as export_config
from stylejax import api
from stylejax.errors import UserError
from stylejax.io import checkpoints
from stylejax.jobs import export, train
from tests.helpers import ROOT, assert_bitwise_equal, final_params, tiny_config
from tests.shared import torch_files


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


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
  """model_dir exported (params.npz and config.json): the form a model is shipped in, so read as untrusted."""
  config = export_config.get_config()
  config.model = model_dir
  folder = str(tmp_path_factory.mktemp("exported"))
  export.run(config, folder)
  return folder


def rewrite_params(**changes):
  """Damage: params.npz written again with `changes` to its arrays (None removes one)."""
  def damage(path):
    with np.load(path) as data:
      arrays = {**dict(data), **changes}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
  return damage


def first_array(changes):
  """Damage: `changes(array)` replaces the first parameter array."""
  def damage(path):
    with np.load(path) as data:
      arrays = dict(data)
    key = next(k for k in arrays if k != "step")
    arrays[key] = changes(arrays[key])
    np.savez(path, **arrays)
  return damage


def overwrite(content):
  def damage(path):
    with open(path, "wb") as f:
      f.write(content(open(path, "rb").read()) if callable(content) else content)
  return damage


DAMAGED_MODELS = {  # case: (file, damage, what the error says)
    "zero-byte params.npz": ("params.npz", overwrite(b""), "params.npz is damaged"),
    "params.npz cut in half": ("params.npz", overwrite(lambda data: data[:len(data) // 2]), "params.npz is damaged"),
    "a step that is not a scalar": ("params.npz", rewrite_params(step=np.array([1, 2])), "its step is"),
    "a text step": ("params.npz", rewrite_params(step=np.array("two")), "its step is"),
    "a negative step": ("params.npz", rewrite_params(step=np.int64(-1)), "its step is"),
    "a fractional step": ("params.npz", rewrite_params(step=np.float64(2.5)), "its step is"),
    "a parameter of Python objects": ("params.npz", first_array(lambda a: np.array([None], object)), "Python objects"),
    "a parameter of text": ("params.npz", first_array(lambda a: np.full(a.shape, "x")), "does not match the network"),
    "a parameter of another shape": ("params.npz", first_array(lambda a: a[..., :1]), "does not match the network"),
    "zero-byte config.json": ("config.json", overwrite(b""), "config.json is damaged"),
    "config.json a JSON list": ("config.json", overwrite(b"[1, 2]"), "config.json is damaged"),
    "config.json nested 100000 deep": ("config.json", overwrite(b"[" * 100_000 + b"]" * 100_000),
                                       "config.json is damaged"),
    "config.json not UTF-8": ("config.json", overwrite(b'{"net": "\xff\xfe"}'), "config.json is damaged"),
    "config.json whose net is a list": ("config.json", overwrite(b'{"job": "train", "net": [1]}'),
                                        "config.json is damaged: its net is not"),
}


@pytest.mark.parametrize("case", DAMAGED_MODELS)
def test_every_failure_to_read_a_shipped_model_is_one_user_error_naming_the_file(exported, tmp_path, case):
  """Issue 23: an exported model whose step is not a scalar was a TypeError traceback."""
  name, damage, message = DAMAGED_MODELS[case]
  folder = tmp_path / "model"
  shutil.copytree(exported, folder)
  damage(str(folder / name))
  with pytest.raises(UserError, match=message) as error:
    api.load_model(str(folder))
  assert str(folder / name) in str(error.value)


def write_crafted_weights(folder):
  """Crafted and damaged .pth files (tests/shared/test_crafted_weights.py has every case, in-process)."""
  over_16_bytes = {"features.0.weight": torch_files.Tensor(torch_files.Storage("0", 4), 0, (2 ** 26,), (1,))}
  torch_files.write_zip(folder / "oob_zip.pth", over_16_bytes, {"0": bytes(16)})
  torch_files.write_legacy(folder / "oob_legacy.pth", over_16_bytes, {"0": (4, bytes(16))})
  torch_files.write_legacy(folder / "huge_count.pth", over_16_bytes, {"0": (2 ** 40, bytes(16))})
  torch_files.write_zip(folder / "list_root.pth", [1, 2], {})


STYLIZE = ("checkpoint={d}/model", "input={d}/photo.png", "output={d}/out")
END_TO_END = {  # case: (config, overrides of files in the folder {d}, what the error line must name)
    "a tensor of 2**26 elements over 16 bytes (zip)": ("weights.py", ["source={d}/oob_zip.pth"], "oob_zip.pth"),
    "a tensor of 2**26 elements over 16 bytes (legacy)": ("weights.py", ["source={d}/oob_legacy.pth"],
                                                          "oob_legacy.pth"),
    "a legacy storage count of 2**40": ("weights.py", ["source={d}/huge_count.pth"], "huge_count.pth"),
    "a .pth whose pickle root is a list": ("gatys.py:tiny", ["vgg.arch=vgg19", "vgg.weights={d}/list_root.pth"],
                                           "list_root.pth"),
    "a zero-byte .npz as vgg.weights": ("gatys.py:tiny", ["vgg.weights={d}/zero.npz"], "zero.npz"),
    "an exported model whose step is not a scalar": ("stylize.py", STYLIZE, "params.npz"),
    "--config.shard=²/³": ("stylize.py", [*STYLIZE, "shard=²/³"], "shard must be I/N"),
    "the label ² in a label-groups table": ("gatys.py:tiny", [
        "content={d}/photo.png", "style={d}/photo.png", "masks.source=labels", "masks.content={d}/labels.png",
        "masks.style={d}/labels.png", "masks.label_groups={d}/groups.tsv"], "groups.tsv"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", END_TO_END)
def test_run_py_reports_a_crafted_or_damaged_file_or_number_in_one_line(exported, tmp_path, case):
  """Issue 23's examples through run.py: exit 1 with one error line naming the file, no traceback, no signal."""
  write_crafted_weights(tmp_path)
  (tmp_path / "zero.npz").write_bytes(b"")
  shutil.copytree(exported, tmp_path / "model")
  rewrite_params(step=np.array([1, 2]))(str(tmp_path / "model" / "params.npz"))
  Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "photo.png")
  Image.fromarray(np.full((16, 16), 2, np.uint8)).save(tmp_path / "labels.png")
  (tmp_path / "groups.tsv").write_text("label\tclass\tgroup\n²\tsky\tsky\n", encoding="utf-8")
  config, overrides, named = END_TO_END[case]
  arguments = [f"--config=configs/{config}", *(f"--config.{o.format(d=tmp_path)}" for o in overrides)]
  env = {**os.environ, "STYLEJAX_HOME": str(tmp_path / "home")}
  result = subprocess.run([sys.executable, "run.py", f"--workdir={tmp_path / 'w'}", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert lines[-1].startswith("error: ") and named in lines[-1], result.stderr[-2000:]
  assert "Traceback" not in result.stderr
