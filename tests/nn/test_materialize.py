"""``jaxnas.nn.materialize``: the identity XLA keeps as a buffer of its own (issue 18). Its values
and derivatives of every order are the identity's, the conditional survives XLA's simplifier in
the compiled backward pass, and an NB201 supernet built with ``materialize_nodes`` gives the same
loss and gradients as without; the one-shot optimizers build it for training only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.nn.materialize import materialize


def _f(x, mat):
  h = jnp.sin(x)
  h = mat(h) if mat else h
  return jnp.sum(jnp.cos(h) * h + 2.0 * h)


def test_identity_values_and_derivatives_of_every_order():
  x = jax.random.normal(jax.random.key(0), (3, 4, 5, 2))
  t = jax.random.normal(jax.random.key(1), x.shape)
  np.testing.assert_array_equal(materialize(x), x)
  ident = lambda v: v  # noqa: E731
  for fn in (lambda m: jax.grad(lambda v: _f(v, m))(x),
             lambda m: jax.jvp(lambda v: _f(v, m), (x,), (t,))[1],
             lambda m: jax.jvp(jax.grad(lambda v: _f(v, m)), (x,), (t,))[1],  # forward-over-reverse
             lambda m: jax.grad(lambda v: jnp.sum(jax.grad(lambda u: _f(u, m))(v) ** 2))(x)):
    np.testing.assert_array_equal(fn(materialize), fn(ident))
  # under vmap the cond becomes a select: the same values
  np.testing.assert_array_equal(jax.vmap(materialize)(x), x)
  np.testing.assert_array_equal(jax.vmap(jax.grad(lambda v: _f(v, materialize)))(x),
                                jax.vmap(jax.grad(lambda v: _f(v, ident)))(x))


def test_the_conditional_survives_compilation_forward_and_backward():
  """The whole point: XLA must not simplify the cond away (an identity cond with elementwise
  branches becomes a select and fuses again). Two conditionals: the forward and the transposed."""
  x = jnp.ones((2, 4, 4, 3))
  hlo = jax.jit(jax.grad(lambda v: _f(v, materialize))).lower(x).compile().as_text()
  assert hlo.count(" conditional(") == 2, hlo.count(" conditional(")


def test_supernet_with_materialized_nodes_equals_the_plain_one():
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers.oneshot import SEARCH_CELL_BN  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import oneshot  # pylint: disable=import-outside-toplevel
  x = jax.random.normal(jax.random.key(9), (4, 8, 8, 3))
  w = jax.nn.softmax(jax.random.normal(jax.random.key(10), (6, 5)))
  out = []
  for mat in (False, True):  # N=2: cells chain, so node cotangents cross cells through skips
    net = jnn.supernet_nb201(10, 2, 2, cell_bn=SEARCH_CELL_BN, materialize_nodes=mat)
    v = net.init(jax.random.key(0), x, w, False)
    loss = lambda p, a, net=net, v=v: jnp.sum(  # noqa: E731
        jnp.sin(net.apply({**v, "params": p}, x, a, True, mutable=["batch_stats"])[0]))
    out.append((loss(v["params"], w), jax.grad(loss, argnums=(0, 1))(v["params"], w),
                jax.jvp(lambda a, loss=loss, v=v: loss(v["params"], a), (w,), (w,))[1]))
  for a, b in zip(jax.tree.leaves(out[1]), jax.tree.leaves(out[0])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
  net = jnn.supernet_nb201(10, 2, 1, cell_bn=SEARCH_CELL_BN)
  for kw in ({}, {"second_order": True}, {"second_order": True, "hessian": "exact"}):
    assert oneshot.make("darts", net, epochs=1, steps_per_epoch=1, **kw).network.materialize_nodes
  assert oneshot.make("gdas", net, epochs=1, steps_per_epoch=1).network.materialize_nodes
