"""Adapters for gaps in :mod:`jaxnas.nn` that one-shot training needs (kept out of ``nn``).

``ensure_differentiable_avg_pool``: ``jaxnas.nn.layers.avg_pool_3x3`` (commit 7d733a4) pools with
``lax.reduce_window(x, jnp.zeros(()), lax.add, ...)``; under ``jit`` that init value is a tracer,
so JAX lowers the generic ``reduce_window``, which has no reverse-mode rule, and every gradient
through a MixedOp fails ("Linearization failed ..."). If (and only if) that is the case, the
modules' ``avg_pool_3x3`` is replaced by the same function with a Python-scalar init, which JAX
maps to the differentiable ``reduce_window_sum``. Remove once ``nn`` pools differentiably.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _window_counts(h: int, w: int) -> np.ndarray:
  rows = np.minimum(np.arange(h) + 1, h - 1) - np.maximum(np.arange(h) - 1, 0) + 1
  cols = np.minimum(np.arange(w) + 1, w - 1) - np.maximum(np.arange(w) - 1, 0) + 1
  return np.outer(rows, cols).astype(np.float32)[None, :, :, None]


def avg_pool_3x3(x):
  """NB201 ``avg_pool_3x3`` (3x3, stride 1, padding 1, ``count_include_pad=False``)."""
  total = lax.reduce_window(x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 1, 1),
                            ((0, 0), (1, 1), (1, 1), (0, 0)))
  return total / jnp.asarray(_window_counts(x.shape[1], x.shape[2]), x.dtype)


@functools.lru_cache(maxsize=None)
def ensure_differentiable_avg_pool() -> bool:
  """Patches ``jaxnas.nn``'s avg pool when it cannot be differentiated under jit; True if so."""
  from jaxnas.nn import layers, nb201  # pylint: disable=import-outside-toplevel
  try:
    jax.jit(jax.grad(lambda x: jnp.sum(layers.avg_pool_3x3(x))))(jnp.ones((1, 4, 4, 1)))
    return False
  except ValueError:
    layers.avg_pool_3x3 = avg_pool_3x3
    nb201.avg_pool_3x3 = avg_pool_3x3
    return True
