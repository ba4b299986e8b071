"""torch.save files crafted byte by byte, without torch: state dicts whose tensors claim any storage, offset,
sizes and strides, in the zip and the legacy format (tests/data/make_torch_fixtures.py writes real ones)."""

import collections
import io
import pickle
import struct
import zipfile


class _Global:
  """Pickled as a reference to `module.name`, which is never imported here."""

  def __init__(self, module, name):
    self.module, self.name = module, name

  def __call__(self, *args):
    raise TypeError("a stand-in, only pickled")


class _Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table takes _Global
  dispatch = dict(pickle._Pickler.dispatch)
  dispatch[_Global] = lambda self, g: self.write(pickle.GLOBAL + f"{g.module}\n{g.name}\n".encode())
  legacy = False  # the legacy format's storage ids end with a view (None)

  def persistent_id(self, obj):
    return (obj.pid + (None,) * self.legacy) if isinstance(obj, Storage) else None


class Storage:
  """A storage as a tensor's pickle names it (its bytes are written apart)."""

  def __init__(self, key, numel, kind="FloatStorage"):
    self.pid = ("storage", _Global("torch", kind), key, "cpu", numel)


class Tensor:
  """What torch pickles for a tensor: _rebuild_tensor_v2(storage, offset, sizes, strides, requires_grad, hooks)."""

  def __init__(self, storage, offset, size, stride):
    self.args = (storage, offset, size, stride, False, collections.OrderedDict())

  def __reduce__(self):
    return _Global("torch._utils", "_rebuild_tensor_v2"), self.args


def dumps(tree, legacy=False):
  out = io.BytesIO()
  pickler = _Pickler(out, protocol=2)
  pickler.legacy = legacy
  pickler.dump(tree)
  return out.getvalue()


def write_zip(path, tree, storages, compression=zipfile.ZIP_STORED):
  """The zip format: archive/data.pkl, archive/version and archive/data/KEY, the bytes of each of `storages`."""
  with zipfile.ZipFile(path, "w", compression) as archive:
    archive.writestr("archive/data.pkl", dumps(tree))
    archive.writestr("archive/version", "3\n")
    for key, data in storages.items():
      archive.writestr(f"archive/data/{key}", data)
  return path


def write_legacy(path, tree, storages, keys=None):
  """The legacy format: magic number, protocol, system info and `tree` pickled, then the storage keys (`keys`,
  default those of `storages`), then per storage an int64 element count and the bytes: `storages` maps a key
  to (count, bytes), so a count can claim other than the bytes that follow."""
  out = io.BytesIO()
  system = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
  for header in (0x1950A86A20F9469CFC6C, 1001, system):
    pickle.dump(header, out, protocol=2)
  out.write(dumps(tree, legacy=True))
  pickle.dump(list(storages) if keys is None else keys, out, protocol=2)
  for count, data in storages.values():
    out.write(struct.pack("<q", count) + data)
  with open(path, "wb") as f:
    f.write(out.getvalue())
  return path
