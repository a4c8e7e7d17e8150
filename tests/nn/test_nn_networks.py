"""NB201 networks: shapes, errors, BN modes, and the supernet == discrete network property.

Tiny sizes (C=4, N=1, 8x8 images) keep every test fast; inits use the ``unsafe_rbg`` key
implementation because threefry initialisers take seconds to compile on CPU (the mirror property
is about Flax's path-derived RNG streams and holds for any key implementation).
"""

from __future__ import annotations

import functools

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas.nn import layers
from jaxnas.spaces import nb201

C, N, CLASSES = 4, 1, 3
ARCHS = [  # each conv type, pool, skip and none; an all-conv cell; a cell with a dead conv
    [3, 2, 4, 1, 3, 0],
    [2, 3, 3, 2, 2, 3],
    [0, 2, 1, 2, 1, 0],
]


def _key(seed: int = 0):
  return jax.random.key(seed, impl="unsafe_rbg")


def _stateful(v):
  return {k: v[k] for k in ("params", "batch_stats") if k in v}


def _fill(module, *args, seed: int = 0, **kwargs):
  """Random variables of ``module`` at the shapes ``init`` would give, drawn on the host (a real
  ``init`` compiles every initialiser, which is slow on CPU; the mirror of ``init`` itself is
  tested once, at cell level)."""
  shapes = jax.eval_shape(functools.partial(module.init, **kwargs), _key(), *args)
  rng = np.random.default_rng(seed)

  def leaf(path, s):
    name = path[-1].key
    if name == "kernel":
      bound = np.sqrt(3.0 / max(1, int(np.prod(s.shape[:-1]))))
      v = rng.uniform(-bound, bound, s.shape)
    elif name in ("scale", "var"):
      v = rng.uniform(0.5, 1.5, s.shape)
    else:
      v = rng.normal(0.0, 0.3, s.shape)
    return jnp.asarray(v, jnp.float32)

  return jax.tree_util.tree_map_with_path(leaf, _stateful(shapes))


@pytest.fixture(scope="module")
def x():
  return jnp.asarray(np.random.default_rng(1).normal(size=(4, 8, 8, 3)), jnp.float32)


@pytest.fixture(scope="module")
def supernet_vars(x):
  return _fill(jnn.supernet_nb201(CLASSES, C, N), x, jnn.one_hot(ARCHS[0]), train=False)


@functools.lru_cache(maxsize=None)
def _like(arch: tuple, shape: tuple, **kwargs):
  net = jnn.compile_nb201(arch, CLASSES, C, N, **kwargs)
  like = jax.eval_shape(functools.partial(net.init, train=False), _key(), jnp.zeros(shape))
  return net, _stateful(like)


def _discrete_vars(arch, supernet_vars, x, **kwargs):
  """The discrete network of ``arch`` and its variables taken from the supernet's."""
  net, like = _like(tuple(int(o) for o in arch), tuple(x.shape), **kwargs)
  return net, jnn.restrict(supernet_vars, like)


def _close(a, b, tol=2e-5):
  """Leaf-wise allclose of two pytrees with the same structure."""
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
  for u, w in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(np.asarray(u), np.asarray(w), rtol=tol, atol=tol)


def test_discrete_init_is_the_supernet_subtree():
  """Flax's path-derived init RNG + mirrored paths: the same key gives the same weights. Checked
  on a cell (where the two networks differ; stem, reductions and head are the same code)."""
  arch = (3, 2, 4, 1, 3, 0)
  h = jnp.zeros((2, 4, 4, C))
  cell = jnn.nb201.Cell(arch, C)
  search = jnn.nb201.SearchCell(C)
  v = _stateful(jax.jit(functools.partial(cell.init, train=False))(_key(), h))
  vs = _stateful(jax.jit(functools.partial(search.init, train=False))(_key(), h, jnn.one_hot(arch)))
  _close(jnn.restrict(vs, v), v, tol=0)
  assert set(v["params"]) == {"edge_0", "edge_1", "edge_4"}  # conv edges only (ops 3, 2, 3)
  assert set(v["params"]["edge_0"]) == {"nor_conv_3x3"}
  assert set(v["params"]["edge_1"]) == {"nor_conv_1x1"}
  assert v["params"]["edge_0"]["nor_conv_3x3"]["conv"]["kernel"].shape == (3, 3, C, C)
  assert set(vs["params"]["edge_5"]) == {"nor_conv_1x1", "nor_conv_3x3"}


