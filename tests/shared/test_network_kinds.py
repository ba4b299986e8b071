"""The registry of network kinds (johnson, thesis, bilateral): what each kind can do, and what is wrong with a
kind's settings."""

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
