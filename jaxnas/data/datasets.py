"""Image classification datasets as arrays: CIFAR-10/100, ImageNet16-120, MNIST, Fashion-MNIST.

``load_dataset(name, path, split)`` reads the standard on-disk format of a dataset and returns a
:class:`Dataset` pytree of host numpy arrays, ``images: f32[N, H, W, C]`` (NHWC) normalised with the
NAS-Bench-201 per-channel mean/std and ``labels: int32[N]``. Move it to the accelerator once with
``jax.device_put(data)`` and gather batches inside a jitted step (``data[idx]``); see
:mod:`jaxnas.data.batching` and :mod:`jaxnas.data.augment`.

Splits:

* ``"train"`` / ``"test"``: the official sets (ImageNet16-120 "test" is the ``val_data`` file, the
  only held-out set it has).
* ``"search_train"`` / ``"search_valid"``: the two halves of the training set used by bilevel
  (one-shot) search and by NB201's ``cifar10-valid`` setting (train on one half, validate on the
  other). NB201 fixes this split with a file we do not ship (``cifar-split.txt``); jaxnas uses a
  seeded, class-balanced split instead (:func:`split_indices`), so the halves are the same for the
  same seed on every machine but are not NB201's exact halves.

Normalisation constants are NB201's (``get_datasets`` in AutoDL-Projects'
``xautodl/datasets/get_dataset_with_transform.py``); MNIST and Fashion-MNIST (not in NB201) use the
pixel mean/std of their 60,000 training images (Fashion-MNIST: 0.2860 / 0.3530, measured on the
shared copy; MNIST: the usual 0.1307 / 0.3081), the same value on every channel.

The pickle formats are read with an unpickler that only rebuilds dicts, lists and numpy arrays, so
a tampered file fails with an error instead of running code.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import paths
from jaxnas.data import _readers

SPLITS: tuple[str, ...] = ("train", "test", "search_train", "search_valid")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """Static description of one dataset: its files, shapes, statistics and where to get it."""

  name: str
  title: str  # human name used in messages
  format: str  # "cifar", "imagenet16" or "idx"
  num_classes: int
  image_shape: tuple[int, int, int]  # (H, W, C) as stored
  mean: tuple[float, ...]  # per stored channel, on [0, 1] pixels
  std: tuple[float, ...]
  train_files: tuple[str, ...]
  test_files: tuple[str, ...]
  train_size: int  # examples in the official train / test split (after class filtering)
  test_size: int
  subfolders: tuple[str, ...]  # looked for under a given path, e.g. "cifar-10-batches-py"
  how_to_get: str
  label_keys: tuple[str, ...] = ("labels",)

  def files(self, split: str) -> tuple[str, ...]:
    """The files that hold ``split`` ("train" / "test"; the search splits come from "train")."""
    return self.test_files if split == "test" else self.train_files

  def default_roots(self) -> tuple[pathlib.Path, ...]:
    """Folders searched when no path is given, in order."""
    shared = paths.shared_data_dir() / "images"
    torch_home = pathlib.Path(os.environ.get("TORCH_HOME", pathlib.Path.home() / ".torch"))
    if self.format == "idx":
      dashed = self.name.replace("_", "-")
      return (shared / self.name, pathlib.Path("/usr/share/datasets") / dashed)
    # NB201 keeps CIFAR and ImageNet16 under $TORCH_HOME/cifar.python.
    return (shared / self.name, shared, torch_home / "cifar.python")


def _div255(xs: Sequence[float]) -> tuple[float, ...]:
  return tuple(x / 255 for x in xs)


def _idx_names(prefix: str) -> tuple[str, str]:
  return (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")


_CIFAR_SITE = "the CIFAR website (Krizhevsky, https://www.cs.toronto.edu/~kriz/cifar.html)"

DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec(
        name="cifar10", title="CIFAR-10", format="cifar", num_classes=10, image_shape=(32, 32, 3),
        mean=_div255([125.3, 123.0, 113.9]), std=_div255([63.0, 62.1, 66.7]),
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)), test_files=("test_batch",),
        train_size=50_000, test_size=10_000, subfolders=("cifar-10-batches-py",),
        how_to_get=(f"download cifar-10-python.tar.gz from {_CIFAR_SITE}, extract it, and pass "
                    "path=/path/to/cifar-10-batches-py (config: data.path=...)")),
    "cifar100": DatasetSpec(
        name="cifar100", title="CIFAR-100", format="cifar", num_classes=100,
        image_shape=(32, 32, 3), mean=_div255([129.3, 124.1, 112.4]),
        std=_div255([68.2, 65.4, 70.4]), train_files=("train",), test_files=("test",),
        train_size=50_000, test_size=10_000, subfolders=("cifar-100-python",),
        label_keys=("fine_labels",),
        how_to_get=(f"download cifar-100-python.tar.gz from {_CIFAR_SITE}, extract it, and pass "
                    "path=/path/to/cifar-100-python (config: data.path=...)")),
    "imagenet16-120": DatasetSpec(
        name="imagenet16-120", title="ImageNet16-120", format="imagenet16", num_classes=120,
        image_shape=(16, 16, 3), mean=_div255([122.68, 116.66, 104.01]),
        std=_div255([63.22, 61.26, 65.09]),
        train_files=tuple(f"train_data_batch_{i}" for i in range(1, 11)), test_files=("val_data",),
        train_size=151_700, test_size=6_000,
        subfolders=("ImageNet16", "imagenet16", "ImageNet16-120"),
        how_to_get=("get the 16x16 Downsampled ImageNet pickles (Chrabaszcz et al. 2017, from "
                    "image-net.org: Imagenet16_train.zip and Imagenet16_val.zip, or the "
                    "ImageNet16 folder of the NAS-Bench-201 release), put them in one folder and "
                    "pass path=/path/to/ImageNet16 (config: data.path=...)")),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist", title="Fashion-MNIST", format="idx", num_classes=10,
        image_shape=(28, 28, 1), mean=(0.2860406,), std=(0.3530242,),
        train_files=_idx_names("train"), test_files=_idx_names("t10k"),
        train_size=60_000, test_size=10_000,
        subfolders=("fashion_mnist", "fashion-mnist", "FashionMNIST/raw"),
        how_to_get=("get train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from the "
                    "Fashion-MNIST repository (github.com/zalandoresearch/fashion-mnist, "
                    "data/fashion) or the Debian/Ubuntu package fashion-mnist, and pass "
                    "path=/path/to/that/folder")),
    "mnist": DatasetSpec(
        name="mnist", title="MNIST", format="idx", num_classes=10, image_shape=(28, 28, 1),
        mean=(0.1306605,), std=(0.3081078,),
        train_files=_idx_names("train"), test_files=_idx_names("t10k"),
        train_size=60_000, test_size=10_000, subfolders=("mnist", "MNIST/raw"),
        how_to_get=("get train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (the MNIST database, "
                    "LeCun et al.) and pass path=/path/to/that/folder")),
}

_ALIASES = {
    "cifar-10": "cifar10", "cifar-100": "cifar100", "imagenet16": "imagenet16-120",
    "imagenet16_120": "imagenet16-120", "imagenet-16-120": "imagenet16-120",
    "fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist", "fmnist": "fashion_mnist",
}


def get_spec(name: str) -> DatasetSpec:
  """The :class:`DatasetSpec` of ``name`` (case-insensitive; a few common aliases accepted).

  Raises:
    ValueError: listing the valid names when ``name`` is unknown.
  """
  key = str(name).lower()
  key = _ALIASES.get(key, key)
  if key in DATASETS:
    return DATASETS[key]
  hint = ""
  if key == "cifar10-valid":
    hint = (" (NB201's 'cifar10-valid' is the CIFAR-10 training set split in halves: use name="
            "'cifar10' with split='search_train' / 'search_valid')")
  raise ValueError(f"unknown dataset {name!r}{hint}; valid names: {', '.join(DATASETS)}")


# ----------------------------------------------------------------------------- the array pytree


@flax.struct.dataclass
class Dataset:
  """A labelled image set as arrays (host numpy from the loaders; any arrays after ``device_put``).

  Indexing gathers examples and works under jit: ``data[idx]`` with ``idx: int32[B]`` is a batch.
  """

  images: jax.Array  # [N, H, W, C] float32 normalised (uint8 when loaded with normalize=False)
  labels: jax.Array  # [N] int32 in [0, num_classes)
  name: str = flax.struct.field(pytree_node=False, default="")
  num_classes: int = flax.struct.field(pytree_node=False, default=0)
  mean: tuple[float, ...] = flax.struct.field(pytree_node=False, default=())  # per channel, or ()
  std: tuple[float, ...] = flax.struct.field(pytree_node=False, default=())  # () when raw

  def __len__(self) -> int:
    return int(self.labels.shape[0])

  def __getitem__(self, idx) -> "Dataset":
    return self.replace(images=self.images[idx], labels=self.labels[idx])

  @property
  def black(self) -> np.ndarray:
    """The value of a black (all-zero) pixel after normalisation, ``f32[C]``: the pad value that
    matches torchvision's ``RandomCrop(padding=...)`` on NB201's normalised inputs."""
    if not self.mean:
      return np.zeros(self.images.shape[-1], np.float32)
    return (-np.asarray(self.mean) / np.asarray(self.std)).astype(np.float32)


def normalize(images, mean: Sequence[float], std: Sequence[float]):
  """``(images / 255 - mean) / std`` per channel in float32, on numpy or (under jit) jax arrays.

  Args:
    images: ``[..., C]`` pixels on the 0..255 scale (uint8 or float).
    mean: per-channel mean of ``[0, 1]`` pixels (length ``C``).
    std: per-channel standard deviation of ``[0, 1]`` pixels (length ``C``).

  Returns:
    float32 array of the shape of ``images``.
  """
  mean = np.asarray(mean, np.float32)
  std = np.asarray(std, np.float32)
  if isinstance(images, jax.Array):
    return (images.astype(jnp.float32) / np.float32(255) - mean) / std
  images = np.asarray(images)
  if images.dtype == np.uint8:
    # A 256-entry table per channel: one gather instead of three full-size temporaries, which
    # dominate the load time of a 60,000-image set on a small machine.
    table = (np.arange(256, dtype=np.float32)[:, None] / np.float32(255) - mean) / std  # [256, C]
    if table.shape[1] == 1:
      return table[:, 0][images]
    if images.shape[-1] != table.shape[1]:
      raise ValueError(f"normalize: {images.shape[-1]} channels but {table.shape[1]} means")
    out = np.empty(images.shape, np.float32)
    for c in range(images.shape[-1]):
      out[..., c] = table[:, c][images[..., c]]
    return out
  out = images.astype(np.float32)  # a copy: the in-place ops below leave the input untouched
  out /= np.float32(255)
  out -= mean
  out /= std
  return out


_normalize = normalize  # load_dataset's ``normalize`` argument shadows the function


# ----------------------------------------------------------------------------- the NB201 split


def split_indices(labels, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Seeded, class-balanced split of a training set into two halves (bilevel search / NB201
  ``cifar10-valid`` semantics).

  Each class is shuffled with ``np.random.default_rng(seed)`` and dealt alternately to the two
  halves, so every class is split as evenly as possible and the halves differ in size by at most
  one example. NB201 uses a fixed split file instead (not shipped), so the halves are not NB201's.

  Args:
    labels: ``int[N]`` class labels.
    seed: split seed; the same seed gives the same halves everywhere.

  Returns:
    ``(first, second)``: disjoint sorted ``int32`` index arrays covering ``0..N-1``.
  """
  labels = np.asarray(labels)
  if labels.ndim != 1:
    raise ValueError(f"split_indices needs labels of shape [N], got {list(labels.shape)}")
  perm = np.random.default_rng(seed).permutation(labels.shape[0])
  # Stable sort by label keeps the random order within each class; dealing positions alternately
  # then splits every class in halves and carries an odd leftover to the other half next class.
  order = perm[np.argsort(labels[perm], kind="stable")]
  first, second = np.sort(order[0::2]), np.sort(order[1::2])
  return first.astype(np.int32), second.astype(np.int32)


