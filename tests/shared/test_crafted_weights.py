"""Crafted .pth files read no memory outside their tensors' storages and allocate nothing from a claimed count:
every size, stride, offset and element count is checked against the bytes in the file before an array is made.

Without these checks the first case crashed the process (SIGSEGV), smaller claims read past the buffer, and a
huge legacy storage count was a MemoryError (issue 23).
"""

import zipfile

import numpy as np
import pytest

from stylejax.errors import UserError
from stylejax.io import weights
from tests.shared import torch_files

NAME = "features.0.weight"
FOUR_FLOATS = np.arange(4, dtype=np.float32).tobytes()  # the storage of every case: 16 bytes


def tensor(offset=0, size=(4,), stride=(1,), key="0"):
  return {NAME: torch_files.Tensor(torch_files.Storage(key, 4), offset, size, stride)}


# (tensor, what the error says); each is written in both formats over FOUR_FLOATS.
OUT_OF_BOUNDS = {
    "2**26 elements over 16 bytes": (tensor(size=(2 ** 26,)), "claims 67108864 elements"),
    "one element past the end": (tensor(size=(5,)), "claims 5 elements up to element 4 of a storage of 4"),
    "offset beyond the storage": (tensor(offset=4, size=(1,)), "up to element 4 of a storage of 4"),
    "offset and size past the end": (tensor(offset=2, size=(3,)), "up to element 4"),
    "strides past the end": (tensor(size=(2, 2), stride=(3, 1)), "up to element 4"),
    "a huge stride on a long axis": (tensor(size=(2,), stride=(2 ** 62,)), "up to element 4611686018427387904"),
    "stride 0 expanding 16 bytes to 2**60 elements": (tensor(size=(2 ** 30, 2 ** 30), stride=(0, 0)),
                                                      "claims 1152921504606846976 elements"),
    "negative stride": (tensor(offset=3, size=(2,), stride=(-1,)), "must be whole numbers >= 0"),
    "negative size": (tensor(size=(-1,)), "must be whole numbers >= 0"),
    "negative offset": (tensor(offset=-1, size=(1,)), "must be whole numbers >= 0"),
    "sizes that are not numbers": (tensor(size=("4",)), "must be whole numbers >= 0"),
    "fewer strides than sizes": (tensor(size=(2, 2), stride=(1,)), "one stride per size"),
}


def write(kind, path, tree):
  if kind == "zip":
    return str(torch_files.write_zip(path, tree, {"0": FOUR_FLOATS}))
  return str(torch_files.write_legacy(path, tree, {"0": (4, FOUR_FLOATS)}))


@pytest.mark.parametrize("kind", ["zip", "legacy"])
@pytest.mark.parametrize("case", OUT_OF_BOUNDS)
def test_a_tensor_reaching_outside_its_storage_is_refused_before_any_array_is_made(tmp_path, kind, case):
  tree, message = OUT_OF_BOUNDS[case]
  path = write(kind, tmp_path / "crafted.pth", tree)
  with pytest.raises(UserError, match=message) as error:
    weights.read_weights(path)
  assert str(error.value).startswith(f"{path}: tensor '{NAME}'")


@pytest.mark.parametrize("storages, keys, message", [
    ({"0": (2 ** 40, FOUR_FLOATS)}, None, "storage 0 claims 1099511627776 elements .* but 16 bytes are left"),
    ({"0": (5, FOUR_FLOATS)}, None, "storage 0 claims 5 elements .* but 16 bytes are left"),
    ({"0": (-1, FOUR_FLOATS)}, None, "storage 0 claims -1 elements"),
    ({"0": (2 ** 62, FOUR_FLOATS)}, None, "storage 0 claims 4611686018427387904 elements"),
    ({"0": (4, FOUR_FLOATS)}, ["0", "1"], "its storage list does not match its tensors"),
    ({"0": (4, FOUR_FLOATS)}, {"0": 1}, "its storage list does not match its tensors"),
    ({"0": (4, FOUR_FLOATS)}, [], f"tensor '{NAME}': its storage is not in the file"),
])
def test_a_legacy_storage_count_larger_than_the_bytes_left_is_refused_before_reading(tmp_path, storages, keys,
                                                                                      message):
  path = str(torch_files.write_legacy(tmp_path / "crafted.pth", tensor(), storages, keys))
  with pytest.raises(UserError, match=message) as error:
    weights.read_weights(path)
  assert str(error.value).startswith(path)


@pytest.mark.parametrize("tree, storages, compression, message", [
    (tensor(size=(2 ** 18,)), {"0": bytes(2 ** 20)}, zipfile.ZIP_DEFLATED,  # a decompression bomb
     r"its members claim \d+ bytes uncompressed, more than the file's"),
    (tensor(key="9"), {"0": FOUR_FLOATS}, zipfile.ZIP_STORED, f"tensor '{NAME}': its storage is not in the file"),
])
def test_a_zip_claiming_bytes_it_does_not_hold_is_refused(tmp_path, tree, storages, compression, message):
  path = str(torch_files.write_zip(tmp_path / "crafted.pth", tree, storages, compression))
  with pytest.raises(UserError, match=message) as error:
    weights.read_weights(path)
  assert str(error.value).startswith(path)


@pytest.mark.parametrize("kind", ["zip", "legacy"])
def test_views_inside_their_storage_still_read(tmp_path, kind):
  """Offsets, transposed strides, an exact fit and empty tensors are what real files hold."""
  tree = {"view": torch_files.Tensor(torch_files.Storage("0", 4), 1, (2, 2), (1, 1)),
          "transposed": torch_files.Tensor(torch_files.Storage("0", 4), 0, (2, 2), (1, 2)),
          "empty": torch_files.Tensor(torch_files.Storage("0", 4), 4, (0, 3), (3, 1))}
  state = weights.read_torch_state_dict(write(kind, tmp_path / "views.pth", tree))
  np.testing.assert_array_equal(state["view"], [[1, 2], [2, 3]])
  np.testing.assert_array_equal(state["transposed"], [[0, 2], [1, 3]])
  assert state["empty"].shape == (0, 3) and all(a.dtype == np.float32 for a in state.values())
