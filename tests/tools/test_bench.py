"""Benchmark jobs write their tables (tiny sizes; timings are not asserted)."""

import json

import pytest

from configs import bench_fast_photo, bench_gatys, bench_johnson, bench_luan, bench_matting
from stylejax import launch
from stylejax.errors import UserError


def test_bench_job_writes_tables(tmp_path):
  config = bench_gatys.get_config("tiny")
  with config.unlocked():
    config.bench_dtypes, config.bench_steps = ("float32",), 1
  rows = launch.run(config, str(tmp_path))
  assert [(r["method"], r["size"], r["optimizer"]) for r in rows] == [
      ("gatys", "64", "adam"), ("gatys", "64", "lbfgs"), ("gatys", "64", "lbfgs_linesearch")]
  assert all(r["ms_per_step"] > 0 and r["finite"] for r in rows) and rows[0]["tflops"] > 0 and rows[1]["tflops"] > 0
  assert "| gatys | 64 | float32 | adam |" in (tmp_path / "bench.md").read_text()
  assert json.loads((tmp_path / "bench.json").read_text())["rows"][2]["tflops"] is None  # a line search


def test_bench_luan_times_the_photorealistic_step_at_a_non_square_size(tmp_path):
  config = bench_luan.get_config("tiny")
  with config.unlocked():
    config.bench_sizes, config.bench_dtypes, config.bench_optimizers, config.bench_steps = ("72x48",), ("float32",), ("adam",), 1
  rows = launch.run(config, str(tmp_path))
  assert [(r["method"], r["size"]) for r in rows] == [("luan", "72x48")]
  assert rows[0]["finite"] and rows[0]["ms_per_step"] > 0


@pytest.mark.parametrize("sizes", [(), ("64", "12"), ("64x",), ("axb",)])
def test_bench_sizes_are_checked(tmp_path, sizes):
  config = bench_gatys.get_config("tiny")
  with config.unlocked():
    config.bench_sizes = sizes
  with pytest.raises(UserError, match="bench"):
    launch.run(config, str(tmp_path))


def test_bench_matting_job_writes_tables(tmp_path):
  rows = launch.run(bench_matting.get_config("tiny"), str(tmp_path))
  backends = {r["backend"].split(" (")[0] for r in rows}
  assert {"scipy csr", "bcoo", "banded", "matrix-free", "pymatting cf_laplacian"} <= backends
  assert all(r["matvec_ms"] is None or r["matvec_ms"] > 0 for r in rows)
  assert "| 32² | banded (float32) |" in (tmp_path / "bench.md").read_text()


def test_bench_johnson_job_writes_tables(tmp_path):
  config = bench_johnson.get_config("tiny")
  config.bench_dtypes, config.bench_steps, config.net.residual_blocks = ("float32",), 1, 1
  rows = launch.run(config, str(tmp_path))
  assert [r["what"] for r in rows] == ["train step", "stylise", "stylize job"]
  assert all(r["ms"] > 0 for r in rows)
  assert "| stylise | 64 | 1 | float32 |" in (tmp_path / "bench.md").read_text()



def test_bench_fast_photo_times_the_bilateral_network_at_any_shape(tmp_path):
  rows = launch.run(bench_fast_photo.get_config("tiny"), str(tmp_path))
  assert [(r["what"], r["size"]) for r in rows] == [("train step", 32), ("stylise", 64), ("stylise", "96x48")]
  assert all(r["ms"] > 0 for r in rows)
  assert "Fast transfer (bilateral network)" in (tmp_path / "bench.md").read_text()
