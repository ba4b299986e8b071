"""stylejax: neural style transfer in JAX.

The public API (stylejax.api): `transfer`, `load_model`, `preset`, `score`, and `train`
(the train job). Imported on first use, so `import stylejax.core.losses` stays light.
"""

__version__ = "0.1.0"
__all__ = ["transfer", "load_model", "preset", "score", "train"]


def __getattr__(name):
  if name in ("transfer", "load_model", "preset", "score"):
    from stylejax import api
    return getattr(api, name)
  if name == "train":
    from stylejax.jobs import train
    return train.run
  raise AttributeError(f"module 'stylejax' has no attribute {name!r}")
