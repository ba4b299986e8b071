"""Comparison jobs: Gatys vs Luan, fast networks vs the slow methods, scored alike."""

import json

import numpy as np
import pytest
from PIL import Image

from experiments import fast_photo_vs_luan, fast_vs_gatys, gatys_vs_luan, luan_tradeoff
from stylejax import launch
from stylejax.io import assets

pytestmark = pytest.mark.slow  # every test runs two or more methods end to end (15 s and more each)


def test_compare_runs_gatys_and_luan_on_one_pair_and_lays_them_side_by_side(tmp_path):
  config = gatys_vs_luan.get_config("tiny")
  for run in config.runs.values():
    run.total_steps, run.log_every_steps = 6, 3
  summaries = launch.run(config, str(tmp_path))
  assert set(summaries) == {"luan", "gatys"}
  assert summaries["luan"]["masks"] and not summaries["gatys"]["masks"]
  assert summaries["luan"]["content"] == summaries["gatys"]["content"]  # the same pair
  scores = json.loads((tmp_path / "compare.json").read_text())
  for name in ("luan", "gatys"):
    assert (tmp_path / name / "result.png").is_file()
    assert scores[name]["photorealism"] == summaries[name]["photorealism"]
    assert scores[name]["final_losses"]["total"] < summaries[name]["initial_losses"]["total"]
    assert set(scores[name]["scores"]) == {"style", "content", "color", "affine_energy", "gradient_ssim"}
  assert Image.open(tmp_path / "loss_vs_time.png").size == (640, 400)
  sheet = Image.open(tmp_path / "contact_sheet.png")  # content | style | masks | luan | gatys
  assert sheet.height == 256 + 44 and sheet.width > 4 * 256


def test_tradeoff_points_are_scored_beside_a_reference_and_plotted(tmp_path):
  config = luan_tradeoff.get_config("tiny")
  assert len(config.runs) == 9  # 3 style weights × 3 affine weights
  kept = list(config.runs)[:2]
  for name in list(config.runs)[2:]:
    del config.runs[name]
  for run in config.runs.values():
    run.total_steps, run.log_every_steps = 4, 2
  config.references.photo = "bundled:astronaut.jpg"  # the unchanged content photo
  launch.run(config, str(tmp_path))
  table = json.loads((tmp_path / "score.json").read_text())
  assert table["references"] == ["photo"] and set(table["scores"]) == {"photo", *kept}
  assert table["scores"]["photo"]["gradient_ssim"] == pytest.approx(1.0)
  assert f"| {kept[0]} |" in (tmp_path / "score.md").read_text()
  assert Image.open(tmp_path / "tradeoff.png").size == (640, 480)


def test_compare_fast_scores_both_methods_with_the_same_loss(model_dir, tmp_path):
  config = fast_vs_gatys.get_config("tiny")
  config.update({"checkpoint": model_dir, "photos": assets.path("coffee.jpg"), "image_size": 48})
  config.gatys.total_steps = 5
  results = launch.run(config, str(tmp_path))
  scores = results["coffee"]
  assert set(scores["fast"]) == set(scores["gatys"]) == {"content", "style", "tv", "total"}
  assert scores["gatys_steps"] == 5
  assert Image.open(tmp_path / "contact_sheet.png").size[1] > 256



def test_compare_photo_scores_slow_methods_and_networks_on_the_same_photos(photo_model_dir, tmp_path):
  config = fast_photo_vs_luan.get_config("tiny")
  config.photos = ("bundled:rocket.jpg",)  # two photos: tests/fast_photo/test_universal.py
  config.models.bilateral = photo_model_dir
  means = launch.run(config, str(tmp_path))
  assert sorted(means) == ["mean bilateral", "mean gatys", "mean luan"]
  table = (tmp_path / "score.md").read_text()
  for row in ("| rocket gatys |", "| rocket luan |", "| rocket bilateral |", "| mean bilateral |"):
    assert row in table
  assert all(np.isfinite(value) for scores in means.values() for value in scores.values())
  assert 0 < means["mean bilateral"]["seconds"] < means["mean gatys"]["seconds"]
  assert (tmp_path / "contact_sheet.png").is_file() and (tmp_path / "rocket" / "bilateral.png").is_file()
  # Run again: the finished slow runs are read back, not repeated.
  summary = tmp_path / "rocket" / "luan" / "summary.json"
  written = summary.stat().st_mtime_ns
  again = launch.run(config, str(tmp_path))
  assert summary.stat().st_mtime_ns == written
  assert again["mean luan"]["style"] == means["mean luan"]["style"]
