"""Benchmark sweep of the Luan step against the Gatys step at Luan's size, PyTorch's Gatys step beside them.

  python run.py --config configs/sweeps/bench_luan.py --workdir runs/bench_luan

configs/luan.py's objective (automatic masks, banded matting term) at 700x466
against the same config without masks and affine term (the Gatys step), in
float32 with Adam and Torch's L-BFGS, and the PyTorch peer's Gatys step.
On the CPU (the default) three timed chunks of two steps; `:gpu`, five of
ten. `:tiny`: 72x48 (tests).
"""

from configs import bench, common, sweep


def get_config(arg=None):
  scale = next(iter(common.arguments(arg, ("cpu", "gpu", "tiny"))), "cpu")
  tiny = scale == "tiny"
  base = bench.get_config("luan,tiny" if tiny else "luan")
  base.bench.size = "72x48" if tiny else "700x466"
  if scale == "cpu":
    base.bench.steps, base.bench.repeats = 2, 3
  gatys = {"masks.source": ("none",), "loss.affine_weight": (0.0,)}
  blocks = [{"optimizer": ("adam", "lbfgs")}, {**gatys, "optimizer": ("adam", "lbfgs")},
            {**gatys, "optimizer": ("adam",), "bench.impl": ("torch",)}]
  return sweep.make(base, blocks, metrics=("ms", "ms_min", "ms_max", "tflops", "memory_gib"),
                    peer_key="bench.impl")
