"""The stylize job with a Johnson model: folders with bad files, strength, outputs, shards, engines, errors."""

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import stylize as stylize_config
from stylejax import api
from stylejax.core import networks
from stylejax.errors import UserError
from stylejax.io import images
from stylejax.jobs import stylize
from tests.helpers import ROOT, run_py, stylize_cfg


@pytest.mark.slow
def test_folder_with_corrupt_and_huge_files(model_dir, photo_tree, tmp_path):
  out, work = tmp_path / "out", str(tmp_path / "work")
  with pytest.raises(UserError, match=r"1 of 6 images failed.*corrupt\.jpg"):
    stylize.run(stylize_cfg(model_dir, photo_tree, out), work)
  written = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
  assert written == ["a.png", "b.png", "huge.png", "rotated.png", "sub/c.png"]
  assert Image.open(out / "huge.png").size == (90, 130)
  assert Image.open(out / "rotated.png").size == (24, 56)  # EXIF orientation honoured
  summary = json.load(open(os.path.join(work, "stylize.json")))
  assert summary["stylised"] == 5 and summary["tiled"] == 1 and list(summary["failed"]) == [str(photo_tree / "corrupt.jpg")]
  # The same command again skips what exists and retries only the failure.
  with pytest.raises(UserError, match="1 of 1 images failed"):
    stylize.run(stylize_cfg(model_dir, photo_tree, out), work)
  assert json.load(open(os.path.join(work, "stylize.json")))["skipped_existing"] == 5


@pytest.mark.slow
def test_outputs_match_the_network_and_strength_blends(model_dir, photo_tree, tmp_path):
  (photo_tree / "corrupt.jpg").unlink()
  model = api.load_model(model_dir)
  net, params, step = model.net, model.params, model.step
  assert step == 2
  content = images.load_image(photo_tree / "b.png")
  expected = np.asarray(networks.stylize(net, params, jnp.asarray(content)[None])[0])
  stylize.run(stylize_cfg(model_dir, photo_tree / "b.png", tmp_path / "full"), str(tmp_path / "w1"))
  np.testing.assert_allclose(images.load_image(tmp_path / "full" / "b.png"), expected, atol=1.0)
  stylize.run(stylize_cfg(model_dir, photo_tree / "b.png", tmp_path / "none", strength=0.0), str(tmp_path / "w2"))
  np.testing.assert_array_equal(images.load_image(tmp_path / "none" / "b.png"), content)
  stylize.run(stylize_cfg(model_dir, str(photo_tree / "*.png"), tmp_path / "glob", original_colors=True,
                          output_format="jpeg", compute_dtype="bfloat16"), str(tmp_path / "w3"))
  assert sorted(os.listdir(tmp_path / "glob")) == ["b.jpg", "huge.jpg"]


def test_output_folder_inside_the_input_folder_is_not_read_back(model_dir, photo_tree, tmp_path):
  (photo_tree / "corrupt.jpg").unlink()
  (photo_tree / "huge.png").unlink()
  config = stylize_cfg(model_dir, photo_tree, photo_tree / "styled", max_side=32)
  first = stylize.run(config, str(tmp_path / "w"))
  second = stylize.run(config, str(tmp_path / "w"))
  assert (first["stylised"], second["stylised"], second["skipped_existing"]) == (4, 0, 4)
  assert max(Image.open(photo_tree / "styled" / "a.png").size) == 32  # max_side


def test_bad_model_dirs_and_inputs(model_dir, tmp_path):
  with pytest.raises(UserError, match="not a trained model directory"):
    api.load_model(str(tmp_path))
  with pytest.raises(UserError, match="no input images"):
    stylize.input_files(str(tmp_path / "*.jpg"))
  with pytest.raises(UserError, match="needs --config.checkpoint"):
    stylize.run(stylize_config.get_config(), str(tmp_path))


