"""The generic edge-op cell networks (``jaxnas.nn.cell``): NB201's cell as an instance (same
variables, same function as ``jaxnas.nn.nb201.Cell``), the supernet cell fed one-hot op weights
equals the discrete cell on a user DAG with a reduction, and one-line errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from jaxnas.nn import cell as ncell
from jaxnas.nn import nb201 as nb201_nn
from jaxnas.spaces import NASBENCH201, cell

USER_DAG = nx.DiGraph([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (0, 4), (3, 4)])
USER_OPS = ("none", "skip_connect", "conv3x3", "conv1x1")
USER_LIB = {"none": ncell.STANDARD_OPS["none"], "skip_connect": ncell.STANDARD_OPS["skip_connect"],
            "conv3x3": ncell.STANDARD_OPS["nor_conv_3x3"],
            "conv1x1": ncell.STANDARD_OPS["nor_conv_1x1"]}


def _shapes(tree):
  return jax.tree_util.tree_map(jnp.shape, tree)


def test_nb201_cell_is_an_instance():
  """The generic Cell with STANDARD_OPS on NB201's edges has NB201's variable paths, the same
  init for the same key, and computes the same function (every op once, all five ops used)."""
  arch = (3, 1, 4, 2, 0, 3)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 4))
  lib = ncell.as_library(ncell.STANDARD_OPS, NASBENCH201.ops)
  gen = ncell.Cell(NASBENCH201.edges, tuple(NASBENCH201.ops[o] for o in arch), lib, 4, 4)
  ref = nb201_nn.Cell(arch, 4)
  vg = gen.init(jax.random.key(0), x, True)
  vr = ref.init(jax.random.key(0), x, True)
  assert _shapes(vg) == _shapes(vr)
  for a, b in zip(jax.tree_util.tree_leaves(vg), jax.tree_util.tree_leaves(vr)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  for train in (True, False):
    np.testing.assert_array_equal(np.asarray(gen.apply(vg, x, train)),
                                  np.asarray(ref.apply(vr, x, train)))


@pytest.mark.parametrize("mode", ["mixed", "select", "hard"])
def test_mixed_cell_one_hot_is_the_discrete_cell(mode):
  """On a 5-node user DAG with a reduction (4 -> 8 channels, stride 2): the discrete cell's
  variables are a sub-tree of the supernet cell's for the same key, and the supernet cell fed the
  one-hot op weights computes the discrete cell."""
  space = cell.cell_space("user5", USER_DAG, USER_OPS)
  arch = (2, 1, 3, 0, 2, 1, 3)  # skip 0->2 across the reduction: FactorizedReduce
  lib = ncell.as_library(USER_LIB, USER_OPS)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 4))
  disc = ncell.Cell(space.edges, tuple(USER_OPS[o] for o in arch), lib, 4, 8, 2)
  mixed = ncell.MixedCell(space.edges, lib, 4, 8, 2, mode=mode)
  w = jax.nn.one_hot(jnp.asarray(arch), len(USER_OPS))
  vd = disc.init(jax.random.key(0), x, True)
  vm = mixed.init(jax.random.key(0), x, w, True)
  sub = nb201_nn.restrict(vm, vd)
  for a, b in zip(jax.tree_util.tree_leaves(sub), jax.tree_util.tree_leaves(vd)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  yd = disc.apply(vd, x, True)
  assert yd.shape == (2, 4, 4, 8)
  np.testing.assert_allclose(np.asarray(mixed.apply(vm, x, w, True)), np.asarray(yd),
                             rtol=1e-5, atol=1e-5)


def test_library_errors():
  with pytest.raises(ValueError, match="op library lacks op 'conv1x1'"):
    ncell.as_library({k: v for k, v in USER_LIB.items() if k != "conv1x1"}, USER_OPS)
  with pytest.raises(ValueError, match="avg_pool_3x3 keeps the shape"):
    ncell.STANDARD_OPS["avg_pool_3x3"](4, 8, 2, ncell.NB201_BN)
  with pytest.raises(ValueError, match="not an edge-op cell space"):
    ncell.supernet_spec(NASBENCH201.__class__(**{**NASBENCH201.__dict__, "edges": ()}))
