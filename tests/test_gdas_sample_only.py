"""GDAS / RSWS sample-only compute (the default on NB201's supernet): each edge runs only its
sampled op (``MixedOp._sampled``, a ``lax.switch`` whose convolutions use ``conv_vjp.conv``), and
equals the stacked all-ops form: same output, same gradients to the weights and GDAS's
straight-through gradients to the op weights. The supernet-level check (loss, gradients and
running statistics through a whole small supernet) is ``tests/test_oneshot_perf.py`` (extended)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas.drivers.oneshot import SEARCH_CELL_BN
from jaxnas.nn import nb201 as nb201_net
from jaxnas.optimizers import oneshot

TOL = dict(rtol=2e-4, atol=2e-5)
FAST = dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)


def _close(a, b):
  jax.tree.map(lambda u, v: np.testing.assert_allclose(np.asarray(u), np.asarray(v), **TOL), a, b)


def test_sample_only_cell_equals_all_ops_value_and_gradients():
  """One search cell (6 edges, every op sampled somewhere, 3x3 twice), GDAS's ``hard`` mode and
  the search cell BN: sample-only and stacked give the same output and the same gradients to
  the weights and to the straight-through op weights."""
  rng = np.random.default_rng(0)  # host inputs: no random-number programs to compile
  x = rng.normal(size=(4, 8, 8, 4)).astype(np.float32)
  r = rng.normal(size=x.shape).astype(np.float32)  # a random cotangent: loss = <out, r>
  ops = np.array([3, 2, 1, 4, 0, 3])
  e = np.exp(rng.normal(size=(6, 5)))
  probs = (e / e.sum(-1, keepdims=True)).astype(np.float32)
  w = np.eye(5, dtype=np.float32)[ops] - probs + probs  # gumbel_hard's value (we take d/dw)
  cells = [nb201_net.SearchCell(4, SEARCH_CELL_BN, "hard", sample_only=s) for s in (False, True)]
  # random weights of the init's shapes (eval_shape: no init program to compile)
  shapes = jax.eval_shape(functools.partial(cells[0].init, train=True), jax.random.key(0), x, w)
  params = jax.tree.map(lambda l: (0.3 * rng.normal(size=l.shape)).astype(np.float32),
                        shapes["params"])

  def loss(cell, params, w):
    out = cell.apply({"params": params}, x, w, True)
    return jnp.sum(out * r), out

  def both(params, w):  # one program for both forms: one compile
    return [jax.value_and_grad(functools.partial(loss, c), (0, 1), has_aux=True)(params, w)
            for c in cells]

  outs = jax.jit(both).lower(params, w).compile(compiler_options=FAST)(params, w)
  (l0, o0), (gp0, gw0) = outs[0]
  (l1, o1), (gp1, gw1) = outs[1]
  np.testing.assert_allclose(l1, l0, **TOL)
  _close(o1, o0)
  # a conv bias feeding a batch-statistics BN has gradient 0 (the BN subtracts it again): both
  # forms' bias gradients are rounding noise, so they are checked against 0, not against each
  # other; every other weight gradient must match
  flat0, flat1 = (jax.tree_util.tree_flatten_with_path(g)[0] for g in (gp0, gp1))
  scale = max(float(np.abs(np.asarray(v)).max()) for _, v in flat0)
  for (path, v0), (_, v1) in zip(flat0, flat1):
    if "bias" in jax.tree_util.keystr(path):
      assert max(np.abs(np.asarray(v0)).max(), np.abs(np.asarray(v1)).max()) <= 1e-4 * scale
    else:
      np.testing.assert_allclose(np.asarray(v1), np.asarray(v0), **TOL)
  _close(gw1, gw0)
  # the gradients reach both convs and every op weight (straight-through) except the sampled
  # ``none`` of edge 4 (its output is zero whatever its weight)
  nonzero = np.abs(np.asarray(gw0)) > 0
  assert not nonzero[4, 0] and nonzero.sum() == 29, nonzero
  for k, op in ((0, "nor_conv_3x3"), (1, "nor_conv_1x1")):
    assert np.abs(np.asarray(gp0[f"edge_{k}"][op]["conv"]["kernel"])).sum() > 0


@pytest.mark.parametrize("name", ["gdas", "rsws"])
def test_sampling_optimizers_default_to_sample_only_where_the_supernet_has_it(name):
  """NB201's supernet: sample-only by default (``sample_only=None``), ``False`` keeps the
  stacked form; a supernet without it (the DARTS space's) keeps its own form by default (an
  explicit ``True`` there is an error: ``tests/test_oneshot_perf.py``)."""
  net = jnn.supernet_nb201(10, 4, 1, cell_bn=SEARCH_CELL_BN)
  assert oneshot.hyperparameters(name)["sample_only"] is None
  assert oneshot.make(name, net, epochs=1, steps_per_epoch=1).network.sample_only is True
  assert oneshot.make(name, net, epochs=1, steps_per_epoch=1,
                      sample_only=False).network.sample_only is False
  darts_net = jnn.compile("darts", None, 10, C=2, layers=1)
  assert not hasattr(oneshot.make(name, darts_net, epochs=1, steps_per_epoch=1).network,
                     "sample_only")
