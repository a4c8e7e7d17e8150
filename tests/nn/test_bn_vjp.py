"""``jaxnas.nn.bn_vjp.normalize_batch``: the one-pass, written-out-VJP batch norm of the NB201
supernet's mixed op equals the two-pass form (values and every gradient), also far from zero mean;
and the separable 3x3 average pool equals NB201's pool."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.nn import bn_vjp, layers


def _two_pass(y, eps):
  mean, var = layers.batch_moments(y)
  return layers.normalize(y, mean, var, None, None, eps), mean, var


@pytest.mark.parametrize("offset,scale", [(0.0, 1.0), (0.7, 3.0), (1000.0, 1.0)])
def test_values_and_gradients_equal_the_two_pass_form(offset, scale):
  y = jax.random.normal(jax.random.key(1), (4, 5, 6, 3)) * scale + offset
  want = _two_pass(y, 1e-5)
  got = bn_vjp.normalize_batch(y, 1e-5)
  # the float64 reference of the moments: the shifted one-pass variance does not cancel
  y64 = np.asarray(y, np.float64)
  var64 = y64.var(axis=(0, 1, 2))
  np.testing.assert_allclose(np.asarray(got[2]), var64, rtol=1e-4)
  # y_hat against float64: at a 1e3 offset float32 rounds y itself at ~6e-5, so both forms are
  # off by ~1e-4 there; ours may be no worse than the two-pass form's error plus that rounding
  yhat64 = (y64 - y64.mean(axis=(0, 1, 2))) / np.sqrt(var64 + 1e-5)
  err_got = np.abs(np.asarray(got[0]) - yhat64).max()
  err_want = np.abs(np.asarray(want[0]) - yhat64).max()
  assert err_got <= err_want + 1e-4 * (1 + offset / 100), (err_got, err_want)
  for g, w in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4,
                               atol=2e-4 * scale * (1 + offset / 100))
  cts = tuple(jax.random.normal(jax.random.key(i), a.shape) for i, a in enumerate(want))
  for keep in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)]:  # each output's gradient, and all
    ct = tuple(c * k for c, k in zip(cts, keep))
    g_got = jax.vjp(lambda v: bn_vjp.normalize_batch(v, 1e-5), y)[1](ct)[0]
    g_want = jax.vjp(lambda v: _two_pass(v, 1e-5), y)[1](ct)[0]
    tol = 2e-3 if offset > 100 else 1e-4  # the two-pass reference itself rounds at 1e3 offsets
    np.testing.assert_allclose(np.asarray(g_got), np.asarray(g_want), rtol=tol,
                               atol=tol * float(jnp.abs(g_want).max()))


def test_separable_pool_equals_the_nb201_pool():
  x = jax.random.normal(jax.random.key(2), (2, 7, 5, 3))
  np.testing.assert_allclose(np.asarray(layers.avg_pool_3x3_separable(x)),
                             np.asarray(layers.avg_pool_3x3(x)), rtol=1e-6, atol=1e-6)
  g = jax.random.normal(jax.random.key(3), x.shape)
  ga = jax.vjp(layers.avg_pool_3x3_separable, x)[1](g)[0]
  gb = jax.vjp(layers.avg_pool_3x3, x)[1](g)[0]
  np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=1e-6, atol=1e-6)
