"""The seeded class-balanced split of a training set into search_train / search_valid."""

from __future__ import annotations

import numpy as np

from jaxnas import data


def _labels():
  # Uneven, odd class sizes: the hardest case for an even split.
  rng = np.random.default_rng(0)
  return rng.permutation(np.repeat(np.arange(7), [11, 3, 8, 1, 20, 5, 9]))


def test_split_disjoint_covering_balanced():
  labels = _labels()
  a, b = data.split_indices(labels, seed=3)
  assert a.dtype == np.int32 and b.dtype == np.int32
  assert np.intersect1d(a, b).size == 0
  np.testing.assert_array_equal(np.sort(np.concatenate([a, b])), np.arange(labels.size))
  assert abs(a.size - b.size) <= 1
  assert np.all(np.abs(np.bincount(labels[a], minlength=7) - np.bincount(labels[b], minlength=7))
                <= 1)
  assert np.all(np.diff(a) > 0) and np.all(np.diff(b) > 0)


def test_split_deterministic_per_seed():
  labels = _labels()
  a1, b1 = data.split_indices(labels, seed=5)
  a2, b2 = data.split_indices(labels, seed=5)
  np.testing.assert_array_equal(a1, a2)
  np.testing.assert_array_equal(b1, b2)
  a3, _ = data.split_indices(labels, seed=6)
  assert not np.array_equal(a1, a3)


def test_search_splits_partition_train(cifar10_dir):
  folder, x, y, *_ = cifar10_dir
  st = data.load_dataset("cifar10", folder, "search_train", normalize=False, seed=1)
  sv = data.load_dataset("cifar10", folder, "search_valid", normalize=False, seed=1)
  assert len(st) + len(sv) == len(y) and abs(len(st) - len(sv)) <= 1
  a, b = data.split_indices(y, seed=1)
  np.testing.assert_array_equal(st.images, x[a])
  np.testing.assert_array_equal(sv.labels, y[b])
  again = data.load_dataset("cifar10", folder, "search_valid", normalize=False, seed=1)
  np.testing.assert_array_equal(again.images, sv.images)


def test_real_fashion_mnist_halves(fmnist_labels):
  a, b = data.split_indices(fmnist_labels, seed=0)
  assert a.size == b.size == 30_000
  np.testing.assert_array_equal(np.bincount(fmnist_labels[a]), [3000] * 10)
