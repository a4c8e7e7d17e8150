"""Batch normalisation over ``N, H, W`` with batch statistics, as one function with a written-out
VJP: ``normalize_batch(y, eps) -> (y_hat, mean, var)``.

Why (issue 18, the one-shot step on XLA:CPU): autodiff of the two-pass form (``mean``, then
``mean((y - mean)^2)``, then ``(y - mean) * rsqrt(var + eps)``) differentiates each pass
separately, and the backward pass reads ``y``-sized arrays several times more than the textbook
BN gradient ``dy = rsqrt(var + eps) * (g - mean(g) - y_hat * mean(g * y_hat))`` (two reductions in
one pass, one elementwise pass). The forward takes both moments in one pass, shifted by the first
pixel's value (a constant under ``stop_gradient``) so that ``E[d^2] - E[d]^2`` does not cancel
when the mean is large against the spread. The mixed op of the NB201 supernet uses it (its
search BN normalises a ``[B, H, W, 2C]`` array per edge, forward and backward, on every step).

Values equal the two-pass form to float rounding; the gradient is exact, also with respect to the
``mean`` / ``var`` outputs (``tests/nn/test_bn_vjp.py``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
_AXES = (0, 1, 2)


def _moments(y: Array) -> tuple[Array, Array]:
  shift = lax.stop_gradient(y[0, 0, 0])
  d = y - shift
  m1 = jnp.mean(d, axis=_AXES)
  m2 = jnp.mean(jnp.square(d), axis=_AXES)
  return m1 + shift, jnp.maximum(m2 - jnp.square(m1), 0.0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def normalize_batch(y: Array, epsilon: float) -> tuple[Array, Array, Array]:
  """``((y - mean) * rsqrt(var + epsilon), mean, var)``, moments over the first three axes
  (``y: f32[B, H, W, C]``; biased variance, as BN normalises with)."""
  mean, var = _moments(y)
  return (y - mean) * lax.rsqrt(var + epsilon), mean, var


def _fwd(y, epsilon):
  mean, var = _moments(y)
  inv = lax.rsqrt(var + epsilon)
  y_hat = (y - mean) * inv
  return (y_hat, mean, var), (y_hat, inv)


def _bwd(epsilon, res, cts):
  del epsilon
  y_hat, inv = res
  g, g_mean, g_var = cts
  n = y_hat.shape[0] * y_hat.shape[1] * y_hat.shape[2]
  mean_g = jnp.mean(g, axis=_AXES)
  mean_gy = jnp.mean(g * y_hat, axis=_AXES)
  # d mean / dy = 1/n; d var / dy = 2 (y - mean) / n = 2 y_hat / (n inv)
  dy = inv * (g - mean_g - y_hat * mean_gy) + g_mean / n + (2.0 / n) * (g_var / inv) * y_hat
  return (dy,)


normalize_batch.defvjp(_fwd, _bwd)
