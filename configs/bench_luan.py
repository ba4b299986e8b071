"""Benchmark of the Luan step (masked style loss + matting-Laplacian term), as configs/bench_gatys.py.

  python run.py --config configs/bench_luan.py --workdir runs/bench_luan
  python run.py --config configs/bench_gatys.py --workdir runs/bench_gatys_700 --config.bench_sizes=700x466

The pair is configs/luan.py's (automatic masks, banded Laplacian); the second
command times a Gatys step of the same size, for the ratio. Override
`--config.loss.laplacian_backend=matrix_free` to time the other backend.
"""

from configs import bench_gatys, luan


def get_config(arg=None):
  return bench_gatys.bench_settings(luan.get_config(), arg, ("700x466",))
