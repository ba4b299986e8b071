"""The two examples of the golden path run as written (at tiny sizes) and write their pictures."""

import runpy

import pytest

from stylejax.io import images
from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # whole example scripts, end to end


@pytest.mark.parametrize("example, argv", [("gatys_on_arrays.py", ["--size", "64", "--steps", "4"]),
                                           ("train_and_stylize.py", ["--steps", "2", "--size", "32", "--batch", "2",
                                                                     "--width", "4"])])
def test_an_example_runs_and_writes_its_picture(example, argv, tmp_path, monkeypatch, capsys):
  out = tmp_path / "out.png"
  monkeypatch.setattr("sys.argv", [example, *argv, "--out", str(out)])
  runpy.run_path(f"{ROOT}/examples/{example}", run_name="__main__")
  assert images.load_image(out).ndim == 3 and f"wrote {out}" in capsys.readouterr().out
