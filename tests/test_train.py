"""Training feed-forward style networks: outputs, resume (in-process and after kill -9), data parallelism."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from configs import johnson
from stylejax import settings
from stylejax.io import checkpoints, weights
from stylejax.jobs import train
from stylejax.methods import training
from stylejax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Small enough for a 2-core CPU: 32 px crops, batch 2, a one-block network.
OVERRIDES = {"image_size": 32, "style_size": 64, "preview_size": 32, "total_steps": 6, "log_every_steps": 2,
             "sample_every_steps": 3, "checkpoint_every_steps": 2, "num_threads": 2}


def tiny_config(arg="tiny", **overrides):
  config = johnson.get_config(arg)
  config.net.residual_blocks = 1
  config.update({**OVERRIDES, **overrides})
  return config


def final_params(workdir, step=None):
  manager = checkpoints.manager(workdir)
  step = step or manager.latest_step()
  restored = manager.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore()))
  manager.close()
  return jax.tree.map(np.asarray, restored.params)


def assert_bitwise_equal(a, b):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  assert all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b))


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
  """An uninterrupted 6-step run."""
  workdir = str(tmp_path_factory.mktemp("straight"))
  model = train.run(tiny_config(), workdir)
  return workdir, model


def test_run_writes_a_self_describing_model_directory(straight_run):
  workdir, model = straight_run
  for name in ("config.json", "metrics.jsonl", "losses.png", "style.jpg", "model.json"):
    assert os.path.isfile(os.path.join(workdir, name)), name
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4", "6"][-3:]
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == ["step_0000003.png", "step_0000006.png"]
  rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in rows] == [2, 4, 6]
  assert all(np.isfinite(r[k]) for r in rows for k in ("content", "style", "tv", "total"))
  assert model["steps"] == 6 and model["final_losses"]["step"] == 6
  assert model["parameters"] == sum(p.size for p in jax.tree.leaves(final_params(workdir)))
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["net"]["residual_blocks"] == 1


def test_resuming_a_finished_run_with_more_steps_equals_a_longer_run(straight_run, tmp_path):
  workdir = str(tmp_path)
  train.run(tiny_config(total_steps=4), workdir)
  train.run(tiny_config(total_steps=6), workdir)  # same command, more steps: resumes at 4
  assert_bitwise_equal(final_params(workdir), final_params(straight_run[0]))
  rows = [json.loads(line)["step"] for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert rows == [2, 4, 6]


def test_resume_refuses_a_changed_config(straight_run, tmp_path):
  workdir = str(tmp_path)
  train.run(tiny_config(total_steps=2), workdir)
  config = tiny_config(total_steps=4)
  config.loss.style_weight = 3.0
  with pytest.raises(UserError, match="loss.style_weight"):
    train.run(config, workdir)


@pytest.mark.slow
def test_kill_9_then_same_command_ends_with_the_same_parameters(straight_run, tmp_path):
  workdir = str(tmp_path / "killed")
  flags = [f"--config.{k}={v}" for k, v in {**OVERRIDES, "net.residual_blocks": 1, "total_steps": 40,
                                            "checkpoint_every_steps": 4, "sample_every_steps": 0}.items()]
  command = [sys.executable, "run.py", "--config", "configs/johnson.py:tiny", "--workdir", workdir, *flags]
  process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  checkpoints = os.path.join(workdir, "checkpoints")
  deadline = time.time() + 300
  while not (os.path.isdir(checkpoints) and any(d.isdigit() and int(d) >= 8 for d in os.listdir(checkpoints))):
    assert process.poll() is None, "training ended before it could be killed"
    assert time.time() < deadline
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  killed_at = max(int(d) for d in os.listdir(checkpoints) if d.isdigit())
  assert killed_at < 40
  subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  reference = str(tmp_path / "reference")
  train.run(tiny_config(total_steps=40, checkpoint_every_steps=4, sample_every_steps=0), reference)
  assert_bitwise_equal(final_params(workdir), final_params(reference))


def test_nan_guard_freezes_parameters_and_records_the_step():
  config = tiny_config()
  objective = settings.objective(config)
  net, tx = settings.network(config), optax.adam(1e-3)
  vgg = weights.load_vgg("vgg16")
  grams, _ = train.style_grams(objective, vgg, config)
  state = training.init_state(net, tx, 32, seed=0)
  before = jax.tree.map(np.asarray, state["params"])
  batch = jnp.full((2, 32, 32, 3), jnp.nan)
  state, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx)
  assert int(state["bad"]) == 0 and int(state["step"]) == 1 and not np.isfinite(float(metrics["total"]))
  assert_bitwise_equal(jax.tree.map(np.asarray, state["params"]), before)


MESH_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import NamedSharding, PartitionSpec as P
    from tests.test_train import tiny_config
    from stylejax import settings
    from stylejax.io import weights
    from stylejax.jobs import train
    from stylejax.methods import training
    assert jax.device_count() == 4
    config = tiny_config()
    objective = settings.objective(config)
    # SGD, not Adam: Adam's first step is lr * sign(g), which turns float noise in the
    # zero gradients of biases before instance norm into +-lr.
    net, tx = settings.network(config), optax.sgd(1e-3)
    vgg = weights.load_vgg("vgg16")
    grams, _ = train.style_grams(objective, vgg, config)
    batch = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
      mesh = jax.make_mesh((len(devices),), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)
      replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
      state = jax.device_put(training.init_state(net, tx, 32, seed=0), replicated)
      x = jax.device_put(batch, split)
      state, metrics = training.train_step(state, x, jax.device_put(vgg, replicated), jax.device_put(grams, replicated),
                                        objective=objective, net=net, tx=tx)
      results.append((float(metrics["total"]), jax.tree.map(np.asarray, state["params"]),
                      len(state["params"]["ConvNormAct_0"]["Conv_0"]["kernel"].sharding.device_set)))
    (loss1, params1, n1), (loss4, params4, n4) = results
    assert (n1, n4) == (1, 4), (n1, n4)
    np.testing.assert_allclose(loss4, loss1, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(params4), jax.tree.leaves(params1)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    try:
      settings.check_train(tiny_config(batch_size=6), jax.device_count())
    except settings.UserError as e:
      assert "multiple of the 4 devices" in str(e)
    else:
      raise AssertionError("batch 6 on 4 devices was accepted")
    print("ok", loss1, loss4)
""")


def test_data_parallel_step_on_4_devices_matches_1_device():
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
  result = subprocess.run([sys.executable, "-c", MESH_SCRIPT.format(root=ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.startswith("ok")


def test_a_training_preset_with_the_matting_term_trains(tmp_path):
  """configs/johnson.py:tiny,matting: the thesis's §4 term on each batch's own matrix-free Laplacian."""
  model = train.run(tiny_config("tiny,matting", total_steps=2, sample_every_steps=0), str(tmp_path))
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert "affine" in rows[-1] and np.isfinite(rows[-1]["affine"]) and rows[-1]["affine"] > 0
  assert model["steps"] == 2
  with pytest.raises(UserError, match="matrix_free"):
    config = tiny_config("tiny,matting")
    config.loss.laplacian_backend = "banded"
    train.run(config, str(tmp_path / "banded"))
