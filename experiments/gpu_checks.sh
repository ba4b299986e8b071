#!/usr/bin/env bash
# Every GPU measurement the issues ask for, in one run that fits a 10-minute device call (about 6-8 minutes on an
# H100/H200; each job has its own time limit, so one that hangs cannot starve the rest).
# Usage: bash experiments/gpu_checks.sh OUT_DIR   (tables land in OUT_DIR/*/bench.md; PYTHON picks the interpreter)
set -uo pipefail
out=${1:-runs/gpu}
py=${PYTHON:-python3}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
"$py" -c "import jax; print('jax', jax.__version__, jax.devices())" | tee -a "$out/gpu.txt"
bench() {  # bench SECONDS NAME CONFIG [OVERRIDES...]
  local seconds=$1 name=$2 config=$3
  shift 3
  local start=$SECONDS
  timeout "$seconds" "$py" run.py --config "$config" --workdir "$out/$name" "$@" || echo "$name: exit $? after $((SECONDS - start)) s"
  echo "$name: $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
}
# Fast transfer: train step 256 px batch 4 and stylisation 256..2048, fp32 and bf16, stylize job images/s.
bench 150 bench_johnson configs/bench_johnson.py --config.bench_steps=50
# Fast photorealistic: the bilateral network's train step (256 px, batch 8) and stylisation at 1024² and
# 3840x2160 (targets <= 1 ms and <= 5 ms), and the thesis's network beside it.
bench 60 bench_fast_photo configs/bench_fast_photo.py --config.bench_steps=50
bench 60 bench_fast_photo_thesis configs/bench_fast_photo.py:thesis --config.bench_steps=20
# Gatys: Adam and L-BFGS steps at 512 and 1024 (VGG16: VGG19 weights cannot be fetched on the device).
bench 130 bench_gatys configs/bench_gatys.py --config.bench_sizes=512,1024 --config.bench_steps=10
# Luan vs Gatys step at 700x466, float32 (target: Luan <= 1.3x Gatys); L-BFGS steps for the 1000-step budget.
# The first Luan case compiles for about 100 s on an H200.
bench 160 bench_luan configs/bench_luan.py --config.bench_steps=10 --config.bench_dtypes=float32
bench 70 bench_gatys_700 configs/bench_gatys.py --config.bench_sizes=700x466 --config.bench_steps=10 \
    --config.bench_dtypes=float32
# Matting Laplacian backends at 256 and 512.
bench 50 bench_matting configs/bench_matting.py
# The Luan preset end to end on the bundled pair at 700 px, and Luan's own schedule (1000 L-BFGS steps at one
# scale; issue 11's target: <= 30 s without compilation): wall time and steps/s from each summary.json.
bench 150 luan_preset_700 configs/luan.py --config.image_size=700 --config.num_scales=2 --config.scale_steps=300,30
bench 150 luan_1000_700 configs/luan.py --config.image_size=700 --config.num_scales=1 --config.scale_steps= \
    --config.total_steps=1000 --config.stop_tolerance=0
cat "$out"/*/bench.md
for run in luan_preset_700 luan_1000_700; do
  "$py" -c "import json, sys; s = json.load(open(sys.argv[1])); print(sys.argv[2], 'steps', s['steps'], 'wall s',
round(s['wall_time_s'], 1), 'steps/s after compile', s['steps_per_s_after_compile'])" "$out/$run/summary.json" "$run" || true
done
