"""The weights job: install a VGG19 file into the cache, from Python and from run.py."""

import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.errors import UserError
from stylejax.io import weights
from tests.helpers import DATA


def test_weights_job_installs_into_cache_and_vgg19_loads_from_it(tmp_path, monkeypatch):
  monkeypatch.setenv("STYLEJAX_HOME", str(tmp_path / "home"))
  with pytest.raises(UserError, match=r"vgg19.npz.*configs/weights.py"):
    weights.load_vgg("vgg19")
  report = weights.install(os.path.join(DATA, "tiny_vgg19_legacy.pth"), "vgg19")
  assert report["cache"] == str(tmp_path / "home" / "vgg19.npz")
  assert report["sha256"] == weights.sha256(report["cache"])
  net = weights.load_vgg("vgg19", pooling="max")
  reference = np.load(os.path.join(DATA, "tiny_vgg19_reference.npz"))
  got = net.features(jnp.asarray(reference["image"])[None], ["relu5_4"])["relu5_4"]
  np.testing.assert_allclose(got[0], reference["relu5_4"], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_weights_job_from_the_command_line(tmp_path):
  root = os.path.dirname(os.path.dirname(DATA))
  env = {**os.environ, "STYLEJAX_HOME": str(tmp_path / "home")}
  result = subprocess.run([sys.executable, "run.py", "--config=configs/weights.py", f"--workdir={tmp_path / 'w'}",
                           f"--config.source={os.path.join(DATA, 'tiny_vgg19_zip.pth')}"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert (tmp_path / "home" / "vgg19.npz").is_file() and (tmp_path / "home" / "vgg19.npz.sha256").is_file()
  assert "installed vgg19 weights" in result.stderr
  missing = subprocess.run([sys.executable, "run.py", "--config=configs/weights.py", f"--workdir={tmp_path / 'w'}"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=300)
  assert missing.returncode == 1 and missing.stderr.startswith("error: set --config.source")

