"""Shared pytest fixtures; one persistent XLA compile cache, and quick compiles and code generation, for every
process of the test session."""

import collections
import os
import shutil
import tempfile

import filelock
import jax
import numpy as np
import pytest
from PIL import Image

from configs import universal_photo
from stylejax.io import compile_cache, images
from stylejax.jobs import train
from tests.helpers import smooth_image, tiny_config, tiny_photo_config

QUICK_COMPILES = "JAX_DISABLE_MOST_OPTIMIZATIONS"


def one_compile_cache():
  """The session's compile cache: (its folder, whether this process made it), set up before anything compiles.

  This process, the pytest-xdist workers and every process the tests start (run.py, the website's worker, Ray's
  actors) inherit the environment and cache their compiled programs in one folder: a test loads what an earlier
  one compiled, in any process, instead of compiling it again (most of the suite's time is XLA:CPU compilation).
  Set JAX_COMPILATION_CACHE_DIR yourself for a cache that outlives the session."""
  folder = os.environ.get(compile_cache.FOLDER_VARIABLE)
  created = not folder
  folder = folder or tempfile.mkdtemp(prefix="stylejax-tests-xla-cache-")
  os.environ.update(compile_cache.environment(folder))
  compile_cache.use(folder)
  return folder, created


COMPILE_CACHE, CREATED_COMPILE_CACHE = one_compile_cache()


def quick_compiles():
  """Compiles without XLA's backend optimisations (jax_disable_most_optimizations), in this process and, through
  the environment, in pytest-xdist's workers and every process the tests start. Most of the suite's time is
  XLA:CPU compiling programs that then run a few steps on tiny images: the suite's tests take 8 % less time
  (docs/benchmarks.md, "The test suite's time"). JAX_DISABLE_MOST_OPTIMIZATIONS set yourself wins (jax read it
  on import): =0 compiles with the optimisations."""
  if QUICK_COMPILES not in os.environ:
    os.environ[QUICK_COMPILES] = "1"
    jax.config.update("jax_disable_most_optimizations", True)


quick_compiles()


def quick_codegen():
  """XLA:CPU's older code generator for fusions (`--xla_cpu_use_fusion_emitters=false`), in XLA_FLAGS for this
  process and, through the environment, for pytest-xdist's workers and every process the tests start. It compiles
  the suite's programs faster and runs them about as fast: the Johnson network and bilateral grid tests take 52 s
  instead of 81 s (docs/benchmarks.md, "The test suite's time"). jax reads XLA_FLAGS when it starts its backend,
  which nothing imported above has done yet; the flag set yourself wins."""
  flags = os.environ.get("XLA_FLAGS", "")
  if "xla_cpu_use_fusion_emitters" not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_use_fusion_emitters=false".strip()


quick_codegen()


def pytest_unconfigure(config):
  if CREATED_COMPILE_CACHE:  # the session's own folder (xdist's workers share the controller's)
    shutil.rmtree(COMPILE_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(items):
  """Test files with more slow tests first, each file's tests in their own order. pytest-xdist's `--dist loadfile`
  hands out whole files in this order as workers come free: the long files start early and the short ones fill
  in at the end (longest first), instead of one worker running the website's long files alone at the end."""
  slow = collections.Counter(item.path for item in items if item.get_closest_marker("slow"))
  first_seen = {path: k for k, path in reversed(list(enumerate(item.path for item in items)))}
  items.sort(key=lambda item: (-slow[item.path], first_seen[item.path]))


@pytest.fixture(autouse=True)
def optimized_compiles(request, monkeypatch):
  """Tests marked `optimized` compile with XLA's optimisations, in this process and the processes they start:
  their programs run loops (L-BFGS's line search) whose bodies unoptimised XLA:CPU runs up to 100x slower."""
  if request.node.get_closest_marker("optimized") is None:
    yield
    return
  quick = jax.config.read("jax_disable_most_optimizations")
  monkeypatch.setenv(QUICK_COMPILES, "0")
  jax.config.update("jax_disable_most_optimizations", False)
  jax.clear_caches()  # jit's caches do not know the setting
  yield
  jax.config.update("jax_disable_most_optimizations", quick)
  jax.clear_caches()


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


def trained_once(tmp_path_factory, name, config):
  """The model directory `name`, trained from `config` by the first pytest-xdist worker that asks for it and read
  by the others (a file lock in the session's shared temporary folder): each tiny model trains once per session,
  not once per worker. The tests only read these directories (or copy them)."""
  shared = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    shared = shared.parent  # the workers' basetemps sit side by side in the session's
  workdir = shared / name
  with filelock.FileLock(str(shared / f"{name}.lock")):
    if not (workdir / "model.json").is_file():
      shutil.rmtree(workdir, ignore_errors=True)  # a worker that died while training
      train.run(config, str(workdir))
  return str(workdir)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
  """A 2-step tiny Johnson model directory, shared by the stylize and compare tests."""
  return trained_once(tmp_path_factory, "model", tiny_config(total_steps=2, sample_every_steps=0))


@pytest.fixture(scope="session")
def photo_model_dir(tmp_path_factory):
  """A 2-step tiny bilateral-grid model directory (configs/fast_photo.py:tiny)."""
  return trained_once(tmp_path_factory, "photo_model", tiny_photo_config(total_steps=2, sample_every_steps=0))


@pytest.fixture(scope="session")
def universal_model_dir(tmp_path_factory):
  """A 2-step tiny universal model directory (configs/universal_photo.py:tiny): takes a style photo."""
  return trained_once(tmp_path_factory, "universal_model",
                      tiny_photo_config(universal_photo, total_steps=2, sample_every_steps=0))


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
