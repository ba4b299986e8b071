"""Benchmark sweep of a fast network: training step, stylisation per size and dtype, a folder; PyTorch beside.

  python run.py --config configs/sweeps/bench_fast.py --workdir runs/bench_johnson
  python run.py --config configs/sweeps/bench_fast.py:fast_photo --workdir runs/bench_fast_photo
  python run.py --config configs/sweeps/bench_fast.py:universal_photo --workdir runs/bench_universal

Arguments (comma-separated): the network's preset (johnson, the default;
fast_photo, the bilateral network; fast_photo_thesis; universal_photo, whose
stylisation times include the encoding of a style photo of the same size), `gpu` (larger sizes)
or `tiny` (64 px, tests). Points: the training step (image_size, batch_size of
the preset) and one stylisation per size, each in float32 and bfloat16, and
for the Johnson network the PyTorch peer's (float32) right after our float32
point; then the stylize job over a folder of 512-px photos (johnson).
"""

from configs import bench, common, sweep

METHODS = ("johnson", "fast_photo", "fast_photo_thesis", "universal_photo")
SCALES = ("cpu", "gpu", "tiny")
SIZES = {"johnson": {"cpu": ("256", "512", "1024"), "gpu": ("256", "1024", "2048"), "tiny": ("64",)},
         "fast_photo": {"cpu": ("1024", "3840x2160"), "gpu": ("1024", "3840x2160"), "tiny": ("64", "96x48")}}


def get_config(arg=None):
  items = common.arguments(arg, (*METHODS, *SCALES))
  scale = next((i for i in items if i in SCALES), "cpu")
  methods = [i for i in items if i in METHODS] or ["johnson"]
  if len(methods) > 1:
    raise ValueError(f"config argument {arg!r} names {len(methods)} networks; use one of {', '.join(METHODS)}")
  method = methods[0]
  base = bench.get_config(method + (",tiny" if scale == "tiny" else ""))
  if method != "johnson" and scale != "tiny":
    base.image_size, base.batch_size = 256, 8  # the fast photorealistic issue's training step
  sizes = SIZES["johnson" if method == "johnson" else "fast_photo"][scale]
  blocks = []
  for point in [{}, *({"bench.case": ("stylize",), "bench.size": (size,)} for size in sizes)]:
    blocks.append({**point, "compute_dtype": ("float32",)})
    if method == "johnson":  # the peer right after ours: both under the same load on a shared machine
      blocks.append({"bench.impl": ("torch",), **point})
    blocks.append({**point, "compute_dtype": ("bfloat16",)})
  if method == "johnson":
    blocks.append({"bench.case": ("stylize_folder",)})
  return sweep.make(base, blocks, metrics=("ms", "ms_min", "ms_max", "images_per_s", "megapixels_per_s",
                                           "memory_gib"), peer_key="bench.impl" if method == "johnson" else "")
