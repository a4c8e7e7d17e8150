"""``jaxnas.nn.bn_fused.normalize_batch``: the one-pass batch norm with a written-out derivative (custom JVP) of the NB201
supernet's mixed op equals the two-pass form (values and every gradient), also far from zero mean;
and the separable 3x3 average pool equals NB201's pool."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.nn import bn_fused, layers


def _two_pass(y, eps):
  mean, var = layers.batch_moments(y)
  return layers.normalize(y, mean, var, None, None, eps), mean, var


@pytest.mark.parametrize("offset,scale", [(0.0, 1.0), (0.7, 3.0), (1000.0, 1.0)])
def test_values_and_gradients_equal_the_two_pass_form(offset, scale):
  y = jax.random.normal(jax.random.key(1), (4, 5, 6, 3)) * scale + offset
  want = _two_pass(y, 1e-5)
  got = bn_fused.normalize_batch(y, 1e-5)
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
    g_got = jax.vjp(lambda v: bn_fused.normalize_batch(v, 1e-5), y)[1](ct)[0]
    g_want = jax.vjp(lambda v: _two_pass(v, 1e-5), y)[1](ct)[0]
    tol = 2e-3 if offset > 100 else 1e-4  # the two-pass reference itself rounds at 1e3 offsets
    np.testing.assert_allclose(np.asarray(g_got), np.asarray(g_want), rtol=tol,
                               atol=tol * float(jnp.abs(g_want).max()))


def test_forward_mode_and_second_order_equal_autodiff_of_the_two_pass_form():
  """jvp, forward-over-reverse (second-order DARTS, GRASP) and reverse-over-reverse through the
  rule equal the same derivatives of the two-pass form."""
  y = jax.random.normal(jax.random.key(4), (3, 4, 4, 2)) * 1.5 + 0.3
  t = jax.random.normal(jax.random.key(5), y.shape)
  w = jax.random.normal(jax.random.key(6), y.shape)

  def loss(fn):
    return lambda v: jnp.sum(jnp.sin(fn(v)[0]) * w) + jnp.sum(fn(v)[2])

  ours, ref = loss(lambda v: bn_fused.normalize_batch(v, 1e-5)), loss(lambda v: _two_pass(v, 1e-5))
  for f in (lambda fn: jax.jvp(fn, (y,), (t,))[1],                       # forward mode
            lambda fn: jax.jvp(jax.grad(fn), (y,), (t,))[1],             # forward over reverse
            lambda fn: jax.grad(lambda v: jnp.vdot(jax.grad(fn)(v), t))(y)):  # reverse over reverse
    a, b = np.asarray(f(ours)), np.asarray(f(ref))
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(b).max())


def test_separable_pool_equals_the_nb201_pool():
  x = jax.random.normal(jax.random.key(2), (2, 7, 5, 3))
  np.testing.assert_allclose(np.asarray(layers.avg_pool_3x3_separable(x)),
                             np.asarray(layers.avg_pool_3x3(x)), rtol=1e-6, atol=1e-6)
  g = jax.random.normal(jax.random.key(3), x.shape)
  ga = jax.vjp(layers.avg_pool_3x3_separable, x)[1](g)[0]
  gb = jax.vjp(layers.avg_pool_3x3, x)[1](g)[0]
  np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=1e-6, atol=1e-6)


def test_reverse_only_rule_and_supernet_equal_the_default():
  """``normalize_batch_reverse`` (custom VJP) equals ``normalize_batch`` in value and gradient;
  an NB201 supernet built ``reverse_only`` gives the same loss and gradients as the default one;
  first-order optimizers build it, second-order DARTS (forward mode) does not."""
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers.oneshot import SEARCH_CELL_BN  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import oneshot  # pylint: disable=import-outside-toplevel
  y = jax.random.normal(jax.random.key(7), (2, 3, 3, 4)) + 0.5
  ct = tuple(jax.random.normal(jax.random.key(8 + i), a.shape)
             for i, a in enumerate(bn_fused.normalize_batch(y, 1e-5)))
  for f in (lambda fn: fn(y, 1e-5), lambda fn: jax.vjp(lambda v: fn(v, 1e-5), y)[1](ct)):
    for a, b in zip(jax.tree.leaves(f(bn_fused.normalize_batch_reverse)),
                    jax.tree.leaves(f(bn_fused.normalize_batch))):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
  x = jax.random.normal(jax.random.key(9), (4, 8, 8, 3))
  w = jax.nn.softmax(jax.random.normal(jax.random.key(10), (6, 5)))
  grads = []
  for rev in (False, True):
    net = jnn.supernet_nb201(10, 2, 1, cell_bn=SEARCH_CELL_BN, reverse_only=rev)
    v = net.init(jax.random.key(0), x, w, False)
    loss = lambda p, a, net=net, v=v: jnp.sum(  # noqa: E731
        jnp.sin(net.apply({**v, "params": p}, x, a, True, mutable=["batch_stats"])[0]))
    grads.append(jax.grad(loss, argnums=(0, 1))(v["params"], w))
  # (conv biases before a batch-stats BN have gradient 0 up to rounding: absolute tolerance
  # relative to the largest gradient)
  scale = max(float(jnp.abs(b).max()) for b in jax.tree.leaves(grads[0]))
  for a, b in zip(jax.tree.leaves(grads[1]), jax.tree.leaves(grads[0])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5 * scale)
  net = jnn.supernet_nb201(10, 2, 1, cell_bn=SEARCH_CELL_BN)
  first = oneshot.make("darts", net, epochs=1, steps_per_epoch=1)
  second = oneshot.make("darts", net, epochs=1, steps_per_epoch=1, second_order=True)
  exact = oneshot.make("darts", net, epochs=1, steps_per_epoch=1, second_order=True,
                       hessian="exact")
  # only the exact second-order hypergradient uses forward mode
  assert first.network.reverse_only and second.network.reverse_only
  assert not exact.network.reverse_only