@pytest.mark.slow
def test_cli_stylize_reports_the_failure_in_one_line_and_exits_nonzero(model_dir, photo_tree, tmp_path):
  result = subprocess.run([sys.executable, "run.py", "--config=configs/stylize.py", f"--workdir={tmp_path / 'w'}",
                           f"--config.checkpoint={model_dir}", f"--config.input={photo_tree}",
                           f"--config.output={tmp_path / 'out'}", "--config.tile_pixels=10000",
                           "--config.tile_size=64"], cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith("error: 1 of 6 images failed")
  assert len(os.listdir(tmp_path / "out")) == 5  # four images and the subfolder


@pytest.mark.slow
def test_two_shards_in_two_processes_stylise_every_file_exactly_once(model_dir, photo_tree, tmp_path):
  (photo_tree / "corrupt.jpg").unlink()
  command = [sys.executable, "run.py", "--config=configs/stylize.py", f"--config.checkpoint={model_dir}",
             f"--config.input={photo_tree}", f"--config.output={tmp_path / 'out'}", "--config.tile_pixels=10000",
             "--config.tile_size=64", "--config.output_format=png"]
  shards = [subprocess.Popen([*command, f"--workdir={tmp_path / str(i)}", f"--config.shard={i}/2"], cwd=ROOT,
                             stderr=subprocess.PIPE, text=True) for i in range(2)]
  assert all(shard.wait(600) == 0 for shard in shards), [shard.stderr.read()[-500:] for shard in shards]
  summaries = [json.load(open(tmp_path / str(i) / "stylize.json")) for i in range(2)]
  assert [s["shard"] for s in summaries] == ["0/2", "1/2"] and [s["stylised"] for s in summaries] == [3, 2]
  written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
  assert written == ["a.png", "b.png", "huge.png", "rotated.png", "sub/c.png"]  # each input once, none twice


def test_shard_specs():
  config = stylize_config.get_config()
  assert stylize.shard("") == (0, 1) and stylize.shard("2/3") == (2, 3)
  for bad in ("3/3", "1", "a/b", "-1/2", "1/0"):
    with pytest.raises(UserError, match="shard must be I/N"):
      stylize.shard(bad)
  assert config.shard == ""


def written_files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@pytest.mark.slow
def test_the_ray_engine_writes_the_same_files_and_pixels_as_the_local_engine(model_dir, photo_tree, tmp_path):
  local, distributed = tmp_path / "local", tmp_path / "ray"
  with pytest.raises(UserError, match=r"1 of 6 images failed.*corrupt\.jpg"):
    stylize.run(stylize_cfg(model_dir, photo_tree, local), str(tmp_path / "local_work"))
  config = stylize_cfg(model_dir, photo_tree, distributed, engine="ray")
  done = run_py(config, tmp_path / "ray_work")
  assert done.returncode == 1 and "1 of 6 images failed" in done.stderr and "corrupt.jpg" in done.stderr, done.stderr
  assert written_files(distributed) == written_files(local) == ["a.png", "b.png", "huge.png", "rotated.png", "sub/c.png"]
  for name in written_files(local):
    assert np.array_equal(images.load_image(str(distributed / name)), images.load_image(str(local / name))), name
  summary = json.load(open(tmp_path / "ray_work" / "stylize.json"))
  assert summary["engine"] == "ray" and summary["stylised"] == 5 and summary["tiled"] == 1
  assert list(summary["failed"]) == [str(photo_tree / "corrupt.jpg")]


def test_an_unknown_engine_or_a_missing_ray_is_a_one_line_error(model_dir, photo_tree, tmp_path, monkeypatch):
  with pytest.raises(UserError, match="unknown engine 'spark'"):
    stylize.run(stylize_cfg(model_dir, photo_tree, tmp_path / "out", engine="spark"), str(tmp_path / "work"))
  monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as without the extra
  with pytest.raises(UserError, match=r"engine=ray needs Ray: pip install -e '\.\[ray\]'"):
    stylize.run(stylize_cfg(model_dir, photo_tree, tmp_path / "out", engine="ray"), str(tmp_path / "work"))
