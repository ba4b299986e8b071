"""Shared pytest fixtures."""

import jax
import numpy as np
import pytest

from stylejax.jobs import train
from tests.helpers import tiny_config, tiny_photo_config


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
