"""Tiled stylisation equals one pass; the tile margin covers the receptive field."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from stylejax.core import networks, tiling
from stylejax.core.networks import johnson
from tests.helpers import random_params, smooth_image


@pytest.mark.slow
@pytest.mark.parametrize("upsample,padding", [("transpose", "zeros"), ("resize", "reflect")])
def test_tiled_equals_untiled(upsample, padding, rng):
  net = johnson.Johnson(upsample=upsample, padding=padding, residual_blocks=1)
  params = random_params(net)
  image = smooth_image(rng, 101, 78)  # odd sizes, 3 x 2 cores of 40 px
  whole = np.asarray(networks.stylize(net, params, jnp.asarray(image)[None])[0])
  tiled = tiling.stylize_tiled(net, params, image, core=40)
  np.testing.assert_allclose(tiled, whole, atol=0.02)  # pixels in 0..255
  # Without the whole-image statistics every tile would have its own colours.
  corner = np.asarray(networks.stylize(net, params, jnp.asarray(image[:40 + tiling.margin(net), :40 + tiling.margin(net)])[None])[0])
  assert np.abs(corner[:40, :40] - whole[:40, :40]).max() > 1.0


@pytest.mark.slow
@pytest.mark.parametrize("upsample", johnson.UPSAMPLINGS)
def test_margin_covers_the_receptive_field(upsample, rng):
  """With the normalisation statistics fixed (as tiling fixes them), a changed input
  pixel changes no output pixel further away than the margin."""
  net = johnson.Johnson(upsample=upsample, residual_blocks=5)
  params = random_params(net)
  image = rng.uniform(0, 255, (1, 160, 160, 3)).astype(np.float32)
  _, state = net.module().apply({"params": params}, image, mutable=["intermediates"])
  stats = traverse_util.unflatten_dict({
      key[:-1] + (name,): value for key, (x,) in traverse_util.flatten_dict(state["intermediates"]).items()
      for name, value in (("mean", np.zeros((1, 1, 1, x.shape[-1]), np.float32)),
                          ("var", np.ones((1, 1, 1, x.shape[-1]), np.float32)), ("use", np.bool_(True)))})
  poked = image.copy()
  poked[0, 80, 80] += 100.0
  before, after = (np.asarray(net.module().apply({"params": params, "norm_stats": stats}, x)) for x in (image, poked))
  changed = np.argwhere(np.abs(after - before).max(-1)[0] > 0)
  reach = np.abs(changed - 80).max()
  assert tiling.margin(net) - 12 <= reach <= tiling.margin(net)

