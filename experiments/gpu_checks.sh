#!/usr/bin/env bash
# Every GPU measurement the issues ask for, in one short run (about 7-10 minutes on an H100/H200).
# Usage: bash experiments/gpu_checks.sh OUT_DIR   (tables land in OUT_DIR/*/bench.md)
set -uo pipefail
out=${1:-runs/gpu}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
# Fast transfer: train step 256 px batch 4 and stylisation 256..2048, fp32 and bf16, stylize job images/s.
timeout 240 python run.py --config configs/bench_johnson.py --workdir "$out/bench_johnson" --config.bench_steps=50
# Gatys: Adam and L-BFGS steps at 512 and 1024 (VGG16: VGG19 weights cannot be fetched on the device).
timeout 180 python run.py --config configs/bench_gatys.py --workdir "$out/bench_gatys" \
    --config.bench_sizes=512,1024 --config.bench_steps=20
# Luan vs Gatys step at 700x466 (target: Luan <= 1.3x Gatys); L-BFGS steps for the 1000-step budget.
timeout 150 python run.py --config configs/bench_luan.py --workdir "$out/bench_luan" --config.bench_steps=20
timeout 120 python run.py --config configs/bench_gatys.py --workdir "$out/bench_gatys_700" \
    --config.bench_sizes=700x466 --config.bench_steps=20
# Matting Laplacian backends at 256 and 512.
timeout 120 python run.py --config configs/bench_matting.py --workdir "$out/bench_matting"
cat "$out"/*/bench.md
