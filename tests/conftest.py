"""Shared pytest fixtures, and one persistent XLA compile cache for every process the tests start."""

import os

import jax
import numpy as np
import pytest
from PIL import Image

from stylejax.io import compile_cache, images
from stylejax.jobs import train
from tests.helpers import smooth_image, tiny_config, tiny_photo_config


@pytest.fixture(scope="session", autouse=True)
def shared_compile_cache(tmp_path_factory):
  """Every process the tests start (run.py, the website's worker, Ray's actors) inherits this environment and so
  caches its compiled programs in one folder: an end-to-end test loads what an earlier one compiled instead of
  compiling it again. This process keeps its programs in memory only: jax read its settings on import, before this
  fixture ran. Set JAX_COMPILATION_CACHE_DIR yourself for a cache that outlives the session."""
  folder = os.environ.get(compile_cache.FOLDER_VARIABLE) or str(tmp_path_factory.mktemp("xla_cache"))
  with pytest.MonkeyPatch.context() as patch:
    for name, value in compile_cache.environment(folder).items():
      patch.setenv(name, value)
    yield folder


@pytest.fixture
def rng():
  return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="module")
def release_compiled_programs():
  """Drops every compiled program after each test module. Each XLA:CPU program keeps memory maps of its code;
  the whole suite in one process would pass the kernel's limit (`vm.max_map_count`, 65530) and LLVM would crash
  with SIGSEGV inside a later compile. With this the process stays near 1,200 maps."""
  yield
  jax.clear_caches()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
  """A 2-step tiny Johnson model directory, shared by the stylize and compare tests."""
  workdir = str(tmp_path_factory.mktemp("model"))
  train.run(tiny_config(total_steps=2, sample_every_steps=0), workdir)
  return workdir


@pytest.fixture(scope="session")
def photo_model_dir(tmp_path_factory):
  """A 2-step tiny bilateral-grid model directory (configs/fast_photo.py:tiny)."""
  workdir = str(tmp_path_factory.mktemp("photo_model"))
  train.run(tiny_photo_config(total_steps=2, sample_every_steps=0), workdir)
  return workdir


@pytest.fixture
def photo_tree(tmp_path, rng):
  """Two 40x48 photos, one 36x30 in a subfolder, one rotated by EXIF, one corrupt, one 'huge'."""
  root = tmp_path / "in"
  (root / "sub").mkdir(parents=True)
  for name, (h, w) in [("a.jpg", (40, 48)), ("b.png", (40, 48)), ("sub/c.jpg", (36, 30)), ("huge.png", (130, 90))]:
    Image.fromarray(images.to_uint8(smooth_image(rng, h, w))).save(root / name)
  rotated = Image.fromarray(images.to_uint8(smooth_image(rng, 24, 56)))
  exif = rotated.getexif()
  exif[0x0112] = 6  # rotate 90° clockwise when displayed
  rotated.save(root / "rotated.jpg", exif=exif)
  (root / "corrupt.jpg").write_bytes(open(root / "a.jpg", "rb").read()[:200])
  return root
