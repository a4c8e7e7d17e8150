"""Batch index plans and gathering batches from a device-resident Dataset inside jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import data


def test_epoch_batches_drop_last():
  idx = np.asarray(data.epoch_batches(jax.random.key(0), 103, 10))
  assert idx.shape == (10, 10) and idx.dtype == np.int32
  assert np.unique(idx).size == 100 and idx.min() >= 0 and idx.max() < 103
  np.testing.assert_array_equal(idx, data.epoch_batches(jax.random.key(0), 103, 10))
  assert not np.array_equal(idx, data.epoch_batches(jax.random.key(1), 103, 10))


def test_epoch_batches_keep_last_covers_everything():
  idx = np.asarray(data.epoch_batches(jax.random.key(0), 103, 10, drop_last=False))
  assert idx.shape == (11, 10)
  np.testing.assert_array_equal(np.unique(idx), np.arange(103))
  assert data.num_batches(103, 10, drop_last=False) == 11
  idx = np.asarray(data.epoch_batches(jax.random.key(0), 3, 8, drop_last=False))
  assert idx.shape == (1, 8) and set(idx.ravel()) == {0, 1, 2}


def test_epoch_batches_jittable():
  fn = jax.jit(data.epoch_batches, static_argnums=(1, 2))
  np.testing.assert_array_equal(fn(jax.random.key(4), 50, 7),
                                data.epoch_batches(jax.random.key(4), 50, 7))


def test_eval_batches_mask():
  idx, mask = data.eval_batches(23, 5)
  assert idx.shape == mask.shape == (5, 5)
  assert mask.sum() == 23
  np.testing.assert_array_equal(idx[mask], np.arange(23))


def test_errors():
  with pytest.raises(ValueError, match="batch_size 20 > 10 examples"):
    data.epoch_batches(jax.random.key(0), 10, 20)
  with pytest.raises(ValueError, match="batch_size"):
    data.num_batches(10, 0)
  with pytest.raises(ValueError, match="empty"):
    data.eval_batches(0, 4)


def test_gather_inside_jitted_step(cifar10_dir):
  folder, x, y, *_ = cifar10_dir
  ds = jax.device_put(data.load_dataset("cifar10", folder))
  plan = data.epoch_batches(jax.random.key(0), ds, 4)  # length taken from the Dataset

  @jax.jit
  def epoch(key, ds, plan):
    def step(i, idx):  # the pattern of a training step: gather, augment, use
      batch = ds[idx]
      images = data.augment(jax.random.fold_in(key, i), batch.images, pad_value=ds.black)
      return i + 1, (images, batch.labels)
    return jax.lax.scan(step, 0, plan)[1]

  images, labels = epoch(jax.random.key(1), ds, plan)
  np.testing.assert_array_equal(labels, y[np.asarray(plan)])
  assert images.shape == (3, 4, 32, 32, 3) and images.dtype == jnp.float32
  epoch(jax.random.key(2), ds, data.epoch_batches(jax.random.key(3), ds, 4))
  assert epoch._cache_size() == 1
