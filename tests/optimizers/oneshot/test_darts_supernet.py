"""The DARTS search supernet (``jaxnas.nn.darts_supernet``) and the one-shot optimizers on it.

Default tests compile no network: the spec (alpha rows, PC-DARTS edge groups), path <-> Arch
conversions and ``discretize`` checked against DARTS's own ``Network.genotype`` rule (a transcription
in pure Python below) on hand-set and random alphas, through the optimizers' ``discretize``.
The ``extended`` tests compile tiny supernets: every optimizer takes steps, and first-order DARTS
runs through the one-shot driver (loss falls, valid genotype, resume bit-identical).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas import spaces
from jaxnas.nn import darts_supernet as dsn
from jaxnas.optimizers import oneshot
from jaxnas.optimizers.oneshot.base import NO_ARCH, OneShotState

DARTS = spaces.get_space("darts")
PRIMITIVES = dsn.OPS


def darts_parse(W):
  """DARTS ``model_search.Network.genotype._parse`` (Liu et al.'s code, transcribed): per node
  the 2 inputs whose best non-``none`` weight is largest, each with that op -> [(op, input)]."""
  gene, n, start = [], 2, 0
  for i in range(4):
    end = start + n
    w = W[start:end].copy()
    edges = sorted(range(i + 2), key=lambda x: -max(
        w[x][k] for k in range(len(w[x])) if k != PRIMITIVES.index("none")))[:2]
    for j in edges:
      k_best = None
      for k in range(len(w[j])):
        if k != PRIMITIVES.index("none"):
          if k_best is None or w[j][k] > w[j][k_best]:
            k_best = k
      gene.append((PRIMITIVES[k_best], j))
    start = end
    n += 1
  return gene


def as_gene(cell):
  return [(PRIMITIVES[int(o) + 1], int(i)) for i, o in np.asarray(cell)]


def test_spec_shape_and_edge_groups():
  spec = jnn.supernet_spec("darts")
  assert spec is dsn.SUPERNET_SPEC and spec.alpha_shape == (28, 8)
  assert spec.ops[0] == "none" and spec.ops[1:] == DARTS.ops
  assert spec.edges[:14] == dsn.CELL_EDGES and len(set(spec.edges)) == 28
  # PC-DARTS normalises beta over the edges entering one node of one cell type: 8 groups
  t = np.asarray(spec.edge_targets)
  assert sorted(np.bincount(t)[np.bincount(t) > 0]) == [2, 2, 3, 3, 4, 4, 5, 5]
  norm = np.asarray(spec.edge_normalisation(jnp.arange(28.0) / 7))
  for g in np.unique(t):
    np.testing.assert_allclose(norm[t == g].sum(), 1.0, rtol=1e-6)
  net = jnn.compile("darts", None, 10, C=4, layers=3)
  assert net.spec is spec and dsn.reduction_cells(8) == (2, 5) and dsn.reduction_cells(3) == (1, 2)


def test_paths_round_trip_and_sampler():
  archs = DARTS.sample(jax.random.key(0), (50,))
  ops = np.asarray(dsn.arch_to_ops(archs))  # [50, 28]
  assert ops.shape == (50, 28) and ((ops > 0).sum(-1) == 16).all()
  back = dsn.SUPERNET_SPEC.to_arch(ops)  # the path's Arch (pair order canonical)
  assert bool(jnp.all(DARTS.is_valid(back)))
  np.testing.assert_array_equal(np.asarray(DARTS.fingerprint(back)),
                                np.asarray(DARTS.fingerprint(archs)))
  hot = np.asarray(dsn.SUPERNET_SPEC.one_hot(archs))
  np.testing.assert_array_equal(hot.argmax(-1), ops)
  np.testing.assert_array_equal(hot, np.asarray(dsn.SUPERNET_SPEC.one_hot(jnp.asarray(ops))))
  paths = np.asarray(jax.vmap(dsn.SUPERNET_SPEC.sample_ops)(jax.random.split(jax.random.key(1), 20)))
  assert bool(jnp.all(DARTS.is_valid(dsn.SUPERNET_SPEC.to_arch(paths))))
  assert ((paths > 0).sum(-1) == 16).all() and len({p.tobytes() for p in paths}) == 20


def test_discretize_is_darts_rule_on_hand_set_alphas():
  w = np.full((28, 8), 0.01, np.float32)
  # normal node 2 (edges 0, 1): `none` dominates edge 0 but does not count
  w[0] = [0.9, 0.01, 0.01, 0.02, 0.03, 0.01, 0.01, 0.01]
  w[1] = [0.1, 0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1]
  # node 3 (edges 2-4): input 2 strongest (dil_conv_3x3), then input 0 (skip)
  w[2, 3], w[3, 4], w[4, 6] = 0.3, 0.2, 0.5
  # node 5 (edges 9-13): a tie between inputs 1 and 4 -> the lower input first (sorted is stable)
  w[10, 2], w[13, 7] = 0.6, 0.6
  a = dsn.discretize(jnp.asarray(w))
  gene = as_gene(a.normal)
  assert gene[:4] == [("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_3x3", 2),
                      ("skip_connect", 0)]
  assert gene[6:] == [("avg_pool_3x3", 1), ("dil_conv_5x5", 4)]
  assert gene == darts_parse(w[:14]) and as_gene(a.reduce) == darts_parse(w[14:])
  rng = np.random.default_rng(0)
  for _ in range(20):
    w = jax.nn.softmax(jnp.asarray(rng.normal(size=(28, 8)), jnp.float32), -1)
    a = dsn.discretize(w)
    assert bool(DARTS.is_valid(a))
    assert as_gene(a.normal) == darts_parse(np.asarray(w[:14]))
    assert as_gene(a.reduce) == darts_parse(np.asarray(w[14:]))
    assert DARTS.to_string(a).startswith("[[(")


def _state(alpha, best=None, **extra):
  return OneShotState(step=jnp.zeros((), jnp.int32), params={}, batch_stats={},
                      alphas={"alpha": alpha, **extra}, w_opt=None, a_opt=None,
                      best=jnp.full((28,), NO_ARCH, jnp.int32) if best is None else best)


@pytest.mark.parametrize("name", list(oneshot.ONESHOT))
def test_every_optimizer_discretizes_to_a_valid_genotype(name):
  """No compile of the network: the optimizers' ``discretize`` on hand-set alphas is DARTS's
  rule on their op distribution; RSWS / OneShot return the scored path (``state.best``)."""
  net = jnn.compile("darts", None, 10, C=4, layers=3)
  opt = oneshot.make(name, net, epochs=1, steps_per_epoch=1)
  assert opt.spec is dsn.SUPERNET_SPEC
  alpha = jnp.asarray(np.random.default_rng(1).normal(size=(28, 8)), jnp.float32)
  extra = {"beta": jnp.zeros(28)} if name == "pcdarts" else {}
  if name in ("rsws", "oneshot"):
    path = dsn.SUPERNET_SPEC.sample_ops(jax.random.key(2))
    a = opt.discretize(_state(alpha, best=path))
    np.testing.assert_array_equal(np.asarray(dsn.arch_to_ops(a)), np.asarray(path))
  else:
    a = opt.discretize(_state(alpha, **extra))
    w = np.asarray(opt.op_weights(_state(alpha, **extra)))
    assert as_gene(a.normal) == darts_parse(w[:14]) and as_gene(a.reduce) == darts_parse(w[14:])
  assert bool(DARTS.is_valid(a)) and spaces.darts.genotype_string(a).startswith("Genotype(normal=[(")


def test_pcdarts_discretizes_with_the_beta_weighted_strengths():
  """PC-DARTS on the DARTS space ranks a node's edges by softmax(alpha) x the node's softmax(beta)
  (its ``genotype``'s ``_parse(weights, weights2)``); on NB201 its op weights stay
  softmax(alpha)."""
  net = jnn.compile("darts", None, 10, C=4, layers=3)
  opt = oneshot.make("pcdarts", net, epochs=1, steps_per_epoch=1, partial_channels=2)
  alpha = np.zeros((28, 8), np.float32)
  alpha[2, 4], alpha[3, 5], alpha[4, 6] = 3.0, 2.0, 1.0  # node 3: inputs 0 > 1 > 2 on alpha alone
  alpha[16, 2], alpha[17, 3], alpha[18, 7] = 1.0, 2.0, 3.0  # reduce node 3: inputs 2 > 1 > 0
  beta = np.zeros(28, np.float32)
  beta[4], beta[16] = 4.0, 4.0  # the weakest edge by alpha of each node 3 gets the largest beta
  state = _state(jnp.asarray(alpha), beta=jnp.asarray(beta))
  a = opt.discretize(state)
  probs = np.asarray(jax.nn.softmax(jnp.asarray(alpha), -1))
  w = probs * np.asarray(dsn.SUPERNET_SPEC.edge_normalisation(jnp.asarray(beta)))[:, None]
  np.testing.assert_allclose(np.asarray(opt.op_weights(state)), w, rtol=1e-6)
  assert as_gene(a.normal) == darts_parse(w[:14]) and as_gene(a.reduce) == darts_parse(w[14:])
  assert as_gene(a.normal)[2:4] == [("dil_conv_3x3", 2), ("sep_conv_3x3", 0)]
  assert as_gene(a.reduce)[2:4] == [("avg_pool_3x3", 0), ("dil_conv_5x5", 2)]
  assert darts_parse(probs[:14])[2:4] == [("sep_conv_3x3", 0), ("sep_conv_5x5", 1)]  # beta matters
  # NB201 keeps every edge: its PC-DARTS op weights (and argmax) are softmax(alpha) as before
  nb = oneshot.make("pcdarts", jnn.supernet_nb201(10, 4, 1), epochs=1, steps_per_epoch=1,
                    partial_channels=2)
  a6, b6 = jnp.asarray(alpha[:6, :5]), jnp.asarray(beta[:6])
  st = OneShotState(step=jnp.zeros((), jnp.int32), params={}, batch_stats={},
                    alphas={"alpha": a6, "beta": b6}, w_opt=None, a_opt=None,
                    best=jnp.full((6,), NO_ARCH, jnp.int32))
  np.testing.assert_allclose(np.asarray(nb.op_weights(st)), np.asarray(jax.nn.softmax(a6, -1)))


@pytest.mark.parametrize("stride", [1, 2])
def test_pcdarts_bypass_on_normal_and_reducing_edges(stride):
  """PC-DARTS's MixedOp (``partial_channels`` K=4, C=8): the ops see the first C/K channels, the
  other channels go around them, max-pooled 2x2/2 on a reducing edge (PC-DARTS's ``self.mp``),
  then ``channel_shuffle(K)``. With ``none`` selected the processed channels are zero and the rest
  is the (pooled) bypass; a conv op's kernel is C/K wide."""
  from jaxnas.nn import cell as ncell  # pylint: disable=import-outside-toplevel
  op = ncell.MixedOp(dsn.LIBRARY, 8, 8, stride, dsn.DEFAULT_CELL_BN, "mixed", 4)
  x = jnp.asarray(np.random.default_rng(7).normal(size=(2, 6, 6, 8)), jnp.float32)
  w = jax.nn.one_hot(dsn.NONE, len(dsn.OPS))
  v = op.init(jax.random.key(0), x, w, True)
  assert v["params"]["sep_conv_3x3"]["op1"]["pw"]["kernel"].shape == (1, 1, 2, 2)
  assert v["params"]["sep_conv_3x3"]["op1"]["dw"]["kernel"].shape == (3, 3, 1, 2)
  out = np.asarray(op.apply(v, x, w, True))
  h = 6 // stride
  assert out.shape == (2, h, h, 8)
  rest = np.asarray(x)[..., 2:]
  if stride == 2:  # max over each 2x2 block
    rest = rest.reshape(2, 3, 2, 3, 2, 6).max(axis=(2, 4))
  unshuffled = out.reshape(2, h, h, 2, 4).swapaxes(-1, -2).reshape(2, h, h, 8)
  np.testing.assert_array_equal(unshuffled[..., :2], 0.0)
  np.testing.assert_array_equal(unshuffled[..., 2:], rest)


# ----------------------------------------------------------------------------- extended (compiles)

FAST = dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)
B = 8


@pytest.fixture(scope="module")
def tiny_batches():
  k1, k2 = jax.random.split(jax.random.key(0))
  x = jax.random.normal(k1, (2, B, 8, 8, 3), jnp.float32)
  y = jax.random.randint(k2, (2, B), 0, 10)
  return (x[0], y[0]), (x[1], y[1])


CONFIGS = ("darts", "pcdarts", "gdas", "snas", "drnas", "rsws", "oneshot")


def test_configs_have_the_nb201_keys_and_the_darts_network():
  from jaxnas.config import load_config
  from jaxnas.drivers import oneshot as drv
  from jaxnas.paths import REPO_ROOT
  nb = load_config(str(REPO_ROOT / "configs" / "nb201_darts.py"))
  for name in CONFIGS:
    c = load_config(str(REPO_ROOT / "configs" / f"darts_{name}.py"))
    assert c.search_space == "darts" and c.optimizer.name == name
    assert set(c.keys()) == set(nb.keys()) and set(c.data.keys()) == set(nb.data.keys())
    assert dict(c.network) == {"channels": 16, "layers": 8}
    assert dict(c.benchmark) == {"name": "", "path": "", "dataset": ""}
    assert set(c.optimizer.keys()) == {"name", *oneshot.hyperparameters(name)}
    smoke = load_config(str(REPO_ROOT / "configs" / f"darts_{name}.py") + ":smoke")
    assert dict(smoke.network) == {"channels": 4, "layers": 3} and smoke.data.image_size == 8
  with pytest.raises(ValueError, match="unknown config preset 'big' for search space 'darts'; "
                     "valid: smoke"):
    load_config(str(REPO_ROOT / "configs" / "darts_gdas.py") + ":big")
  assert dict(drv.network_kwargs(c)) == {"C": 16, "layers": 8}


def test_driver_errors_before_compiling(tmp_path):
  from jaxnas.drivers import oneshot as drv
  c = drv.oneshot_config("darts", search_space="darts")
  c.network.depth = 3
  with pytest.raises(ValueError, match="unknown network key 'depth' for search space darts"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = drv.oneshot_config("darts", search_space="darts")
  c.benchmark.name = "nasbench201"
  with pytest.raises(ValueError, match="indexes search space 'nasbench201', not 'darts'"):
    drv.run_oneshot(c, tmp_path, quiet=True)


def _tiny_driver_config(shared_data, name="darts"):
  from jaxnas.drivers import oneshot as drv
  c = drv.oneshot_config(name, search_space="darts")
  c.data.name = "fashion_mnist"
  c.data.path = str(shared_data / "images" / "fashion_mnist")
  c.data.max_examples = 128  # per search half: 256 images
  c.data.image_size = 8
  c.epochs, c.batch_size = 2, 32
  c.network.channels, c.network.layers = 2, 3  # cells: normal, reduce, reduce
  c.optimizer.lr, c.optimizer.arch_lr = 0.1, 3e-2
  return c


@pytest.mark.extended  # compiles the tiny DARTS supernet's init and step (~100 CPU-s, see README)
def test_darts_first_order_through_the_driver_resumes_bit_identically(shared_data, tmp_path):
  """First-order DARTS on the DARTS supernet, Fashion-MNIST: the training loss falls from the
  first epoch to the second, ``results.json`` holds a valid genotype per epoch, and a run killed
  after epoch 1 and resumed ends bit-identical to the uninterrupted one."""
  from jaxnas.drivers import oneshot as drv
  c = _tiny_driver_config(shared_data)
  full = drv.run_oneshot(c, tmp_path / "full", quiet=True)
  saved = json.loads((tmp_path / "full" / "results.json").read_text())
  assert saved["search_space"] == "darts" and saved["epochs_done"] == 2
  loss = saved["train_loss"]
  assert np.all(np.isfinite(loss)) and loss[1] < loss[0], loss
  assert len(saved["archs"]) == 2 and saved["best_arch"] == saved["archs"][-1]
  for s in saved["archs"]:
    assert bool(DARTS.is_valid(DARTS.from_string(s))), s
  w = np.asarray(saved["history"][-1]["op_weights"])
  assert w.shape == (28, 8)
  assert DARTS.to_string(dsn.discretize(jnp.asarray(w, jnp.float32))) == saved["best_arch"]
  assert saved["benchmark_val_accuracy"] == [None, None] and "benchmark_note" in saved
  assert (tmp_path / "full" / "alphas.png").stat().st_size > 0
  part = drv.run_oneshot(c, tmp_path / "resumed", quiet=True, stop_after=1)
  assert part["epochs_done"] == 1
  resumed = drv.run_oneshot(c, tmp_path / "resumed", quiet=True)
  assert resumed["epochs_done"] == 2 and resumed["archs"] == full["archs"]
  assert resumed["train_loss"] == full["train_loss"]
  for a, b in zip(jax.tree.leaves(full["state"]), jax.tree.leaves(resumed["state"])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.extended  # traces 7 bilevel steps of the tiny supernet (~15 CPU-s each, no compile)
def test_all_seven_optimizers_build_their_step_on_the_darts_supernet(tiny_batches):
  """Every optimizer's ``init`` and ``step`` trace on the tiny DARTS supernet (C=2, 3 cells, 8x8;
  ``jax.eval_shape``, nothing compiles: a compile costs ~85 CPU-s per optimizer here): the step
  maps the state to one of the same structure, shapes and dtypes, alphas ``[28, 8]`` (+ PC-DARTS's
  ``beta [28]``), scalar float metrics. First-order DARTS runs for real in the driver test."""
  net = jnn.compile("darts", None, 10, C=2, layers=3)
  key = jax.random.key(0)
  train, valid = tiny_batches
  for name in oneshot.ONESHOT:
    kw = {"partial_channels": 2} if name == "pcdarts" else {}
    opt = oneshot.make(name, net, epochs=1, steps_per_epoch=1, **kw)
    state = jax.eval_shape(opt.init, key, train)
    assert state.alphas["alpha"].shape == (28, 8) and state.best.shape == (28,)
    assert ("beta" in state.alphas) == (name == "pcdarts")
    new, m = jax.eval_shape(opt.step, key, state, train, valid)
    assert jax.tree.structure(new) == jax.tree.structure(state), name
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state)):
      assert (a.shape, a.dtype) == (b.shape, b.dtype), name
    assert all(v.shape == () and v.dtype == jnp.float32 for v in jax.tree.leaves(m)), name
