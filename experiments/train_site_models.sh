#!/usr/bin/env bash
# The website's painting models, trained on this machine's CPU: configs/johnson.py:small,photos (a quarter of the
# network's compute, the 82 development photos as contents, reflection padding) for each style in turn, each run
# exported in float16 into OUT/NAME with the home page's example.jpg (copy a folder to stylejax/assets/models/ to
# bundle it).
#
#   bash experiments/train_site_models.sh RUNS OUT [NAME ...]      (default: every style below, in this order)
#
# STEPS (default 1500) and SIZE (crop side, default 192) set the length, WIDTH the network's width (default 16),
# DATA another content source (e.g. files:... on the GPU machine, experiments/gpu_checks.sh paintings); a killed
# run resumes where its last checkpoint was (every 250 steps). 1.3 s a step on the 2-core CPU
# (docs/website.md, "Models").
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
runs=${1:?usage: bash experiments/train_site_models.sh RUNS OUT [NAME ...]}
out=${2:?usage: bash experiments/train_site_models.sh RUNS OUT [NAME ...]}
shift 2
skimage_data=$("$py" -c "import os, skimage.data; print(os.path.dirname(skimage.data.__file__))")
declare -A styles=(
  [starry_night]=bundled:starry_night.jpg
  [the_scream]=bundled:the_scream.jpg
  [woman_with_a_hat]=bundled:woman_with_a_hat.jpg
  [tissue_stain]="$skimage_data/ihc.png"  # scikit-image's immunohistochemistry (no known copyright restrictions)
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(starry_night the_scream woman_with_a_hat tissue_stain)
for name in "${names[@]}"; do
  style=${styles[$name]:?unknown style $name; choose from ${!styles[*]}}
  "$py" run.py --config configs/johnson.py:small,photos --workdir "$runs/$name" --config.style="$style" \
      --config.image_size="${SIZE:-192}" --config.style_size=384 --config.loss.content_weight=2 \
      --config.net.width="${WIDTH:-16}" ${DATA:+--config.data="$DATA"} \
      --config.total_steps="${STEPS:-1500}" --config.sample_every_steps=250 --config.checkpoint_every_steps=250
  "$py" run.py --config configs/export.py --workdir "$out/$name" --config.model="$runs/$name" --config.dtype=float16
  "$py" experiments/model_example.py "$out/$name"  # the home page's example
done
