"""No code runs from a weights file: every pickle position of every format, crafted to create a file."""

import os
import pickle
import pickletools
import subprocess
import sys
import zipfile

import pytest

from stylejax.errors import UserError
from stylejax.io import weights
from tests.helpers import DATA, ROOT


class CreatesAFile:
  """Unpickling this with a plain pickle.Unpickler calls open(path, 'w')."""

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    return (open, (self.path, "w"))


def pickles_of(data):
  """The byte ranges of the consecutive pickles at the start of `data` (read without running them)."""
  spans, start = [], 0
  while start < len(data):
    ops = list(pickletools.genops(data[start:]))
    if ops[-1][0].name != "STOP":
      break
    end = start + ops[-1][2] + 1
    spans.append((start, end))
    start = end
    if len(spans) == 5:  # magic, protocol, system info, the tensors' tree, the storage keys
      break
  return spans


def legacy_with(position, marker):
  """The legacy torch fixture with pickle number `position` replaced by a file-creating one."""
  data = open(os.path.join(DATA, "tiny_vgg19_legacy.pth"), "rb").read()
  start, end = pickles_of(data)[position]
  return data[:start] + pickle.dumps(CreatesAFile(marker), protocol=2) + data[end:]


def zip_with(marker, tmp_path):
  source = zipfile.ZipFile(os.path.join(DATA, "tiny_vgg19_zip.pth"))
  path = tmp_path / "evil_zip.pth"
  with zipfile.ZipFile(path, "w") as out:
    for name in source.namelist():
      payload = source.read(name)
      if name.endswith("data.pkl"):
        payload = pickle.dumps({"features.0.weight": CreatesAFile(marker)}, protocol=2)
      out.writestr(name, payload)
  return path


@pytest.mark.parametrize("position", range(5))
def test_a_crafted_legacy_pth_runs_no_code_at_any_pickle_position(tmp_path, position):
  marker = str(tmp_path / "pwned")
  path = tmp_path / "evil.pth"
  path.write_bytes(legacy_with(position, marker))
  with pytest.raises(UserError, match=r"refusing to load (builtins|io).open"):
    weights.read_weights(str(path))
  assert not os.path.exists(marker)


def test_crafted_zip_pth_and_lpips_checkpoint_run_no_code(tmp_path):
  marker = str(tmp_path / "pwned")
  with pytest.raises(UserError, match=r"refusing to load (builtins|io).open"):
    weights.read_weights(str(zip_with(marker, tmp_path)))
  ckpt = tmp_path / "evil.ckpt"
  ckpt.write_bytes(pickle.dumps({"VGG16_0": {"Conv_0": CreatesAFile(marker)}}))
  with pytest.raises(UserError, match=r"refusing to load (builtins|io).open"):
    weights.read_weights(str(ckpt))
  assert not os.path.exists(marker)


@pytest.mark.slow
def test_the_weights_job_and_vgg_weights_refuse_a_crafted_file_before_any_code_runs(tmp_path):
  marker = str(tmp_path / "pwned")
  path = tmp_path / "evil.pth"
  path.write_bytes(legacy_with(3, marker))
  env = {**os.environ, "STYLEJAX_HOME": str(tmp_path / "home")}
  for overrides in (["--config=configs/weights.py", f"--config.source={path}"],
                    ["--config=configs/gatys.py:tiny", "--config.vgg.arch=vgg19", f"--config.vgg.weights={path}"]):
    result = subprocess.run([sys.executable, "run.py", f"--workdir={tmp_path / 'w'}", *overrides], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "refusing" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(marker)
