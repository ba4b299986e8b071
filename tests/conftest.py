"""Shared pytest fixtures, and one persistent XLA compile cache for every process the tests start."""

import os

import numpy as np
import pytest

from stylejax.io import compile_cache
from stylejax.jobs import train
from tests.helpers import tiny_config, tiny_photo_config


@pytest.fixture(scope="session", autouse=True)
def shared_compile_cache(tmp_path_factory):
  """Every process the tests start (run.py, its workers, Ray's actors) inherits this environment and so caches its
  compiled programs in one folder: an end-to-end test loads what an earlier one compiled instead of compiling it
  again. This process keeps its programs in memory only (a disk cache does not pay within one process).

  A JAX_COMPILATION_CACHE_DIR of your own is used instead, by this process too: a cache that outlives the session,
  so that a rerun loads what the last run compiled (the fast tier then runs about three times faster)."""
  folder = os.environ.get(compile_cache.FOLDER_VARIABLE)
  if folder:
    compile_cache.use(folder)
  else:
    folder = str(tmp_path_factory.mktemp("xla_cache"))
  with pytest.MonkeyPatch.context() as patch:
    for name, value in compile_cache.environment(folder).items():
      patch.setenv(name, value)
    yield folder


@pytest.fixture
def rng():
  return np.random.default_rng(0)


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
