"""The bench job and the benchmark sweeps, ours and the peers, at tiny sizes (timings are not asserted); every
number of a job has a range.

Sweeps with the PyTorch peer run through run.py in their own process, so the suite's process never
loads a second deep-learning runtime beside JAX.
"""

import json
import subprocess
import sys

import pytest

from configs import bench, gatys, johnson, stylize as stylize_config
from configs.sweeps import bench_fast, bench_matting
from stylejax import launch, settings
from stylejax.errors import UserError
from tests.helpers import ROOT


def rows_by_point(workdir):
  return {row["point"]: row for row in json.loads((workdir / "results.json").read_text())["rows"]}


def run_sweep(preset, workdir, *overrides):
  done = subprocess.run([sys.executable, "run.py", f"--config=configs/sweeps/{preset}", f"--workdir={workdir}",
                         *overrides], cwd=ROOT, capture_output=True, text=True, timeout=900)
  assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_gatys_sweep_times_ours_and_torch_side_by_side(tmp_path):
  run_sweep("bench_gatys.py:tiny", tmp_path)
  rows = rows_by_point(tmp_path)
  assert set(rows) == {"size=64_compute_dtype=float32", "size=64_compute_dtype=bfloat16", "size=64_optimizer=lbfgs",
                       "size=64_impl=torch"}
  ours, torch = rows["size=64_compute_dtype=float32"], rows["size=64_impl=torch"]
  assert ours["ms"] > 0 and torch["ms"] > 0 and ours["tflops"] > 0
  assert 0 < ours["memory_gib"] < 0.5 and torch["memory_gib"] is None  # the compiled chunk's own (VGG16: 0.06 GiB)
  assert ours["ms torch/ours"] == pytest.approx(torch["ms"] / ours["ms"])
  assert rows["size=64_compute_dtype=bfloat16"]["ms torch/ours"] is None  # the peer ran float32 only
  summary = json.loads((tmp_path / "points" / "size=64_impl=torch" / "summary.json").read_text())
  assert summary["impl"] == "torch" and summary["size"] == "64x64" and summary["ms_min"] <= summary["ms_max"]
  assert "| size=64_optimizer=lbfgs | 64 | float32 | ours | lbfgs | done |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_luan_sweep_times_the_photorealistic_step_against_the_gatys_step(tmp_path):
  run_sweep("bench_luan.py:tiny", tmp_path)
  rows = rows_by_point(tmp_path)
  assert rows["optimizer=adam"]["source"] == "auto" and rows["optimizer=adam"]["ms"] > 0
  gatys = rows["source=none_affine_weight=0_optimizer=adam"]
  assert gatys["ms torch/ours"] > 0 and rows["optimizer=adam"]["ms torch/ours"] is None


@pytest.mark.slow
def test_fast_sweep_times_training_stylisation_and_a_folder_with_the_torch_peer(tmp_path):
  run_sweep("bench_fast.py:tiny", tmp_path, "--config.base.net.residual_blocks=1")
  rows = rows_by_point(tmp_path)
  assert rows["compute_dtype=float32"]["images_per_s"] > 0 and rows["case=stylize_folder"]["images_per_s"] > 0
  assert rows["compute_dtype=float32"]["ms torch/ours"] > 0
  assert rows["case=stylize_size=64_compute_dtype=float32"]["megapixels_per_s"] > 0
  stylize = rows["case=stylize_size=64_compute_dtype=float32"]
  assert 0 < stylize["memory_gib"] < rows["compute_dtype=float32"]["memory_gib"]  # each program's own memory
  assert rows["case=stylize_size=64_compute_dtype=float32"]["ms torch/ours"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["fast_photo", "universal_photo"])  # universal: with a style input
def test_fast_photo_sweep_times_the_bilateral_networks_at_any_shape(preset, tmp_path):
  config = bench_fast.get_config(f"{preset},tiny")
  config.sweep = tuple({**block, "compute_dtype": ("float32",)} for block in config.sweep)
  launch.run(config, str(tmp_path))
  rows = rows_by_point(tmp_path)
  assert list(rows) == ["compute_dtype=float32", "case=stylize_size=64_compute_dtype=float32",
                        "case=stylize_size=96x48_compute_dtype=float32"]
  assert rows["case=stylize_size=96x48_compute_dtype=float32"]["megapixels_per_s"] > 0
  assert not any("/ours" in column for column in rows["compute_dtype=float32"])  # no peer for this network