# ----------------------------------------------------------------------------- locating files


def _file_candidates(spec: DatasetSpec, name: str) -> tuple[str, ...]:
  if spec.format != "idx":
    return (name,)
  # IDX files come gzipped or raw, and some mirrors spell "-idx3" as ".idx3".
  dotted = name.replace("-idx", ".idx")
  return (name + ".gz", name, dotted + ".gz", dotted)


def _find_files(spec: DatasetSpec, folder: pathlib.Path, split: str):
  """The path of each file of ``split`` in ``folder`` (None where missing)."""
  found = []
  for name in spec.files(split):
    hit = next((folder / c for c in _file_candidates(spec, name) if (folder / c).is_file()), None)
    found.append(hit)
  return found


def _describe_files(spec: DatasetSpec, split: str) -> str:
  names = spec.files(split)
  if spec.format == "idx":
    return ", ".join(f"{n}[.gz]" for n in names)
  if len(names) > 2 and names[0].endswith("_1"):
    return f"{names[0]}..{names[-1].rsplit('_', 1)[-1]}"
  return ", ".join(names)


def detect_formats(folder) -> list[str]:
  """Names of the datasets whose training or test files are all present in ``folder``."""
  folder = pathlib.Path(folder)
  hits = []
  for spec in DATASETS.values():
    if any(all(_find_files(spec, folder, s)) for s in ("train", "test")):
      hits.append(spec.name)
  # MNIST and Fashion-MNIST share file names: report them as one format.
  if "fashion_mnist" in hits and "mnist" in hits:
    hits.remove("mnist")
    hits[hits.index("fashion_mnist")] = "fashion_mnist or mnist"
  return hits


