"""The registry of network kinds (johnson, thesis, bilateral, universal): what each kind can do, and what is wrong
with a kind's settings."""

import jax
import jax.numpy as jnp
import pytest

from stylejax.core import networks


def test_the_registry_builds_every_kind_and_names_what_is_wrong():
  assert set(networks.KINDS) >= {"johnson", "thesis", "bilateral"}
  assert networks.KINDS["johnson"].tiles and not networks.KINDS["bilateral"].tiles
  assert networks.KINDS["bilateral"].regularizers == ("grid_smoothness",)
  for kind, settings, message in (("unet", {}, "unknown net.kind 'unet'"), ("johnson", {"grid_size": 8}, "net.grid_size"),
                                  ("johnson", {"upsample": "bicubic"}, "unknown upsample"),
                                  ("thesis", {"input_blend": 1.0}, "input_blend must be in"),
                                  ("bilateral", {"padding": "mirror"}, "unknown padding")):
    with pytest.raises(ValueError, match=message):
      networks.build(kind, settings)
  with pytest.raises(ValueError, match="compute dtype"):
    networks.build("johnson", {}, "float16")


@pytest.mark.parametrize("kind", sorted(networks.KINDS))
def test_every_kind_starts_with_strongly_typed_parameters(kind):
  """A weakly typed initial parameter (e.g. `jnp.full(shape, 1/3)`) becomes strongly typed after the first update,
  so the jitted training step would compile twice: the bilateral network's channel mix did, a minute of CPU."""
  net = networks.build(kind, {})
  inputs = jnp.zeros((1, 32, 32, 3))
  params = net.init(jax.random.key(0), inputs, inputs if net.takes_style else None)
  weak = [jax.tree_util.keystr(path) for path, leaf in jax.tree_util.tree_leaves_with_path(params)
          if leaf.aval.weak_type]
  assert not weak, f"{kind}: weakly typed parameters {weak}"