def test_matting_sweep_compares_every_backend_with_scipy_and_pymatting(tmp_path):
  launch.run(bench_matting.get_config("tiny"), str(tmp_path))
  rows = rows_by_point(tmp_path)
  banded = rows["size=32_laplacian_backend=banded"]
  for peer in ("scipy", "pymatting"):
    for metric in ("build.ms", "matvec.ms"):
      assert banded[f"{metric} {peer}/ours"] == pytest.approx(rows[f"size=32_impl={peer}"][metric] / banded[metric])
  assert rows["size=32_laplacian_backend=matrix_free"]["build.ms"] is None
  assert rows["size=32_laplacian_backend=sparse"]["matvec.ms"] > 0


@pytest.mark.parametrize("setting, message", [
    ({"case": "nap"}, "bench.case must be one of"), ({"case": "matting", "impl": "torch"}, "no 'torch' peer"),
    ({"size": "64x"}, "cannot read bench.size"), ({"size": "12"}, "at least 16"), ({"size": "²"}, "cannot read"),
    ({"repeats": 0}, "bench.repeats must be from 1 to 1,000, got 0"), ({"steps": 100_000}, "bench.steps must be"),
    ({"size": "100000"}, "larger than the config allows"), ({"size": "5000x16"}, "4096 px a side")])
def test_bad_bench_settings_are_one_line_errors(tmp_path, setting, message):
  config = bench.get_config("tiny")
  config.bench.update(setting)
  with pytest.raises(UserError, match=message):
    launch.run(config, str(tmp_path))


@pytest.mark.parametrize("preset, key, value", [
    (gatys, "log_every_steps", 100_000), (gatys, "seed", -1), (gatys, "style_scale", 1000.0),
    (gatys, "num_scales", 40), (johnson, "image_size", 100_000), (johnson, "batch_size", 10**6),
    (johnson, "seed", 2**63), (stylize_config, "batch_size", 10**6), (stylize_config, "num_threads", 10**6),
    (stylize_config, "quality", 101)])
def test_every_number_of_a_job_has_a_range(tmp_path, preset, key, value):
  """Sizes, counts and seeds of the optimize, train and stylize jobs; bench's are above."""
  config = preset.get_config()
  config[key] = value
  check = {gatys: settings.check_optimize, johnson: lambda config: settings.check_train(config, 1)}.get(preset)
  if preset is stylize_config:  # the job checks its settings before it reads anything
    config.update({"checkpoint": "model", "input": "photos", "output": "styled"})
    check = lambda config: launch.run(config, str(tmp_path))  # noqa: E731
  with pytest.raises(UserError, match=rf"{key}\b.* must be from [\d,]+ to [\d,.]+, got"):
    check(config)


@pytest.mark.slow
def test_a_size_beyond_the_range_is_one_error_line_not_a_memory_error(tmp_path):
  done = subprocess.run([sys.executable, "run.py", "--config=configs/bench.py:tiny", "--config.bench.size=100000",
                         f"--workdir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
  assert done.stderr.strip().splitlines()[-1].startswith("error: bench.size '100000' is larger than the config")


def test_the_torch_peer_refuses_work_it_does_not_implement(tmp_path):
  config = bench.get_config("luan,tiny")
  config.bench.impl = "torch"
  with pytest.raises(UserError, match="Gatys step with Adam"):
    launch.run(config, str(tmp_path))


def test_a_missing_peer_library_is_a_one_line_error(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails, as without the extra
  monkeypatch.delitem(sys.modules, "stylejax.tools.peers_torch", raising=False)
  config = bench.get_config("tiny")
  config.bench.impl = "torch"
  with pytest.raises(UserError, match=r"the torch peer needs torch: pip install -e '\.\[peers\]'"):
    launch.run(config, str(tmp_path))
