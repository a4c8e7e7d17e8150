"""Raw readers for the on-disk image formats: CIFAR python pickles, ImageNet16 pickles and IDX.

Every reader returns host arrays ``images: uint8[N, H, W, C]`` (NHWC) and ``labels: int64[N]``
exactly as stored (no normalisation, no label shifting); :mod:`jaxnas.data.datasets` does the rest.
Readers raise ``ValueError`` naming the file when a file is corrupt or has the wrong layout.
"""

from __future__ import annotations

import codecs
import gzip
import importlib
import pathlib
import pickle

import numpy as np

# ----------------------------------------------------------------------------- safe pickles

# The CIFAR and ImageNet16 files are pickles, and ``pickle.load`` runs whatever a file names. These
# formats only ever hold dicts, lists, strings, numbers and numpy arrays, so everything else is
# refused: a tampered or mislabelled file then fails with a clear error instead of running code.
_NUMPY_GLOBALS = frozenset({"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"})
# Python 3 pickles (protocol <= 2) rebuild ``bytes`` through ``_codecs.encode``; the rest are inert.
_OTHER_GLOBALS = {
    ("_codecs", "encode"): codecs.encode,
    ("builtins", "bytearray"): bytearray,
    ("__builtin__", "bytearray"): bytearray,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
}


class _SafeUnpickler(pickle.Unpickler):
  """Unpickler that resolves only the numpy globals needed to rebuild arrays."""

  def find_class(self, module: str, name: str):
    if module.split(".")[0] == "numpy" and name in _NUMPY_GLOBALS:
      # Pickles from numpy 1.x name ``numpy.core.*``, which numpy 2 moved to ``numpy._core.*``.
      if module.startswith("numpy.core") and hasattr(np, "_core"):
        module = "numpy._core" + module[len("numpy.core"):]
      return getattr(importlib.import_module(module), name)
    if (module, name) in _OTHER_GLOBALS:
      return _OTHER_GLOBALS[(module, name)]
    raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def load_pickle(path: pathlib.Path) -> dict:
  """Loads a (Python 2 or 3) dataset pickle holding a dict; keys come back as ``str``.

  Raises:
    ValueError: naming ``path`` when the file is not a readable pickle of a dict.
  """
  try:
    with open(path, "rb") as f:
      # latin1 is the documented way to read numpy arrays out of Python 2 pickles.
      obj = _SafeUnpickler(f, encoding="latin1").load()
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
          IndexError, KeyError, MemoryError) as e:
    raise ValueError(f"corrupt or unreadable dataset pickle {path}: {type(e).__name__}: {e}") from e
  if not isinstance(obj, dict):
    raise ValueError(f"corrupt dataset pickle {path}: expected a dict, got {type(obj).__name__}")
  return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _field(entry: dict, path: pathlib.Path, *names: str):
  for name in names:
    if name in entry:
      return entry[name]
  raise ValueError(
      f"corrupt dataset pickle {path}: no {' / '.join(repr(n) for n in names)} entry "
      f"(keys: {sorted(map(str, entry))})")


def read_channel_major_pickle(path: pathlib.Path, size: int, label_keys: tuple[str, ...]):
  """Reads one CIFAR / ImageNet16 pickle: ``data`` uint8 ``[N, 3*size*size]`` channel-major rows.

  Args:
    path: the pickle file.
    size: image height (= width).
    label_keys: accepted names of the label entry, first match wins.

  Returns:
    ``(images uint8[N, size, size, 3], labels int64[N])``, labels as stored.
  """
  entry = load_pickle(path)
  data = np.asarray(_field(entry, path, "data"))
  labels = np.asarray(_field(entry, path, *label_keys))
  row = 3 * size * size
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
    raise ValueError(
        f"corrupt dataset pickle {path}: 'data' should be uint8 [N, {row}] (3x{size}x{size} "
        f"channel-major rows), got {data.dtype} {list(data.shape)}")
  if labels.ndim != 1 or labels.shape[0] != data.shape[0] or not np.issubdtype(
      labels.dtype, np.integer):
    raise ValueError(
        f"corrupt dataset pickle {path}: {data.shape[0]} images but labels of shape "
        f"{list(labels.shape)} and dtype {labels.dtype}")
  # Rows are R plane, G plane, B plane; NHWC wants the channel last.
  images = data.reshape(-1, 3, size, size).transpose(0, 2, 3, 1)
  return np.ascontiguousarray(images), labels.astype(np.int64)


# ----------------------------------------------------------------------------- IDX

# IDX type codes (third magic byte) -> big-endian numpy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: pathlib.Path) -> np.ndarray:
  """Reads one IDX file (MNIST format), gzipped (``.gz``) or raw.

  Raises:
    ValueError: naming ``path`` when the magic number, dimensions or length are wrong.
  """
  try:
    if path.suffix == ".gz":
      with gzip.open(path, "rb") as f:
        buf = f.read()
    else:
      buf = path.read_bytes()
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise ValueError(f"corrupt IDX file {path}: {type(e).__name__}: {e}") from e
  if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
    raise ValueError(f"corrupt IDX file {path}: bad magic number {buf[:4].hex() or '(empty)'}")
  ndim = buf[3]
  header = 4 + 4 * ndim
  if ndim == 0 or len(buf) < header:
    raise ValueError(f"corrupt IDX file {path}: truncated header ({len(buf)} bytes)")
  shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
  dtype = np.dtype(_IDX_DTYPES[buf[2]])
  expected = header + int(np.prod(shape)) * dtype.itemsize
  if len(buf) != expected:
    raise ValueError(
        f"corrupt IDX file {path}: header says shape {list(shape)} ({expected} bytes) but the file "
        f"has {len(buf)} bytes")
  arr = np.frombuffer(buf, dtype, offset=header).reshape(shape)
  return arr.astype(dtype.newbyteorder("="), copy=False)