def test_network_paths_mirror(x, supernet_vars):
  for arch in ARCHS:
    net, v = _discrete_vars(arch, supernet_vars, x)  # restrict raises on any missing path/shape
    assert set(v["params"]) == {"stem", "cells_0", "cells_1", "cells_2", "cells_3", "cells_4",
                                "head"}
    assert jnn.count_params(net, input_shape=x.shape) == sum(
        a.size for a in jax.tree_util.tree_leaves(v["params"]))


def _check_equal(arch, supernet_vars, x, mode, train, got, got_state):
  """Supernet output/state for one-hot ``arch`` against the discrete network with the same
  params: same output, and in train mode the same running-statistics update."""
  net, v = _discrete_vars(arch, supernet_vars, x)
  want, want_state = net.apply(v, x, train, mutable=["batch_stats"])
  _close(got, want)
  _close(jnn.restrict(got_state, want_state), want_state)
  moved = jax.tree_util.tree_map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))),
                                 got_state["batch_stats"], supernet_vars["batch_stats"])
  for k, op in enumerate(arch):
    for conv in (nb201.CONV1X1, nb201.CONV3X3):
      # select/hard move only the selected op's statistics; mixed moves both (as DARTS does)
      expect = train and (mode == "mixed" or op == conv)
      assert moved["cells_0"][f"edge_{k}"][nb201.OPS[conv]]["bn_layer"]["mean"] == expect


@pytest.mark.parametrize("mode", jnn.nb201.MODES)
@pytest.mark.parametrize("train", [True, False])
def test_one_hot_supernet_equals_discrete_network(x, supernet_vars, mode, train):
  sup = jnn.supernet_nb201(CLASSES, C, N, mode=mode)
  for arch in ARCHS:
    got, got_state = sup.apply(supernet_vars, x, jnn.one_hot(arch), train, mutable=["batch_stats"])
    _check_equal(arch, supernet_vars, x, mode, train, got, got_state)


@pytest.mark.parametrize("track", [True, False])
def test_one_hot_supernet_equals_discrete_network_search_bn(x, track):
  """The search-cell recipe: non-affine BN (so, by NB201's rule, conv biases), optionally
  without running statistics."""
  kw = dict(cell_bn=layers.BNConfig(affine=False, track_running_stats=track))
  sup = jnn.supernet_nb201(CLASSES, C, N, mode="select", **kw)
  variables = _fill(sup, x, jnn.one_hot(ARCHS[0]), train=False, seed=5)
  assert set(variables["params"]["cells_0"]["edge_0"]["nor_conv_1x1"]) == {"conv"}
  assert "bias" in variables["params"]["cells_0"]["edge_0"]["nor_conv_1x1"]["conv"]
  for arch in ARCHS[:1]:  # both conv types; the other ops are BN-free
    net, v = _discrete_vars(arch, variables, x, **kw)
    for train in (True, False):
      _close(sup.apply(variables, x, jnn.one_hot(arch), train), net.apply(v, x, train))


def test_select_mode_vmapped_over_archs_equals_discrete_networks(x, supernet_vars):
  """Scoring many archs with shared params: one compiled program, vmapped over op_weights."""
  sup = jnn.supernet_nb201(CLASSES, C, N, mode="select")
  run = jax.jit(jax.vmap(lambda w: sup.apply(supernet_vars, x, w, True)))
  archs = np.asarray(ARCHS + [[4, 1, 0, 3, 3, 2]])
  logits = run(jnn.one_hot(archs))
  assert logits.shape == (len(archs), x.shape[0], CLASSES)
  for i, arch in enumerate(archs):
    net, v = _discrete_vars(arch, supernet_vars, x)
    _close(logits[i], net.apply(v, x, True))


