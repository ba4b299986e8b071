"""The training step with Johnson's network: NaN guard, data-parallel equality across devices."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from stylejax import api, settings
from stylejax.core import xla
from stylejax.io import weights
from stylejax.methods import training
from tests.helpers import ROOT, assert_bitwise_equal, tiny_config


def test_nan_guard_freezes_parameters_and_records_the_step():
  config = tiny_config()
  objective = settings.objective(config)
  net, tx = settings.network(config), optax.adam(1e-3)
  vgg = weights.load_vgg("vgg16")
  grams, _ = api.style_targets(objective, vgg, settings.paths(config.style, "style")[0], config.style_size)
  state = training.init_state(net, tx, 32, seed=0)
  before = jax.tree.map(np.asarray, state["params"])
  batch = jnp.full((2, 32, 32, 3), jnp.nan)
  state, metrics = training.train_step(state, batch, vgg, grams, objective=objective, net=net, tx=tx)
  assert int(state["bad"]) == 0 and int(state["step"]) == 1 and not np.isfinite(float(metrics["total"]))
  assert_bitwise_equal(jax.tree.map(np.asarray, state["params"]), before)



def test_cpu_compiler_options_change_no_number():
  """The step compiled with xla.CPU_COMPILER_OPTIONS (YNNPACK fusions off, on the CPU) computes what the
  default compilation does: loss and terms, and gradients (Adam's moments) to float32 rounding. (Not the new
  parameters: Adam's first step is ±lr wherever a gradient is rounding noise, e.g. a bias before instance norm.)"""
  config = tiny_config()
  objective, net, tx = settings.objective(config), settings.network(config), optax.adam(1e-3)
  vgg = weights.load_vgg("vgg16")
  grams, _ = api.style_targets(objective, vgg, settings.paths(config.style, "style")[0], config.style_size)
  state = training.init_state(net, tx, 32, seed=0)
  batch = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)), jnp.float32)
  assert jax.default_backend() != "cpu" or xla.compiler_options() == xla.CPU_COMPILER_OPTIONS
  default = jax.jit(training._step, static_argnames=("objective", "net", "tx"))
  expected = default(state, batch, vgg, grams, objective=objective, net=net, tx=tx)
  got = training.train_step(jax.tree.map(jnp.copy, state), batch, vgg, grams, objective=objective, net=net, tx=tx)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), got[1], expected[1])
  for moment in ("mu", "nu"):  # (1 − β) g and (1 − β₂) g²
    got_moment, expected_moment = (getattr(state[0]["opt_state"][0], moment) for state in (got, expected))
    scale = max(float(np.abs(leaf).max()) for leaf in jax.tree.leaves(expected_moment))
    jax.tree.map(lambda a, b, scale=scale: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * scale),
                 got_moment, expected_moment)

MESH_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import NamedSharding, PartitionSpec as P
    from tests.helpers import tiny_config
    from stylejax import api, settings
    from stylejax.io import weights
    from stylejax import api
    from stylejax.methods import training
    assert jax.device_count() == 4
    config = tiny_config()
    objective = settings.objective(config)
    # SGD, not Adam: Adam's first step is lr * sign(g), which turns float noise in the
    # zero gradients of biases before instance norm into +-lr.
    net, tx = settings.network(config), optax.sgd(1e-3)
    vgg = weights.load_vgg("vgg16")
    grams, _ = api.style_targets(objective, vgg, settings.paths(config.style, "style")[0], config.style_size)
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


@pytest.mark.slow  # a subprocess with 4 host devices
def test_data_parallel_step_on_4_devices_matches_1_device():
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
  result = subprocess.run([sys.executable, "-c", MESH_SCRIPT.format(root=ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.startswith("ok")
