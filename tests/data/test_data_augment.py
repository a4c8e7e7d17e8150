"""Augmentation: pure, deterministic per key, shape-preserving, jittable and vmappable."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import data

B, H, W, C = 16, 8, 8, 3
# Compiled once per module and shape and shared by the tests: compiles dominate their run time.
_JIT = {fn: jax.jit(fn) for fn in (data.random_crop, data.random_flip, data.augment)}


def _images():
  # Distinct positive values everywhere, so a crop can be located exactly and padding (<= 0)
  # is told apart from content.
  return jnp.arange(1, B * H * W * C + 1, dtype=jnp.float32).reshape(B, H, W, C)


def _offset(padded, out):
  """(dy, dx) such that ``out == padded[dy:dy+H, dx:dx+W]``, or None."""
  for dy in range(padded.shape[0] - H + 1):
    for dx in range(padded.shape[1] - W + 1):
      if np.array_equal(padded[dy:dy + H, dx:dx + W], out):
        return dy, dx
  return None


@pytest.mark.parametrize("fn", [data.random_crop, data.random_flip, data.augment])
def test_deterministic_per_key_and_shape_preserving(fn):
  x = _images()
  fn = _JIT[fn]
  a = fn(jax.random.key(0), x)
  b = fn(jax.random.key(0), x)
  c = fn(jax.random.key(1), x)
  assert a.shape == x.shape and a.dtype == x.dtype
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


def test_flip_is_a_flip():
  x = _images()
  np.testing.assert_array_equal(data.random_flip(jax.random.key(0), x, prob=1.0), x[:, :, ::-1])
  np.testing.assert_array_equal(data.random_flip(jax.random.key(0), x, prob=0.0), x)
  y = np.asarray(data.random_flip(jax.random.key(3), x))
  flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(B)]
  kept = [np.array_equal(y[i], x[i]) for i in range(B)]
  assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


@pytest.mark.parametrize("padding", [2, 4])
def test_crop_stays_within_padding(padding):
  x = np.asarray(_images())
  pad_value = np.array([-1.0, -2.0, -3.0], np.float32)
  offsets = set()
  crop = jax.jit(data.random_crop, static_argnums=2)
  for seed in range(4):
    y = np.asarray(crop(jax.random.key(seed), jnp.asarray(x), padding, pad_value))
    for i in range(B):
      padded = np.broadcast_to(pad_value, (H + 2 * padding, W + 2 * padding, C)).copy()
      padded[padding:padding + H, padding:padding + W] = x[i]
      off = _offset(padded, y[i])
      assert off is not None and all(0 <= o <= 2 * padding for o in off)
      offsets.add(off)
  assert len(offsets) > 5  # offsets really vary


def test_no_padding_is_identity():
  x = _images()
  np.testing.assert_array_equal(data.augment(jax.random.key(0), x, padding=0, flip=False), x)


def test_jittable_and_vmappable():
  x = _images()
  fn = _JIT[data.augment]
  a = fn(jax.random.key(7), x)
  fn(jax.random.key(8), x + 1)
  assert fn._cache_size() == 1  # no retrace on new values
  keys = jax.random.split(jax.random.key(7), 2)
  stacked = jnp.stack([x, x + 1])
  vm = jax.jit(jax.vmap(data.augment))(keys, stacked)  # e.g. one key per seed
  for s in range(2):
    np.testing.assert_array_equal(vm[s], fn(keys[s], stacked[s]))
  assert not np.array_equal(a, vm[0])


def test_rejects_unbatched_images():
  with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
    data.random_crop(jax.random.key(0), jnp.zeros((8, 8, 3)))
