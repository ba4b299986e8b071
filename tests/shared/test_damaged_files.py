"""Every reader of a file we did not write turns every failure into one UserError naming the file: damaged,
truncated or crafted weights files of each format, and images whose decoder raises anything (issue 23: a
zero-byte .npz was an EOFError, a .pth whose pickle root is a list an AttributeError)."""

import io
import os
import pickle
import struct
import zipfile

import numpy as np
import PIL.ImageOps
import pytest
from PIL import Image

from stylejax.errors import UserError
from stylejax.io import images, mask_files, weights
from tests.helpers import DATA, tiny_params
from tests.shared import torch_files


def fixture_bytes(name, cut=None):
  data = open(os.path.join(DATA, name), "rb").read()
  return data[:int(len(data) * cut)] if cut else data


def npz_bytes(**arrays):
  out = io.BytesIO()
  np.savez(out, **arrays)
  return out.getvalue()


def cache_arrays(**changes):
  """The arrays of a valid VGG19 cache .npz, with `changes` (None removes a key)."""
  arrays = {f"{n}/{k}": v for n, p in tiny_params("vgg19").items() for k, v in p.items()}
  arrays.update(mean=np.zeros(3, np.float32), std=np.ones(3, np.float32))
  arrays.update(changes)
  return {k: v for k, v in arrays.items() if v is not None}


def npy_claiming(shape, data=b"\0" * 16):
  """An .npy member whose header claims `shape` float32 over `data`."""
  out = io.BytesIO()
  np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": shape})
  return out.getvalue() + data


def zip_bytes(members):
  out = io.BytesIO()
  with zipfile.ZipFile(out, "w") as archive:
    for name, data in members.items():
      archive.writestr(name, data)
  return out.getvalue()


def pickled(tree, legacy):
  """A .pth whose pickled tree is `tree` (a list, a number...), in either format."""
  def build(path):
    if legacy:
      return torch_files.write_legacy(path, tree, {})
    return torch_files.write_zip(path, tree, {})
  return build


DAMAGED_WEIGHTS = {
    "zero-byte .npz": ("w.npz", b""),
    "zero-byte zip .pth": ("w.pth", b""),
    "zero-byte .pt": ("w.pt", b""),
    "zero-byte .mat": ("w.mat", b""),
    "zero-byte .ckpt": ("w.ckpt", b""),
    "zip .pth cut in half": ("w.pth", fixture_bytes("tiny_vgg19_zip.pth", 0.5)),
    "legacy .pth cut in half": ("w.pth", fixture_bytes("tiny_vgg19_legacy.pth", 0.5)),
    "legacy .pth cut in its first pickle": ("w.pth", fixture_bytes("tiny_vgg19_legacy.pth")[:5]),
    "zip .pth whose pickle root is a list": ("w.pth", pickled([1, 2], legacy=False)),
    "legacy .pth whose pickle root is a list": ("w.pth", pickled([1, 2], legacy=True)),
    "zip .pth whose pickle root is a number": ("w.pth", pickled(7, legacy=False)),
    "zip without data.pkl": ("w.pth", zip_bytes({"archive/version": b"3\n"})),
    "a pickle of a list as .ckpt": ("w.ckpt", pickle.dumps([1, 2])),
    "a .ckpt without layers": ("w.ckpt", pickle.dumps({"VGG16_0": {"Conv_0": 5}})),
    "a truncated .ckpt": ("w.ckpt", pickle.dumps({"VGG16_0": {}})[:-3]),
    "garbage .mat": ("w.mat", b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 4),
    ".npz holding a Python object": ("w.npz", npz_bytes(mean=np.array([{"a": 1}], dtype=object))),
    ".npz whose array claims 2**40 elements": ("w.npz", zip_bytes({"mean.npy": npy_claiming((2 ** 40,))})),
    ".npz whose array claims fewer bytes than it holds": ("w.npz", zip_bytes({"mean.npy": npy_claiming((1,))})),
    ".npz member that is not an array": ("w.npz", zip_bytes({"mean.npy": b"just text"})),
    ".npz missing std": ("w.npz", npz_bytes(**cache_arrays(std=None))),
    ".npz with a 3-D kernel": ("w.npz", npz_bytes(**cache_arrays(**{"conv2_1/kernel": np.zeros((3, 3, 4))}))),
    ".npz whose layers do not chain": ("w.npz",
                                       npz_bytes(**cache_arrays(**{"conv2_1/kernel": np.zeros((3, 3, 7, 5))}))),
    ".npz with text weights": ("w.npz", npz_bytes(**cache_arrays(**{"conv1_1/bias": np.array(["a"] * 4)}))),
    ".npz with two means": ("w.npz", npz_bytes(**cache_arrays(mean=np.zeros(2)))),
    ".npz with a zero std": ("w.npz", npz_bytes(**cache_arrays(std=np.zeros(3)))),
}


@pytest.mark.parametrize("case", DAMAGED_WEIGHTS)
def test_every_failure_to_read_a_weights_file_is_one_user_error_naming_it(tmp_path, case):
  name, content = DAMAGED_WEIGHTS[case]
  path = tmp_path / name
  if callable(content):
    content(path)
  else:
    path.write_bytes(content)
  with pytest.raises(UserError) as error:
    weights.load_vgg("vgg19", str(path))
  assert str(path) in str(error.value)


@pytest.mark.parametrize("exception", [struct.error("bad tag"), EOFError(), TypeError("x"), AttributeError("y"),
                                       KeyError("z"), IndexError("w"), MemoryError(), RecursionError("deep"),
                                       ZeroDivisionError("tile")])
@pytest.mark.parametrize("read", [images.load_image, mask_files.load_segmentation])
def test_whatever_an_image_decoder_raises_is_one_user_error_naming_the_file(tmp_path, monkeypatch, exception,
                                                                           read):
  """Pillow's decoders and EXIF parser raise many types on crafted files; each one is injected here."""
  path = tmp_path / "photo.png"
  Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)

  def fail(*_, **__):
    raise exception

  monkeypatch.setattr(PIL.ImageOps, "exif_transpose", fail)
  with pytest.raises(UserError, match=f"corrupt or unreadable image: {path} \\({type(exception).__name__}"):
    read(str(path))
