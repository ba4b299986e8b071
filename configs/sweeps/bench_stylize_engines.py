"""Benchmark sweep of the stylize job's engines on one folder: this process (local) against Ray Data.

  python run.py --config configs/sweeps/bench_stylize_engines.py --workdir runs/bench_engines   (needs .[ray])

The stylize job over 200 photos of long side 128 (the bundled samples, cycled)
with a Johnson network trained for one step, once with `engine=local` and once
with `engine=ray` (a local Ray cluster on this machine's cores): images/s of a
second pass and the job time of both passes (the first compiles, and starts
the Ray cluster and its actors). "ms ray/ours": Ray's time per image in the
second pass over the local engine's; "first_job_s ray/ours": the same for the
whole first run. `:tiny`: 6 photos of 64 px (tests).
"""

from configs import bench, common, sweep


def get_config(arg=None):
  tiny = "tiny" in common.arguments(arg, ("tiny",))
  base = bench.get_config("johnson,tiny" if tiny else "johnson")
  base.bench.case = "stylize_folder"
  base.bench.folder_images, base.bench.folder_side = (6, 64) if tiny else (200, 128)
  blocks = [{"stylize.engine": ("local", "ray")}]
  return sweep.make(base, blocks, metrics=("ms", "images_per_s", "first_job_s", "second_job_s"),
                    peer_key="stylize.engine", peer_metrics=("ms", "first_job_s"))
