"""stylejax: neural style transfer in JAX."""

__version__ = "0.1.0"
