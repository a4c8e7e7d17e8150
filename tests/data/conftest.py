"""Writers of tiny dataset files in the real on-disk formats (CIFAR-10/100 python batches,
ImageNet16 pickles, IDX), so loaders can be checked for exact round trips without the real data."""

from __future__ import annotations

import gzip
import pathlib
import pickle

import numpy as np
import pytest


def to_rows(images: np.ndarray) -> np.ndarray:
  """NHWC uint8 -> the formats' channel-major rows ``[N, 3*H*W]`` (R plane, G plane, B plane)."""
  return images.transpose(0, 3, 1, 2).reshape(images.shape[0], -1)


def write_pickle(path: pathlib.Path, obj, protocol: int = 2) -> None:
  with open(path, "wb") as f:
    pickle.dump(obj, f, protocol=protocol)


def write_idx(path: pathlib.Path, arr: np.ndarray) -> None:
  """Writes a uint8 IDX file (gzipped when the name ends in .gz)."""
  header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
  payload = header + np.ascontiguousarray(arr, np.uint8).tobytes()
  path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


def random_images(rng, n: int, size: int) -> np.ndarray:
  return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.fixture
def cifar10_dir(tmp_path):
  """``cifar-10-batches-py`` with 5 train batches of 3 images and a test batch of 4.

  Returns (folder, train_images, train_labels, test_images, test_labels) with NHWC uint8 images.
  Keys are bytes, as in the real (Python 2) files.
  """
  rng = np.random.default_rng(0)
  folder = tmp_path / "cifar-10-batches-py"
  folder.mkdir()
  xs, ys = [], []
  for i in range(1, 6):
    x, y = random_images(rng, 3, 32), rng.integers(0, 10, 3)
    write_pickle(folder / f"data_batch_{i}", {b"batch_label": b"training batch", b"labels": list(
        map(int, y)), b"data": to_rows(x), b"filenames": [b"a.png"] * 3})
    xs.append(x)
    ys.append(y)
  xt, yt = random_images(rng, 4, 32), rng.integers(0, 10, 4)
  write_pickle(folder / "test_batch", {b"labels": list(map(int, yt)), b"data": to_rows(xt)})
  write_pickle(folder / "batches.meta", {b"label_names": [b"airplane"] * 10})
  return folder, np.concatenate(xs), np.concatenate(ys), xt, yt


@pytest.fixture
def cifar100_dir(tmp_path):
  """``cifar-100-python`` with train (6 images) and test (2); fine labels 0..99, coarse 0..19."""
  rng = np.random.default_rng(1)
  folder = tmp_path / "cifar-100-python"
  folder.mkdir()
  out = [folder]
  for name, n in (("train", 6), ("test", 2)):
    x, fine = random_images(rng, n, 32), rng.integers(0, 100, n)
    write_pickle(folder / name, {b"data": to_rows(x), b"fine_labels": list(map(int, fine)),
                                 b"coarse_labels": list(map(int, fine // 5))})
    out += [x, fine]
  write_pickle(folder / "meta", {b"fine_label_names": [b"x"] * 100})
  return tuple(out)


@pytest.fixture
def imagenet16_dir(tmp_path):
  """``ImageNet16`` with 10 train batches of 8 images and val_data of 10; labels 1-based in
  1..1000 with a guaranteed mix of kept (<= 120) and dropped (> 120) classes. Keys are str."""
  rng = np.random.default_rng(2)
  folder = tmp_path / "ImageNet16"
  folder.mkdir()

  def labels(n):
    y = rng.integers(1, 1001, n)
    y[:3] = (1, 120, 121)  # both edges of the kept range and the first dropped class
    return y

  xs, ys = [], []
  for i in range(1, 11):
    x, y = random_images(rng, 8, 16), labels(8)
    write_pickle(folder / f"train_data_batch_{i}", {"data": to_rows(x), "labels": list(
        map(int, y)), "mean": np.zeros(768)})
    xs.append(x)
    ys.append(y)
  xv, yv = random_images(rng, 10, 16), labels(10)
  write_pickle(folder / "val_data", {"data": to_rows(xv), "labels": list(map(int, yv))})
  return folder, np.concatenate(xs), np.concatenate(ys), xv, yv


@pytest.fixture
def idx_dir(tmp_path):
  """An MNIST-layout folder: 12 train and 5 test 28x28 images; train gzipped, test raw."""
  rng = np.random.default_rng(3)
  folder = tmp_path / "idx"
  folder.mkdir()
  x, y = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 10, 12)
  xt, yt = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), rng.integers(0, 10, 5)
  write_idx(folder / "train-images-idx3-ubyte.gz", x)
  write_idx(folder / "train-labels-idx1-ubyte.gz", y.astype(np.uint8))
  write_idx(folder / "t10k-images-idx3-ubyte", xt)
  write_idx(folder / "t10k-labels-idx1-ubyte", yt.astype(np.uint8))
  return folder, x, y, xt, yt


@pytest.fixture(scope="session")
def fmnist_labels(shared_data):
  """The 60,000 real Fashion-MNIST training labels (skips without the shared data)."""
  from jaxnas.data import _readers
  folder = shared_data / "images" / "fashion_mnist"
  return _readers.read_idx(folder / "train-labels-idx1-ubyte.gz").astype(np.int64)