def _format_list() -> str:
  return ("CIFAR-10 python batches (data_batch_1..5, test_batch), CIFAR-100 python (train, test), "
          "ImageNet16 pickles (train_data_batch_1..10, val_data), IDX (train/t10k-images-idx3-ubyte"
          "[.gz], train/t10k-labels-idx1-ubyte[.gz])")


def locate(spec: DatasetSpec, path, split: str) -> list[pathlib.Path]:
  """Finds the files of ``split`` under ``path`` (or the default roots when ``path`` is None).

  ``path`` may be the folder that holds the files or a folder above it holding one of
  ``spec.subfolders``.

  Returns:
    The file paths, in ``spec.files(split)`` order.

  Raises:
    FileNotFoundError: naming the folders searched, the files expected, the formats found there
      instead (if any) and how to get the data.
  """
  expected = _describe_files(spec, split)
  if path is None or str(path) == "":
    roots = spec.default_roots()
    where = "the default locations " + ", ".join(str(r) for r in roots)
  else:
    root = pathlib.Path(os.path.expanduser(str(path)))
    if not root.exists():
      raise FileNotFoundError(
          f"{spec.title} data not found: {root} does not exist (expected a folder with "
          f"{expected}). To get the data: {spec.how_to_get}")
    if root.is_file():
      raise FileNotFoundError(
          f"{spec.title} path {root} is a file; pass the folder that holds {expected} (extract "
          f"an archive first). To get the data: {spec.how_to_get}")
    roots = (root,)
    where = str(root)
  folders = [r / s for r in roots for s in ("",) + spec.subfolders]
  folders = [f for f in dict.fromkeys(folders) if f.is_dir()]
  partial = None
  for folder in folders:
    found = _find_files(spec, folder, split)
    if all(found):
      return found
    if any(found) and partial is None:
      missing = [n for n, f in zip(spec.files(split), found) if f is None]
      partial = f"{folder} has some {spec.title} files but misses {', '.join(missing)}"
  if partial:
    raise FileNotFoundError(
        f"incomplete {spec.title} data: {partial}. To get the data: {spec.how_to_get}")
  others = sorted({h for f in folders for h in detect_formats(f)} - {spec.name})
  if others:
    found_msg = f"found {' and '.join(others)} data there instead (pass that dataset name)"
  elif folders:
    found_msg = f"found none of the formats jaxnas reads there (tried: {_format_list()})"
  else:
    found_msg = "none of these folders exists"
  raise FileNotFoundError(
      f"no {spec.title} {split} files in {where} (nor in a subfolder named "
      f"{' / '.join(spec.subfolders)}): expected {expected}; {found_msg}. To get the data: "
      f"{spec.how_to_get}")


