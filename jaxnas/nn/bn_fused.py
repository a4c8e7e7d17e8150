"""Batch normalisation over ``N, H, W`` with batch statistics as one function with a written-out
derivative: ``normalize_batch(y, eps) -> (y_hat, mean, var)``.

Why (issue 18, the one-shot step on XLA:CPU): autodiff of the two-pass form (``mean``, then
``mean((y - mean)^2)``, then ``(y - mean) * rsqrt(var + eps)``) differentiates each pass
separately, and its backward pass reads ``y``-sized arrays more often than the textbook BN
gradient ``dy = rsqrt(var + eps) * (g - mean(g) - y_hat * mean(g * y_hat))`` (two reductions, one
elementwise pass). The forward takes both moments in one pass, shifted by the first pixel's value
(a constant under ``stop_gradient``) so that ``E[d^2] - E[d]^2`` does not cancel when the mean is
large against the spread. The NB201 supernet's mixed op uses it (its search BN normalises a
``[B, H, W, 2C]`` array per edge, forward and backward, on every step).

The rule is a ``custom_jvp`` (the tangent ``inv * (dy - mean(dy) - y_hat * mean(dy * y_hat))``,
linear in ``dy``), not a ``custom_vjp``: JAX transposes it into exactly the textbook backward
above, and forward mode, forward-over-reverse (second-order DARTS's exact hypergradient, GRASP)
and reverse-over-reverse all keep working, which a ``custom_vjp`` would break.

Values equal the two-pass form to float rounding; every derivative is exact, also those of the
``mean`` / ``var`` outputs (``tests/nn/test_bn_fused.py``).
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


def _forward(y: Array, epsilon: float) -> tuple[Array, Array, Array, Array]:
  """``(y_hat, mean, var, rsqrt(var + epsilon))``: the primal both rules share."""
  mean, var = _moments(y)
  inv = lax.rsqrt(var + epsilon)
  return (y - mean) * inv, mean, var, inv


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def normalize_batch(y: Array, epsilon: float) -> tuple[Array, Array, Array]:
  """``((y - mean) * rsqrt(var + epsilon), mean, var)``, moments over the first three axes
  (``y: f32[B, H, W, C]``; biased variance, as BN normalises with)."""
  return _forward(y, epsilon)[:3]


@normalize_batch.defjvp
def _jvp(epsilon, primals, tangents):
  (y,), (dy,) = primals, tangents
  y_hat, mean, var, inv = _forward(y, epsilon)
  out = (y_hat, mean, var)
  d_mean = jnp.mean(dy, axis=_AXES)
  d_proj = jnp.mean(dy * y_hat, axis=_AXES)  # = d var * inv / 2
  d_hat = inv * (dy - d_mean - y_hat * d_proj)
  return out, (d_hat, d_mean, 2.0 * d_proj / inv)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def normalize_batch_reverse(y: Array, epsilon: float) -> tuple[Array, Array, Array]:
  """:func:`normalize_batch` with the backward pass written out as a ``custom_vjp``: reverse mode
  only (``jax.jvp`` through it fails), and on XLA:CPU ~10% less CPU per first-order DARTS step
  than the transposed JVP rule (N=1 NB201 supernet, interleaved A/B: 1.71 vs 1.89 CPU-s). The
  NB201 supernet uses it when built with ``reverse_only=True``, which the one-shot optimizers
  set unless they need forward mode (second-order DARTS)."""
  return _forward(y, epsilon)[:3]


def _rev_fwd(y, epsilon):
  y_hat, mean, var, inv = _forward(y, epsilon)
  return (y_hat, mean, var), (y_hat, inv)


def _rev_bwd(epsilon, res, cts):
  del epsilon
  y_hat, inv = res
  g, g_mean, g_var = cts
  n = y_hat.shape[0] * y_hat.shape[1] * y_hat.shape[2]
  mean_g = jnp.mean(g, axis=_AXES)
  mean_gy = jnp.mean(g * y_hat, axis=_AXES)
  # d mean / dy = 1 / n; d var / dy = 2 (y - mean) / n = 2 y_hat / (n inv)
  return (inv * (g - mean_g - y_hat * mean_gy) + g_mean / n + (2.0 / n) * (g_var / inv) * y_hat,)


normalize_batch_reverse.defvjp(_rev_fwd, _rev_bwd)
