"""Loaders: exact round trips through files in the real formats, and the real Fashion-MNIST."""

from __future__ import annotations

import numpy as np
import pytest

from jaxnas import data
from jaxnas.data.datasets import DATASETS


def _expected_norm(raw, name):
  spec = DATASETS[name]
  return (raw.astype(np.float64) / 255 - np.asarray(spec.mean)) / np.asarray(spec.std)


# ----------------------------------------------------------------------------- CIFAR-10


def test_cifar10_round_trip_exact(cifar10_dir):
  folder, x, y, xt, yt = cifar10_dir
  train = data.load_dataset("cifar10", folder, "train", normalize=False)
  test = data.load_dataset("cifar10", folder, "test", normalize=False)
  assert train.images.dtype == np.uint8 and train.images.shape == (15, 32, 32, 3)
  np.testing.assert_array_equal(train.images, x)
  np.testing.assert_array_equal(train.labels, y)
  assert train.labels.dtype == np.int32 and train.num_classes == 10 and train.name == "cifar10"
  np.testing.assert_array_equal(test.images, xt)
  np.testing.assert_array_equal(test.labels, yt)


def test_cifar_pixel_order_is_channel_major(tmp_path):
  # One image whose R, G, B planes are distinguishable and whose rows count up: the row-major
  # [3072] record must become image[row, col, channel] = plane[channel][row, col].
  import pickle
  folder = tmp_path / "c10"
  folder.mkdir()
  planes = np.stack([np.full((32, 32), v, np.uint8) for v in (10, 20, 30)])
  planes[0, 1, 2] = 200  # R plane, row 1, column 2
  row = planes.reshape(1, -1)
  for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    (folder / name).write_bytes(pickle.dumps({b"data": row, b"labels": [7]}, protocol=2))
  img = data.load_dataset("cifar10", folder, "test", normalize=False).images[0]
  assert tuple(img[0, 0]) == (10, 20, 30)
  assert img[1, 2, 0] == 200 and img[2, 1, 0] == 10


def test_cifar10_normalised_with_nb201_constants(cifar10_dir):
  folder, x, *_ = cifar10_dir
  train = data.load_dataset("cifar10", folder)
  assert train.images.dtype == np.float32
  np.testing.assert_allclose(train.images, _expected_norm(x, "cifar10"), rtol=0, atol=2e-6)
  np.testing.assert_allclose(train.mean, [125.3 / 255, 123.0 / 255, 113.9 / 255])
  np.testing.assert_allclose(train.std, [63.0 / 255, 62.1 / 255, 66.7 / 255])
  np.testing.assert_allclose(train.black, -np.asarray(train.mean) / np.asarray(train.std),
                             rtol=1e-6)


def test_parent_folder_and_max_examples(cifar10_dir):
  folder, x, y, *_ = cifar10_dir
  # A folder above cifar-10-batches-py works too; max_examples keeps the first examples.
  sub = data.load_dataset("cifar10", folder.parent, "train", max_examples=4, normalize=False)
  np.testing.assert_array_equal(sub.images, x[:4])
  np.testing.assert_array_equal(sub.labels, y[:4])


def test_max_examples_reads_only_the_files_it_needs(cifar10_dir):
  folder, x, *_ = cifar10_dir
  (folder / "data_batch_3").write_bytes(b"not a pickle")
  sub = data.load_dataset("cifar10", folder, "train", max_examples=6, normalize=False)
  np.testing.assert_array_equal(sub.images, x[:6])
  with pytest.raises(ValueError, match="data_batch_3"):
    data.load_dataset("cifar10", folder, "train", max_examples=7)


# ----------------------------------------------------------------------------- CIFAR-100


def test_cifar100_round_trip_fine_labels(cifar100_dir):
  folder, x, y, xt, yt = cifar100_dir
  train = data.load_dataset("cifar100", folder, "train", normalize=False)
  np.testing.assert_array_equal(train.images, x)
  np.testing.assert_array_equal(train.labels, y)
  assert train.num_classes == 100
  test = data.load_dataset("CIFAR-100", folder, "test")
  np.testing.assert_allclose(test.images, _expected_norm(xt, "cifar100"), atol=2e-6)
  np.testing.assert_array_equal(test.labels, yt)


# ----------------------------------------------------------------------------- ImageNet16-120


def test_imagenet16_keeps_120_classes_and_shifts_labels(imagenet16_dir):
  folder, x, y, xv, yv = imagenet16_dir
  train = data.load_dataset("imagenet16-120", folder, "train", normalize=False)
  keep = y <= 120
  assert 0 < keep.sum() < len(y)
  np.testing.assert_array_equal(train.images, x[keep])
  np.testing.assert_array_equal(train.labels, y[keep] - 1)
  assert train.labels.min() >= 0 and train.labels.max() <= 119 and train.num_classes == 120
  assert {0, 119} <= set(train.labels.tolist())
  val = data.load_dataset("ImageNet16-120", folder, "test")
  assert val.images.shape == (int((yv <= 120).sum()), 16, 16, 3)
  np.testing.assert_allclose(val.images, _expected_norm(xv[yv <= 120], "imagenet16-120"),
                             atol=2e-6)
  np.testing.assert_allclose(val.mean, np.array([122.68, 116.66, 104.01]) / 255)


def test_imagenet16_max_examples_counts_kept_images(imagenet16_dir):
  folder, x, y, *_ = imagenet16_dir
  sub = data.load_dataset("imagenet16-120", folder, max_examples=5, normalize=False)
  np.testing.assert_array_equal(sub.labels, (y[y <= 120] - 1)[:5])


