"""The optimize job (Gatys presets) end to end through run.py on the real embedded VGG16."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import jax

from configs import gatys
from stylejax import api, launch, settings
from stylejax.errors import UserError
from stylejax.io import assets, configs
from tests.helpers import ROOT


def run_cli(workdir, *overrides, config="configs/gatys.py:tiny"):
  return subprocess.run([sys.executable, "run.py", f"--config={config}", f"--workdir={workdir}", *overrides],
                        cwd=ROOT, capture_output=True, text=True, timeout=600)


def tiny(**overrides):
  """configs/gatys.py:tiny with overrides (`loss__style_weight` or {'loss.style_weight': ...})."""
  return api.preset("gatys:tiny", **overrides)


@pytest.mark.slow
def test_cli_tiny_run_writes_every_output_and_is_deterministic(tmp_path):
  first, second = tmp_path / "a", tmp_path / "b"
  for workdir in (first, second):
    result = run_cli(workdir)
    assert result.returncode == 0, result.stderr
  assert "optimize: 100%" in result.stderr  # progress bar with ETA on stderr
  for name in ("result.png", "metrics.jsonl", "summary.json", "losses.png", "config.json"):
    assert (first / name).is_file(), name
  assert any(n.startswith("events.out.tfevents") for n in os.listdir(first))
  rows = [json.loads(line) for line in (first / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows] == [0, 5, 10, 15, 20]
  assert rows[-1]["total"] < rows[0]["total"] and rows[-1]["style"] < rows[0]["style"]
  summary = json.loads((first / "summary.json").read_text())
  assert summary["steps"] == 20 and summary["device_kind"] and summary["jax_version"]
  assert summary["scales"] == [{"long_side": 64, "height": 43, "width": 64}]
  assert json.loads((first / "config.json").read_text())["image_size"] == 64
  assert (first / "result.png").read_bytes() == (second / "result.png").read_bytes()


@pytest.mark.slow
def test_cli_bad_input_gives_one_line_error_and_nonzero_exit(tmp_path):
  corrupt = tmp_path / "corrupt.jpg"
  corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
  result = run_cli(tmp_path / "w", f"--config.content={corrupt}")
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"error: corrupt or unreadable image: {corrupt}")
  for override, message in [("--config.style=/no/such/painting.jpg", "error: image not found"),
                            ("--config.image_size=0", "error: image_size must be in"),
                            ("--config.image_size=-5", "error: image_size must be in"),
                            ("--config.image_size=100000", "error: image_size must be in")]:
    result = run_cli(tmp_path / "w", override)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message)


@pytest.mark.slow
def test_cli_unknown_config_key_fails_before_running(tmp_path):
  result = run_cli(tmp_path / "w", "--config.no_such_key=1")
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1] == "error: unknown config key 'no_such_key': see the config file for the keys"
  misspelt = run_cli(tmp_path / "w", "--config.loss.style_wieght=1")
  assert misspelt.stderr.strip().splitlines()[-1] == ("error: unknown config key 'style_wieght': "
                                                       'Did you mean "style_weight" instead of "style_wieght"?')
  assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_nan_loss_stops_with_step_and_keeps_last_good_image_beside_the_finished_result(tmp_path):
  launch.run(tiny(total_steps=5), str(tmp_path))
  finished = (tmp_path / "result.png").read_bytes()
  with pytest.raises(UserError, match=r"NaN or Inf at step (\d+);.*\(step \d+\).*partial.png"):
    launch.run(tiny(learning_rate=1e30, total_steps=10), str(tmp_path))
  assert (tmp_path / "result.png").read_bytes() == finished  # a failed rerun keeps the finished result
  assert np.asarray(Image.open(tmp_path / "partial.png")).shape == (43, 64, 3)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["status"] == "halted" and summary["image"] == "partial.png" and summary["halted_at_step"] >= 1
  launch.run(tiny(total_steps=5), str(tmp_path))
  assert not (tmp_path / "partial.png").exists()
  assert json.loads((tmp_path / "summary.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_bf16_multiscale_multistyle_original_colors_snapshots(tmp_path):
  config = tiny(compute_dtype="bfloat16", num_scales=2, total_steps=6, log_every_steps=3,
                style=("bundled:starry_night.jpg", assets.path("the_scream.jpg")), style_blend_weights=(0.7, 0.3),
                original_colors=True, init="content", snapshot_every_steps=3)
  summary = launch.run(config, str(tmp_path))
  assert [s["long_side"] for s in summary["scales"]] == [32, 64]
  assert summary["steps"] == 12 and len(summary["styles"]) == 2
  assert sorted(os.listdir(tmp_path / "snapshots")) == [f"step_{s:06d}.png" for s in (3, 6, 9, 12)]
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows] == [0, 3, 6, 6, 9, 12]  # each scale logs its start
  assert rows[-1]["total"] < rows[3]["total"]  # the fine scale improves on its upsampled start
  assert Image.open(tmp_path / "result.png").size == (64, 43)


@pytest.mark.slow
@pytest.mark.parametrize("fine_steps, logged", [(2, [0, 2, 4, 4, 6]), (0, [0, 2, 4, 4])])
def test_steps_per_scale_and_guided_upsampling(tmp_path, fine_steps, logged):
  """0 steps at the last scale: the output is the coarse result carried to full size, unoptimised."""
  summary = launch.run(tiny(num_scales=2, scale_steps=(4, fine_steps), log_every_steps=2, upsample="guided",
                            init="content"), str(tmp_path))
  assert [s["long_side"] for s in summary["scales"]] == [32, 64] and summary["steps"] == 4 + fine_steps
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows] == logged
  assert Image.open(tmp_path / "result.png").size == (64, 43) and summary["status"] == "finished"
  assert summary["photorealism"]["gradient_ssim"] > 0.5  # the full-size content's edges, not an upscaled blur


@pytest.mark.slow
@pytest.mark.optimized  # the line search's while loop
@pytest.mark.parametrize("optimizer, learning_rate", [("lbfgs", 1.0), ("lbfgs_linesearch", 0.0)])
def test_lbfgs_reduces_the_loss(tmp_path, optimizer, learning_rate):
  summary = launch.run(tiny(optimizer=optimizer, learning_rate=learning_rate, total_steps=8, log_every_steps=4),
                       str(tmp_path))
  assert summary["final_losses"]["total"] < 0.5 * summary["initial_losses"]["total"]


@pytest.mark.slow
def test_a_phase_stops_once_the_loss_stops_changing(tmp_path):
  summary = launch.run(tiny(learning_rate=1e-9, total_steps=20, stop_tolerance=1e-4), str(tmp_path))
  assert summary["converged_at_steps"] == [10] and summary["steps"] == 10 and summary["status"] == "finished"


@pytest.mark.slow
def test_init_from_file_and_noise(tmp_path):
  for init in ("noise", assets.path("rocket.jpg")):
    summary = launch.run(tiny(init=init, total_steps=5), str(tmp_path / os.path.basename(init)))
    assert summary["final_losses"]["total"] < summary["initial_losses"]["total"]


@pytest.mark.parametrize("overrides, message", [
    (dict(optimizer="sgd"), "unknown optimizer"),
    (dict(loss__content_layers=("relu9_9",)), "unknown vgg16 layer"),
    (dict(loss__style_layer_weights=(1.0, 2.0)), "style_layer_weights has 2 values"),
    (dict(style_blend_weights=(1.0, 2.0)), "style_blend_weights needs 1"),
    (dict(init="/no/such/file.png"), "init must be"),
    (dict(image_size=8), "at least 16 px"),
    (dict(snapshot_every_steps=7), "multiple of log_every_steps"),
    (dict(**{"vgg.arch": "vgg19"}, **{"vgg.weights": "/no/such.mat"}), "weights file not found"),
    (dict(compute_dtype="float8"), "unknown compute dtype"),
    (dict(loss__content_weight=float("nan")), "loss.content_weight must be a finite number >= 0, got nan"),
    (dict(loss__style_weight=-1.0), "loss.style_weight must be a finite number >= 0"),
    (dict(loss__tv_weight=float("inf")), "loss.tv_weight must be a finite number"),
    (dict(loss__reference_weight=1.0), "pixel optimisation has no reference"),
    (dict(loss__style_layer_weights=(1.0, float("nan"), 1.0, 1.0, 1.0)), "loss.style_layer_weights must be"),
    (dict(learning_rate=float("inf")), "learning_rate of adam must be a finite number"),
    (dict(optimizer="lbfgs", learning_rate=0.0), "learning_rate of lbfgs must be a finite number > 0"),
    (dict(style_scale=float("nan")), "style_scale must be a finite number > 0"),
    (dict(style_blend_weights=(float("nan"),)), "style_blend_weights needs 1 non-negative"),
    (dict(num_scales=2, scale_steps=(5,)), "scale_steps needs 2 step counts"),
    (dict(scale_steps=("5", "x")), "cannot read scale_steps"),
    (dict(upsample="bicubic"), "unknown upsample"),
    (dict(schedule="fast"), "unknown schedule 'fast'; choose one of auto, cpu, full"),
])
def test_bad_settings_are_user_errors(tmp_path, overrides, message):
  with pytest.raises(UserError, match=message):
    launch.run(tiny(**overrides), str(tmp_path))



@pytest.mark.slow
def test_cli_comma_lists_of_absolute_and_relative_paths(tmp_path):
  styles = f"{assets.path('the_scream.jpg')},../{os.path.basename(ROOT)}/stylejax/assets/starry_night.jpg"
  result = run_cli(tmp_path / "w", f"--config.style={styles}", "--config.total_steps=1")
  assert result.returncode == 0, result.stderr[-2000:]
  summary = json.loads((tmp_path / "w" / "summary.json").read_text())
  assert [os.path.basename(p) for p in summary["styles"]] == ["the_scream.jpg", "starry_night.jpg"]


@pytest.mark.parametrize("method, overrides, backend, expected", [
    ("gatys", {}, "cpu", "cpu"),  # README's first command on a CPU
    ("gatys", {}, "gpu", "full"),
    ("gatys", {}, "tpu", "full"),
    ("gatys", {"image_size": 256, "content": "bundled:rocket.jpg", "init": "noise"}, "cpu", "cpu"),  # no schedule keys
    ("gatys", {"total_steps": 300}, "cpu", "full"),  # an override of a schedule key runs as given
    ("gatys", {"optimizer": "lbfgs"}, "cpu", "full"),
    ("gatys", {"num_scales": 2}, "cpu", "full"),
    ("gatys", {"schedule": "full"}, "cpu", "full"),
    ("gatys", {"schedule": "cpu"}, "gpu", "cpu"),
    ("gatys:tiny", {}, "cpu", "full"),
    ("luan", {}, "cpu", "full"),  # another preset's schedule
])
def test_the_schedule_resolves_by_backend_and_overrides(method, overrides, backend, expected):
  config = api.preset(method, **overrides)
  resolved = settings.resolve_schedule(config, backend)
  assert resolved.schedule == expected
  if expected == "cpu":
    assert {key: resolved[key] for key in gatys.CPU_SCHEDULE} == gatys.CPU_SCHEDULE
    assert set(configs.differences(config, resolved)) <= {"schedule", *gatys.CPU_SCHEDULE}
  else:
    assert set(configs.differences(config, resolved)) <= {"schedule"}


@pytest.mark.slow
def test_the_default_schedule_runs_and_is_recorded(tmp_path):
  """configs/gatys.py as README's first command runs it (schedule auto), at 64 px: on a CPU, CPU_SCHEDULE."""
  summary = launch.run(api.preset("gatys", image_size=64), str(tmp_path))
  expected = "cpu" if jax.default_backend() == "cpu" else "full"
  saved = json.loads((tmp_path / "config.json").read_text())
  assert summary["schedule"] == saved["schedule"] == expected
  if expected == "cpu":
    assert summary["optimizer"] == saved["optimizer"] == "lbfgs"
    assert summary["steps"] == gatys.CPU_SCHEDULE["total_steps"]
  assert summary["final_losses"]["total"] < 0.2 * summary["initial_losses"]["total"]


@pytest.mark.slow
def test_lbfgs_moves_a_mean_normalised_loss_of_any_scale(tmp_path):
  """Torch's L-BFGS sees a mean-normalised loss at a sum's scale (pixels.gradient_scale): with every weight 1000
  times smaller, as small as a 512 px image's gradient, it still leaves its start (it stayed there unscaled)."""
  summary = launch.run(tiny(optimizer="lbfgs", total_steps=10, log_every_steps=10, loss__content_weight=1e-3,
                            loss__style_weight=2e-2, loss__tv_weight=1e-6), str(tmp_path))
  assert summary["schedule"] == "full"
  assert summary["final_losses"]["total"] < 0.5 * summary["initial_losses"]["total"]
