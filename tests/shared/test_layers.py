"""The package's layers hold (import-linter contracts in setup.cfg) and each input is decoded once."""

import os
import shutil
import subprocess
import sys

import pytest

from stylejax import api, launch
from stylejax.io import images
from tests.helpers import ROOT



@pytest.mark.slow  # lint-imports in its own process
def test_import_contracts_are_kept():
  lint = shutil.which("lint-imports") or os.path.join(os.path.dirname(sys.executable), "lint-imports")
  result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
  assert "3 kept, 0 broken" in result.stdout


@pytest.mark.slow
def test_a_two_scale_run_decodes_content_and_style_once(tmp_path, monkeypatch):
  decoded = []
  original = images.open_rgb
  monkeypatch.setattr(images, "open_rgb", lambda source, *a, **k: decoded.append(os.fspath(source)) or
                      original(source, *a, **k))
  launch.run(api.preset("gatys:tiny", num_scales=2, total_steps=2, log_every_steps=2), str(tmp_path))
  assert sorted(os.path.basename(p) for p in decoded) == ["chelsea.jpg", "starry_night.jpg"]


def test_the_api_takes_arrays_and_returns_an_array(rng):
  content = rng.uniform(0, 255, (40, 56, 3)).astype("float32")
  style = rng.uniform(0, 255, (48, 48, 3)).astype("float32")
  result = api.transfer(content, style, "gatys:tiny", image_size=56, total_steps=3, log_every_steps=3)
  assert result.shape == (40, 56, 3) and result.dtype == "float32"