# ----------------------------------------------------------------------------- IDX


def test_idx_round_trip_gz_and_raw(idx_dir):
  folder, x, y, xt, yt = idx_dir
  train = data.load_dataset("mnist", folder, "train", normalize=False)  # .gz files
  test = data.load_dataset("fashion_mnist", folder, "test", normalize=False)  # raw files
  np.testing.assert_array_equal(train.images[..., 0], x)
  np.testing.assert_array_equal(train.labels, y)
  np.testing.assert_array_equal(test.images, xt[..., None])
  np.testing.assert_array_equal(test.labels, yt)


def test_idx_resize_and_channels(idx_dir):
  import jax
  folder, x, *_ = idx_dir
  d = data.load_dataset("fashion_mnist", folder, image_size=32, channels=3)
  assert d.images.shape == (12, 32, 32, 3) and d.images.dtype == np.float32
  assert len(d.mean) == 3 and d.mean[0] == d.mean[2]
  np.testing.assert_array_equal(d.images[..., 0], d.images[..., 2])
  ref = jax.image.resize(x[..., None].astype(np.float32), (12, 32, 32, 1), "linear")
  np.testing.assert_allclose(d.images[..., :1], _expected_norm(np.asarray(ref), "fashion_mnist"),
                             atol=2e-5)
  raw = data.load_dataset("fashion_mnist", folder, image_size=(30, 20), normalize=False)
  assert raw.images.shape == (12, 30, 20, 1) and raw.images.dtype == np.uint8 and raw.mean == ()


def test_resize_matches_jax_image_resize():
  import jax
  x = np.random.default_rng(0).random((2, 28, 16, 3)).astype(np.float32)
  for size in ((32, 40), (14, 7)):  # up- and down-sampling (antialiased)
    ref = jax.image.resize(x, (2, *size, 3), "linear")
    np.testing.assert_allclose(data.resize(x, size), ref, atol=3e-6)


def test_normalize_on_device_equals_host():
  import jax
  x = np.random.default_rng(0).integers(0, 256, (4, 5, 5, 3), dtype=np.uint8)
  mean, std = DATASETS["cifar10"].mean, DATASETS["cifar10"].std
  host = data.normalize(x, mean, std)
  dev = jax.jit(lambda a: data.normalize(a, mean, std))(jax.numpy.asarray(x))
  np.testing.assert_allclose(host, dev, atol=1e-6)
  np.testing.assert_allclose(data.normalize(x.astype(np.float32), mean, std), host, atol=1e-6)


# ----------------------------------------------------------------------------- real Fashion-MNIST


@pytest.fixture(scope="module")
def fmnist_train_raw(shared_data):
  return data.load_dataset("fashion_mnist", shared_data / "images" / "fashion_mnist", "train",
                           normalize=False)


def test_real_fashion_mnist_train(fmnist_train_raw):
  d = fmnist_train_raw
  assert d.images.shape == (60_000, 28, 28, 1) and d.images.dtype == np.uint8
  assert d.labels.dtype == np.int32 and d.num_classes == 10
  np.testing.assert_array_equal(np.bincount(d.labels), [6000] * 10)
  np.testing.assert_array_equal(d.labels[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
  # Known statistics of the official training images (sum of all pixels, mean/std on [0, 1]).
  # Exact statistics from a histogram, in chunks (one 47M-element bincount is much slower).
  hist = sum(np.bincount(c.ravel(), minlength=256) for c in np.array_split(d.images, 20))
  values = np.arange(256)
  assert int(hist @ values) == 3_431_114_169
  mean = hist @ values / hist.sum() / 255
  std = np.sqrt(hist @ (values / 255 - mean) ** 2 / hist.sum())
  spec = DATASETS["fashion_mnist"]
  np.testing.assert_allclose([mean, std], [spec.mean[0], spec.std[0]], atol=1e-6)


def test_real_fashion_mnist_test_resized(shared_data):
  # The default path (shared data) is found without naming it.
  d = data.load_dataset("fashion_mnist", None, "test", image_size=32, channels=3)
  assert d.images.shape == (10_000, 32, 32, 3) and d.images.dtype == np.float32
  assert d.labels.shape == (10_000,) and d.labels.min() == 0 and d.labels.max() == 9
  np.testing.assert_array_equal(d.images[..., 0], d.images[..., 1])
  # Normalised with the train-set statistics, so the test set is close to zero mean, unit std.
  assert abs(float(d.images.mean())) < 0.02 and 0.9 < float(d.images.std()) < 1.0
  raw = data.load_dataset("fashion_mnist", shared_data / "images", "test", normalize=False)
  assert int(raw.images.sum(dtype=np.int64)) == 573_469_082


def test_numpy1_pickles_load(cifar10_dir):
  # Files pickled by numpy 1.x (like the real CIFAR batches) name ``numpy.core.multiarray``; numpy 2
  # moved it to ``numpy._core``. Protocol-2 globals are plain text, so rewrite them to simulate.
  folder, *_, xt, yt = cifar10_dir
  blob = (folder / "test_batch").read_bytes()
  assert b"numpy._core" in blob or b"numpy.core" in blob
  (folder / "test_batch").write_bytes(blob.replace(b"numpy._core", b"numpy.core"))
  test = data.load_dataset("cifar10", folder, "test", normalize=False)
  np.testing.assert_array_equal(test.images, xt)
  np.testing.assert_array_equal(test.labels, yt)