def test_hard_mode_gradients_follow_gdas(x):
  """GDAS: the selected op's weight gets <dL/dout, op(x)> (as in the DARTS weighted sum); each
  unselected weight, added as a scalar, gets sum(dL/dout)."""
  h = jnp.asarray(np.random.default_rng(3).normal(size=(4, 8, 8, C)), jnp.float32)
  v = _fill(jnn.nb201.MixedOp(C), h, jnp.ones(5), train=True)

  def loss(mode, w):
    out = jnn.nb201.MixedOp(C, mode=mode).apply(v, h, w, True)
    return jnp.sum(jnp.sin(1.7 * out)), out

  hard = jax.jit(jax.value_and_grad(functools.partial(loss, "hard"), has_aux=True))
  mixed = jax.jit(jax.value_and_grad(functools.partial(loss, "mixed"), has_aux=True))
  for sel in range(5):
    w = jax.nn.one_hot(sel, 5)
    (_, out_h), g_h = hard(w)
    (_, out_m), g_m = mixed(w)
    _close(out_h, out_m)
    _close(g_h[sel], g_m[sel], tol=1e-4)
    unselected = np.delete(np.asarray(g_h), sel)
    _close(unselected, np.full(4, float(jnp.sum(1.7 * jnp.cos(1.7 * out_h)))), tol=1e-3)


def test_avg_pool_matches_flax_and_differentiates_under_jit():
  h = jnp.asarray(np.random.default_rng(8).normal(size=(2, 5, 4, 3)), jnp.float32)

  def ref(h):
    return flax.linen.avg_pool(h, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                               count_include_pad=False)

  _close(layers.avg_pool_3x3(h), ref(h), tol=1e-6)
  loss = lambda pool: (lambda h: jnp.sum(pool(h) ** 2))
  _close(jax.jit(jax.grad(loss(layers.avg_pool_3x3)))(h), jax.grad(loss(ref))(h), tol=1e-5)


def test_mixed_mode_is_the_weighted_sum_of_ops():
  """A soft-weighted MixedOp equals the weighted sum of separately computed discrete edges."""
  h = jnp.asarray(np.random.default_rng(3).normal(size=(4, 8, 8, C)), jnp.float32)
  w = jax.nn.softmax(jnp.asarray([0.3, -1.0, 0.5, 1.2, 0.1]))
  v = _fill(jnn.nb201.MixedOp(C), h, w, train=True)
  for train in (True, False):
    got = jnn.nb201.MixedOp(C, mode="mixed").apply(v, h, w, train)
    want = 0.0
    for o in range(5):
      edge = jnn.nb201.Edge(o, C)
      like = _stateful(jax.eval_shape(functools.partial(edge.init, train=train), _key(), h))
      want = want + w[o] * edge.apply(jnn.restrict(v, like), h, train)
    _close(got, want)


def test_partial_channels_shuffle_and_shapes(x):
  op = jnn.nb201.MixedOp(8, mode="mixed", partial_channels=4)
  h = jnp.asarray(np.random.default_rng(6).normal(size=(2, 4, 4, 8)), jnp.float32)
  skip = jax.nn.one_hot(nb201.SKIP, 5)
  v = _fill(op, h, skip, train=True)
  assert v["params"]["nor_conv_3x3"]["conv"]["kernel"].shape == (3, 3, 2, 2)
  out = op.apply(v, h, skip, True)
  # skip on the 2 processed channels + 6 bypassed ones, shuffled with 4 groups: a permutation
  np.testing.assert_array_equal(np.asarray(out), np.asarray(h)[..., [0, 2, 4, 6, 1, 3, 5, 7]])
  conv = jax.nn.one_hot(nb201.CONV3X3, 5)
  out = op.apply(v, h, conv, True)
  # the bypassed channels 2..7 are untouched by the conv, just shuffled
  np.testing.assert_array_equal(np.asarray(out)[..., [1, 5, 2, 6, 3, 7]],
                                np.asarray(h)[..., [2, 3, 4, 5, 6, 7]])
  sup = jnn.supernet_nb201(CLASSES, 8, N, partial_channels=4)
  y = jax.eval_shape(lambda: sup.init_with_output(_key(), x, jnp.full((6, 5), 0.2), False)[0])
  assert y.shape == (x.shape[0], CLASSES)


def test_bn_config_modes(x):
  arch = ARCHS[1]
  net = jnn.compile_nb201(arch, CLASSES, C, N, bn=layers.BNConfig(track_running_stats=False),
                          cell_bn=layers.BNConfig(affine=False, track_running_stats=False))
  v = _fill(net, x, train=False)
  assert "batch_stats" not in v
  assert set(v["params"]["cells_0"]["edge_0"]["nor_conv_1x1"]) == {"conv"}  # no BN params
  assert set(v["params"]["stem"]["bn"]) == {"scale", "bias"}
  # without running statistics, eval mode also normalises with batch statistics
  _close(net.apply(v, x, False), net.apply(v, x, True))
  # with them (NB201), eval and train differ and only a mutable train pass moves the statistics
  net = jnn.compile_nb201(arch, CLASSES, C, N)
  v = _fill(net, x, train=False)
  assert not np.allclose(net.apply(v, x, False), net.apply(v, x, True))
  _, st = net.apply(v, x, True, mutable=["batch_stats"])
  m0 = v["batch_stats"]["stem"]["bn"]["mean"]
  stem = layers.conv2d(x, v["params"]["stem"]["conv"]["kernel"], 1, 1)
  _close(st["batch_stats"]["stem"]["bn"]["mean"], 0.9 * m0 + 0.1 * jnp.mean(stem, axis=(0, 1, 2)))


