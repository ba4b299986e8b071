"""Benchmark sweep of the Gatys step: sizes × compute dtypes × optimisers, PyTorch beside it.

  python run.py --config configs/sweeps/bench_gatys.py --workdir runs/bench_gatys        (the CPU's sizes)
  python run.py --config configs/sweeps/bench_gatys.py:gpu --workdir runs/bench_gatys_gpu (512, 1024)

Points at each size: Adam in float32, the PyTorch peer right after it
(stylejax/tools/peers_torch.py, Adam, float32; needs `.[peers]`), Adam in
bfloat16, L-BFGS (Torch's fixed step) in float32; the "ms torch/ours" column is how
many times faster our step is. Results in WORKDIR/results.md. On the CPU,
three timed chunks of two steps; `:gpu`, five of ten. `:tiny` is the same
sweep at 64 px (tests).
"""

from configs import bench, common, sweep

SIZES = {"cpu": ("256", "512"), "gpu": ("512", "1024"), "tiny": ("64",)}


def get_config(arg=None):
  scale = next(iter(common.arguments(arg, tuple(SIZES))), "cpu")
  sizes = SIZES[scale]
  base = bench.get_config("gatys,tiny" if scale == "tiny" else "gatys")
  if scale == "cpu":  # a 512-px step takes seconds on a CPU: 3 timed chunks of 2 steps
    base.bench.steps, base.bench.repeats = 2, 3
  blocks = []
  for size in sizes:  # the peer right after our float32 point: both under the same load on a shared machine
    for setting in ({"compute_dtype": ("float32",)}, {"bench.impl": ("torch",)}, {"compute_dtype": ("bfloat16",)},
                    {"optimizer": ("lbfgs",)}):
      blocks.append({"bench.size": (size,), **setting})
  return sweep.make(base, blocks, metrics=("ms", "ms_min", "ms_max", "tflops", "memory_gib"),
                    peer_key="bench.impl")