# ----------------------------------------------------------------------------- reading


def _read_split(spec: DatasetSpec, files: list[pathlib.Path], limit: int):
  """Reads and concatenates ``files``; stops early once ``limit`` (> 0) examples are read."""
  if spec.format == "idx":
    return _read_idx_pair(spec, files[0], files[1])
  size = spec.image_shape[0]
  images, labels, count = [], [], 0
  for f in files:
    x, y = _readers.read_channel_major_pickle(f, size, spec.label_keys)
    if spec.format == "imagenet16":
      if y.size and (y.min() < 1 or y.max() > 1000):
        raise ValueError(f"corrupt ImageNet16 file {f}: labels should be 1..1000, got "
                         f"{int(y.min())}..{int(y.max())}")
      # NB201's ImageNet16-120 keeps the first 120 classes (stored labels 1..120) and shifts them
      # to 0..119 (``ImageNet16(..., use_num_of_class_only=120)``).
      keep = y <= spec.num_classes
      x, y = x[keep], y[keep] - 1
    elif y.size and (y.min() < 0 or y.max() >= spec.num_classes):
      raise ValueError(f"corrupt {spec.title} file {f}: labels should be 0..{spec.num_classes - 1}"
                       f", got {int(y.min())}..{int(y.max())}")
    images.append(x)
    labels.append(y)
    count += len(y)
    if 0 < limit <= count:
      break
  return np.concatenate(images), np.concatenate(labels)