def test_probes_are_sown(x, supernet_vars):
  net, v = _discrete_vars(ARCHS[0], supernet_vars, x)
  _, st = net.apply(v, x, True, mutable=["intermediates"])
  inter = st["intermediates"]
  assert inter["head"]["features"][0].shape == (x.shape[0], 2, 2, 4 * C)
  assert "act" in inter["head"]
  assert "act" in inter["cells_0"]["edge_0"]["nor_conv_3x3"]
  assert "act" in inter["cells_1"]["conv_a"]  # reduction block ReLUs (cells_N)
  assert "act" in inter["cells_1"]["conv_b"]
  perts = jax.eval_shape(functools.partial(net.init, train=False), _key(), x)["perturbations"]
  assert "act" in perts["cells_0"]["edge_0"]["nor_conv_3x3"]


def test_compile_registry_and_errors(x):
  arch = nb201.from_string(nb201.to_string(nb201.Arch(ops=jnp.asarray(ARCHS[0]))))
  assert jnn.compile("nb201", arch, 10).arch == tuple(ARCHS[0])
  assert jnn.compile(None, arch, 10) == jnn.compile_nb201(ARCHS[0], 10)
  assert jnn.compile(nb201, nb201.to_string(arch), 10).arch == tuple(ARCHS[0])
  assert isinstance(jnn.compile("nb201", None, 10, mode="select"), jnn.NB201Supernet)
  # the registered space record and its registry name work too (they used to raise)
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  assert jnn.compile(spaces.get_space("nasbench201"), arch, 10).arch == tuple(ARCHS[0])
  assert jnn.compile("nasbench201", arch, 10).arch == tuple(ARCHS[0])
  # TransNAS-Bench-101 micro is registered too (tests/nn/test_nn_transnas_micro.py)
  assert isinstance(jnn.compile(spaces.get_space("transnas101_micro"), None, 10), jnn.cell.CellSupernet)
  with pytest.raises(ValueError, match="search space 'nb101'"):
    jnn.compile("nb101", arch, 10)
  with pytest.raises(ValueError, match="op index 7 out of range"):
    jnn.compile_nb201([0, 1, 2, 3, 4, 7], 10)
  with pytest.raises(ValueError, match="6 op indices"):
    jnn.compile_nb201([0, 1, 2], 10)
  with pytest.raises(ValueError, match="not an NB201 architecture string"):
    jnn.compile_nb201("|conv~0|", 10)
  with pytest.raises(ValueError, match="batch"):
    jnn.compile_nb201(nb201.Arch(ops=jnp.zeros((2, 6), jnp.int32)), 10)
  with pytest.raises(ValueError, match="unknown MixedOp mode"):
    jnn.supernet_nb201(10, mode="soft")
  with pytest.raises(ValueError, match="partial_channels"):
    jnn.supernet_nb201(10, C=16, partial_channels=3)
  net = jnn.compile_nb201(ARCHS[0], CLASSES, C, N)
  init = functools.partial(net.init, train=False)
  for shape, msg in [((4, 8, 8, 1), "RGB"), ((8, 8, 3), "RGB"), ((4, 10, 10, 3), "multiples of 4")]:
    with pytest.raises(ValueError, match=msg):
      jax.eval_shape(init, _key(), jnp.zeros(shape))
  sup = jnn.supernet_nb201(CLASSES, C, N)
  with pytest.raises(ValueError, match=r"op_weights must be f32\[6, 5\]"):
    jax.eval_shape(functools.partial(sup.init, train=False), _key(), x, jnp.zeros((5, 6)))
  with pytest.raises(ValueError, match="expects 4 input channels"):
    layers.Conv(4, 8, 3).init(_key(), jnp.zeros((1, 4, 4, 3)))
