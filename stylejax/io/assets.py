"""The bundled files (stylejax/assets, sources in SOURCES.md) and the `bundled:NAME` path spelling.

Configs name bundled images as `bundled:NAME` (they import nothing from the
package); `resolve` turns such a name into a path and leaves others alone.
"""

import os

DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
PREFIX = "bundled:"


def path(name):
  return os.path.join(DIR, name)


def resolve(spec):
  """'bundled:NAME' -> the bundled file's path; any other path unchanged."""
  return path(spec[len(PREFIX):]) if spec.startswith(PREFIX) else spec