def _read_idx_pair(spec: DatasetSpec, image_file: pathlib.Path, label_file: pathlib.Path):
  x = _readers.read_idx(image_file)
  y = _readers.read_idx(label_file)
  h, w, _ = spec.image_shape
  if x.ndim != 3 or x.shape[1:] != (h, w) or x.dtype != np.uint8:
    raise ValueError(f"corrupt {spec.title} image file {image_file}: expected uint8 [N, {h}, {w}], "
                     f"got {x.dtype} {list(x.shape)}")
  if y.ndim != 1 or y.shape[0] != x.shape[0]:
    raise ValueError(f"corrupt {spec.title} label file {label_file}: expected [{x.shape[0]}] "
                     f"labels to match {image_file.name}, got {list(y.shape)}")
  if y.size and (y.min() < 0 or y.max() >= spec.num_classes):
    raise ValueError(f"corrupt {spec.title} label file {label_file}: labels should be "
                     f"0..{spec.num_classes - 1}, got {int(y.min())}..{int(y.max())}")
  return x[..., None], y.astype(np.int64)


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
  """Linear interpolation weights ``f32[n_out, n_in]`` of ``jax.image.resize(..., "linear")``.

  Half-pixel centres, a triangle kernel widened by ``n_in / n_out`` when shrinking (antialiasing)
  and rows renormalised where the kernel leaves the image, as ``jax.image.scale_and_translate``.
  """
  scale = n_out / n_in
  width = max(1.0, 1.0 / scale)
  centre = (np.arange(n_out) + 0.5) / scale - 0.5  # [n_out] source coordinate of each output pixel
  w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centre[:, None]) / width)
  return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """Bilinear resize of host images ``[N, H, W, C]``, equal to ``jax.image.resize(..., "linear")``
  (antialiased when shrinking) but done with two matrix products on the host.

  Returns:
    float32 ``[N, size[0], size[1], C]`` on the input's scale.
  """
  n, h, w, c = images.shape
  (oh, ow), rh, rw = size, _resize_matrix(h, size[0]), _resize_matrix(w, size[1])
  # Two 2-D matmuls over rows are several times faster than a 4-D einsum/tensordot here.
  x = np.moveaxis(images, 3, 1).astype(np.float32).reshape(-1, w) @ rw.T  # [N*C*H, OW]
  x = np.swapaxes(x.reshape(n * c, h, ow), 1, 2).reshape(-1, h) @ rh.T  # [N*C*OW, OH]
  return np.ascontiguousarray(x.reshape(n, c, ow, oh).transpose(0, 3, 2, 1))


