"""experiments/plain_jax.py, the plain-JAX floor of the GPU checks (issue 24): its loss is our objective's, and
the script runs at tiny sizes, ours beside, and prints its tables (times are not asserted beyond being positive)."""

import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from configs import gatys, johnson
from experiments import plain_jax
from stylejax import settings
from stylejax.core import vgg as vgg_lib
from tests.helpers import ROOT, tiny_params


@pytest.mark.parametrize("preset", [gatys, johnson])
def test_plain_loss_has_our_presets_layers_and_weights(preset):
  objective = settings.objective(preset.get_config())
  assert objective.term("content").layers() == (plain_jax.CONTENT,)
  assert objective.term("style").layer_weights == tuple((layer, 0.2) for layer in plain_jax.STYLE)
  assert [objective.weight(name) for name in ("content", "style", "tv")] == [
      plain_jax.CONTENT_WEIGHT, plain_jax.STYLE_WEIGHT, plain_jax.TV_WEIGHT]
  assert objective.normalization == "mean" and objective.names == ("content", "style", "tv")


def test_plain_loss_terms_are_our_objectives_on_a_batch(monkeypatch):
  rng = np.random.default_rng(0)
  params, mean, std = tiny_params("vgg16"), np.array([120.0, 110.0, 100.0]), np.array([60.0, 55.0, 58.0])
  ours = vgg_lib.Vgg(params=params, mean=mean, std=std, arch="vgg16")
  plain = {"convs": {name: (p["kernel"], p["bias"]) for name, p in params.items()}, "mean": mean, "std": std}
  content, output = (jnp.asarray(rng.uniform(0, 255, (2, 32, 32, 3)), jnp.float32) for _ in range(2))
  style = jnp.asarray(rng.uniform(0, 255, (1, 32, 32, 3)), jnp.float32)
  objective = settings.objective(gatys.get_config())
  terms = objective.terms(output, ours, objective.targets(ours, content, objective.style_grams(ours, style)))
  content_features = plain_jax.vgg_features(plain, content, jnp.float32)[plain_jax.CONTENT]
  grams = plain_jax.style_grams(plain, style, jnp.float32)
  for name, weights in {"content": (1, 0, 0), "style": (0, 1, 0), "tv": (0, 0, 1)}.items():  # one term at a time
    for attribute, weight in zip(("CONTENT_WEIGHT", "STYLE_WEIGHT", "TV_WEIGHT"), weights):
      monkeypatch.setattr(plain_jax, attribute, weight)
    value = plain_jax.perceptual_loss(plain, output, content_features, grams, jnp.float32)
    assert float(value) == pytest.approx(float(terms[name]), rel=1e-4), name


def tables(text):
  """[[row cells, ...], ...]: the markdown tables of `text`, each without its header and rule."""
  blocks = [block.splitlines() for block in text.strip().split("\n\n")]
  return [[[cell.strip() for cell in line.strip("|").split("|")] for line in block[2:]]
          for block in blocks if block[0].startswith("|")]


@pytest.mark.slow
def test_plain_jax_prints_its_table_with_ours_beside(tmp_path):
  out = tmp_path / "floor" / "results.md"
  done = subprocess.run([sys.executable, "experiments/plain_jax.py", "--tiny", "--random-weights", "--ours",
                         "--dtypes", "float32", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                        timeout=900)  # one dtype: bfloat16 is the same code with casts, and each step compiles twice
  assert done.returncode == 0, done.stderr[-3000:]
  steps, lbfgs = tables(done.stdout)
  assert [row[:3] for row in steps] == [["Gatys Adam step", "64²", "float32"],
                                        ["Johnson train step", "64² × 2", "float32"]]
  for row in steps:  # plain ms, ours ms, ours/plain
    plain_ms, ours_ms, ratio = (float(cell) for cell in row[3:])
    assert plain_ms > 0 and ours_ms > 0 and ratio == pytest.approx(ours_ms / plain_ms, rel=0.05, abs=0.01)
  [(size, adam, lbfgs_ms, ratio)] = lbfgs
  assert size == "64²" and float(adam) > 0 and float(lbfgs_ms) > 0 and float(ratio) > 0
  assert out.read_text() in done.stdout
