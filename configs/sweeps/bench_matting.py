"""Benchmark sweep of the matting Laplacian: our backends against scipy and pymatting, build and matvec.

  python run.py --config configs/sweeps/bench_matting.py --workdir runs/bench_matting

Points: our banded (float32; the optimisations' default), matrix-free (window
statistics inside the call; no build) and sparse (BCOO from the CSR) backends,
and the peers: the float64 CSR matrix built with numpy/scipy (`scipy`) and
pymatting's `cf_laplacian` (`pymatting`), each with scipy's sparse matvec, on
the bundled rocket photo at 256² and 512² (`:tiny`: 32²). The ratio columns
compare each peer with the banded backend.
"""

from configs import bench, common, sweep


def get_config(arg=None):
  tiny = "tiny" in common.arguments(arg, ("tiny",))
  base = bench.get_config("gatys,tiny" if tiny else "gatys")
  base.bench.case = "matting"
  base.bench.repeats = 2 if tiny else 10
  sizes = ("32",) if tiny else ("256", "512")
  blocks = [{"bench.size": sizes, "loss.laplacian_backend": ("banded", "matrix_free", "sparse")},
            {"bench.size": sizes, "bench.impl": ("scipy", "pymatting")}]
  return sweep.make(base, blocks, metrics=("build.ms", "matvec.ms"), peer_key="bench.impl",
                    peer_metrics=("build.ms", "matvec.ms"))