def _check_args(split, max_examples, image_size, channels):
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
  if not isinstance(max_examples, (int, np.integer)) or max_examples < 0:
    raise ValueError(f"max_examples must be an int >= 0 (0 = all), got {max_examples!r}")
  if image_size is not None:
    size = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(
        image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
      raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    image_size = (int(size[0]), int(size[1]))
  if channels not in (None, 1, 3):
    raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
  return image_size


def load_dataset(name: str, path=None, split: str = "train", *, max_examples: int = 0,
                 image_size=None, channels: int | None = None, normalize: bool = True,
                 seed: int = 0) -> Dataset:
  """Loads an image dataset from its standard files as a :class:`Dataset` of host arrays.

  Args:
    name: ``cifar10``, ``cifar100``, ``imagenet16-120``, ``fashion_mnist`` or ``mnist``.
    path: the folder holding the files, or a folder above it (e.g. holding
      ``cifar-10-batches-py``). None searches ``<shared data>/images/<name>``, then for CIFAR and
      ImageNet16 ``<shared data>/images`` and ``$TORCH_HOME/cifar.python`` (NB201's layout), for
      the IDX datasets ``/usr/share/datasets/<name with dashes>`` (e.g. ``fashion-mnist``).
    split: ``train``, ``test``, ``search_train`` or ``search_valid`` (halves of the training set,
      see :func:`split_indices`).
    max_examples: keep only the first ``max_examples`` examples of the split (file order); 0 keeps
      all. ``train`` / ``test`` then read only the files they need.
    image_size: resize to ``(H, W)`` (an int means square) with bilinear interpolation, e.g. 32
      for Fashion-MNIST into a CIFAR-sized network. None keeps the stored size.
    channels: 3 replicates a grayscale image to RGB; None (or the stored count) keeps it.
    normalize: True returns float32 normalised with the dataset's mean/std; False returns the raw
      0..255 pixels as uint8 (rounded after a resize) to normalise later on device with
      :func:`normalize` (4x less memory).
    seed: the seed of the ``search_*`` split.

  Returns:
    ``Dataset(images [N, H, W, C], labels int32 [N])`` with ``num_classes``, ``mean`` and ``std``
    (per output channel; empty when ``normalize=False``).

  Raises:
    ValueError: unknown name or split, bad arguments, or a corrupt file (naming it).
    FileNotFoundError: missing files, naming the folders searched and how to get the data.
  """
  spec = get_spec(name)
  image_size = _check_args(split, max_examples, image_size, channels)
  stored_c = spec.image_shape[2]
  if channels is not None and channels != stored_c and stored_c != 1:
    raise ValueError(f"{spec.title} images have {stored_c} channels; cannot make {channels}")
  file_split = "test" if split == "test" else "train"
  files = locate(spec, path, file_split)
  limit = max_examples if split in ("train", "test") else 0
  images, labels = _read_split(spec, files, limit)
  if split.startswith("search_"):
    halves = split_indices(labels, seed)
    keep = halves[0] if split == "search_train" else halves[1]
    images, labels = images[keep], labels[keep]
  if max_examples:
    images, labels = images[:max_examples], labels[:max_examples]
  mean, std = spec.mean, spec.std
  if normalize:
    # Before the resize: the uint8 table lookup is the fast path, and a linear resize (weights sum
    # to one) commutes with the per-channel affine normalisation.
    images = _normalize(images, mean, std)
  if image_size is not None and image_size != images.shape[1:3]:
    images = resize(images, image_size)
    if not normalize:
      images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
  if channels is not None and channels != stored_c:
    # Replicated last: resizing and normalising one channel is a third of the work.
    images = np.repeat(images, channels, axis=-1)
    mean, std = mean * channels, std * channels
  if not normalize:
    mean, std = (), ()
  return Dataset(images=np.ascontiguousarray(images), labels=labels.astype(np.int32),
                 name=spec.name, num_classes=spec.num_classes, mean=mean, std=std)
