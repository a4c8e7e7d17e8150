"""One-shot optimizers: the shared contract (registry-parametrized), the DARTS second-order
hypergradient against finite differences, scoring, and bad input.

The contract runs every optimizer on Fashion-MNIST (shared data, 8x8) with a small stand-in
supernet (a Flax module with the NB201 supernet's interface: ``apply(v, x, op_weights[6, 5],
train)``, linear in the op weights like the MixedOp) because the real supernet takes tens of
seconds to compile per optimizer on 2 CPU cores; the real supernet is exercised by the
hypergradient test, the scoring test and the driver test (tests/optimizers/oneshot/
test_driver.py), and every optimizer on it by ``jaxnas.optimizers.oneshot.bench fashion``.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnas import data
from jaxnas import nn as jnn
from jaxnas.optimizers import oneshot
from jaxnas.spaces import nb201

STEPS = 60
B = 32


class StandIn(nn.Module):
  """A cheap supernet: a hidden layer, then one linear head per (edge, op), mixed by the op
  weights (``mode`` / ``partial_channels`` / ``C`` exist only to satisfy the factories)."""

  num_classes: int = 10
  C: int = 4
  mode: str = "mixed"
  partial_channels: int = 1

  @nn.compact
  def __call__(self, x, op_weights, train):
    h = nn.relu(nn.Dense(16)(x.reshape(x.shape[0], -1)))
    heads = self.param("heads", nn.initializers.normal(0.1), (6, 5, 16, self.num_classes))
    return jnp.einsum("bf,eofc,eo->bc", h, heads, op_weights)


@pytest.fixture(scope="module")
def fashion(shared_data):
  ds = data.load_dataset("fashion_mnist", shared_data / "images" / "fashion_mnist", "train",
                         max_examples=2 * STEPS * B, image_size=8, channels=3)
  x = jnp.asarray(ds.images).reshape(2, STEPS, B, 8, 8, 3)
  y = jnp.asarray(ds.labels).reshape(2, STEPS, B)
  return (x[0], y[0]), (x[1], y[1])


def _run(opt):
  """init + STEPS steps under one jit (scan); returns the final state and the metrics."""
  traces = []

  @jax.jit
  def run(key, train, valid):
    traces.append(1)
    state = opt.init(key, (train[0][0], train[1][0]))

    def body(st, xs):
      i, tx, ty, vx, vy = xs
      return opt.step(jax.random.fold_in(key, i), st, (tx, ty), (vx, vy))

    return jax.lax.scan(body, state, (jnp.arange(STEPS), *train, *valid))

  return run, traces


@pytest.mark.parametrize("name", list(oneshot.ONESHOT) + ["darts_2nd"])
def test_contract(name, fashion):
  """Lowers the training loss, gives a valid arch, same key -> same result, compiles once."""
  train, valid = fashion
  hp = {"second_order": True} if name == "darts_2nd" else {}
  opt = oneshot.make(name.removesuffix("_2nd"), StandIn(), epochs=2, steps_per_epoch=STEPS // 2,
                     **hp)
  run, traces = _run(opt)
  key = jax.random.key(0)
  state, m = run(key, train, valid)
  first = state
  loss = np.asarray(m.train_loss)
  assert np.all(np.isfinite(loss)) and np.all(np.isfinite(np.asarray(m.valid_loss)))
  assert loss[-10:].mean() < loss[:10].mean() - 0.2, loss
  if name in ("rsws", "oneshot"):
    np.testing.assert_array_equal(state.best, oneshot.NO_ARCH)  # nothing scored yet
    np.testing.assert_array_equal(state.alphas["alpha"], opt.init(key, (train[0][0],
                                                                        train[1][0])).alphas["alpha"])
    archs = nb201.Arch(ops=jax.vmap(oneshot.sample_valid_ops)(jax.random.split(key, 8)))
    s = opt.score(state, archs, (valid[0][0], valid[1][0]))
    assert s.shape == (8,) and np.all((s >= 0) & (s <= 1))
    state = state.replace(best=archs.ops[int(jnp.argmax(s))])
    np.testing.assert_array_equal(opt.discretize(state).ops, state.best)
  else:
    assert not np.allclose(state.alphas["alpha"], opt.init(key, (train[0][0],
                                                                 train[1][0])).alphas["alpha"])
    w = opt.op_weights(state)
    np.testing.assert_allclose(np.sum(w, -1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(opt.discretize(state).ops, np.argmax(w, -1))
  # The discretized cell, checked on its raw integers (is_valid of an argmax cannot fail): int32
  # op indices in range, and for the alpha-based optimizers the op of largest alpha per edge,
  # computed here in numpy (every one of them ranks ops by alpha: softmax, Gumbel-softmax,
  # and DrNAS's Dirichlet mean are monotone in it).
  arch = opt.discretize(state)
  ops = np.asarray(arch.ops)
  assert ops.shape == (6,) and ops.dtype == np.int32 and np.all((ops >= 0) & (ops < 5)), ops
  if name not in ("rsws", "oneshot"):
    np.testing.assert_array_equal(ops, np.argmax(np.asarray(state.alphas["alpha"]), -1))
  np.testing.assert_array_equal(nb201.from_string(nb201.to_string(arch)).ops, ops)
  state2, m2 = run(key, train, valid)  # same key, same program: the same run
  for a, b in zip(jax.tree_util.tree_leaves((first, m)), jax.tree_util.tree_leaves((state2, m2))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert len(traces) == 1
  if name in ("gdas", "snas"):
    tau = np.asarray(m.tau)
    assert tau[0] == pytest.approx(10.0 if name == "gdas" else 1.0, rel=1e-5)
    assert tau[-1] == pytest.approx(0.1 if name == "gdas" else 0.33, rel=1e-5)


def test_gumbel_hard_is_one_hot_with_soft_gradients():
  a = jax.random.normal(jax.random.key(1), (6, 5))
  w = oneshot.gumbel_hard(jax.random.key(2), a, 1.0)
  np.testing.assert_allclose(np.sort(np.asarray(w), -1)[:, -1], 1.0, atol=1e-6)
  np.testing.assert_allclose(np.asarray(w).sum(-1), 1.0, atol=1e-6)
  g = jax.grad(lambda a: jnp.sum(oneshot.gumbel_hard(jax.random.key(2), a, 1.0)[:, 0] * 3.0))(a)
  assert np.any(np.asarray(g) != 0)


def test_edge_normalisation_and_dirichlet_kl():
  beta = jnp.asarray([0.3, 1.0, -1.0, 0.0, 2.0, 0.5])
  e = np.asarray(oneshot.edge_normalisation(beta))
  # targets: node 1 <- e0; node 2 <- e1, e2; node 3 <- e3, e4, e5
  np.testing.assert_allclose([e[0], e[1] + e[2], e[3] + e[4] + e[5]], 1.0, rtol=1e-6)
  np.testing.assert_allclose(e[1] / e[2], np.exp(2.0), rtol=1e-5)
  c = jnp.asarray([[1.0, 2.0, 3.0]])
  assert float(oneshot.dirichlet_kl(jnp.ones((1, 3)), jnp.ones((1, 3)))[0]) == pytest.approx(0.0)
  # Monte Carlo check of the closed form
  s = jax.random.dirichlet(jax.random.key(3), c[0], (200000,))
  logp = lambda x, a: (jnp.sum((a - 1) * jnp.log(x), -1) + jax.scipy.special.gammaln(a.sum())
                       - jnp.sum(jax.scipy.special.gammaln(a)))
  mc = float(jnp.mean(logp(s, c[0]) - logp(s, jnp.full(3, 1.5))))
  assert float(oneshot.dirichlet_kl(c, jnp.full((1, 3), 1.5))[0]) == pytest.approx(mc, rel=0.05)


def _central_differences(opt, state, key, train, valid, eps_fd=1e-6):
  """Central differences of the unrolled objective along three random directions (float64);
  the six perturbed objectives are one jitted, vmapped program."""
  dirs = [jax.tree_util.tree_map(
      lambda v, i=i: jax.random.normal(jax.random.key(10 + i), v.shape, v.dtype), state.alphas)
          for i in range(3)]
  signs = jnp.asarray([1.0, -1.0] * 3, jnp.float64)
  stacked = jax.tree_util.tree_map(lambda *d: jnp.stack([x for x in d for _ in (0, 1)]), *dirs)

  @jax.jit
  def objectives(state, stacked):
    alphas = jax.tree_util.tree_map(lambda a, d: a[None] + eps_fd * signs.reshape(
        (-1,) + (1,) * a.ndim) * d, state.alphas, stacked)
    return jax.vmap(lambda a: opt.objective(key, state, a, train, valid)[0])(alphas)

  obj = np.asarray(objectives(state, stacked), np.float64)
  fd = [(obj[2 * i] - obj[2 * i + 1]) / (2 * eps_fd) for i in range(3)]
  return dirs, fd


def _float64(tree):
  return jax.tree_util.tree_map(
      lambda v: v.astype(jnp.float64) if jnp.issubdtype(v.dtype, jnp.floating) else v, tree)


class SmoothStandIn(StandIn):
  """``StandIn`` with ``tanh`` instead of ``relu``: smooth, so finite differences converge."""

  @nn.compact
  def __call__(self, x, op_weights, train):
    h = jnp.tanh(nn.Dense(16)(x.reshape(x.shape[0], -1)))
    heads = self.param("heads", nn.initializers.normal(0.1), (6, 5, 16, self.num_classes))
    return jnp.einsum("bf,eofc,eo->bc", h, heads, op_weights)


def test_darts_second_order_hypergradient_matches_finite_differences(fashion):
  """Exact unrolled hypergradient == central finite differences of the unrolled objective and
  == Liu et al.'s formula ``dL_val/da(w') - xi [dL_train/da(w+) - dL_train/da(w-)] / 2 eps``
  with ``w+- = w +- eps dL_val/dw(w')``, in float64.

  The network is a smooth stand-in with the supernet's interface (``apply(v, x, op_weights,
  train)``, linear in the op weights like the MixedOp): the bilevel core differentiates
  ``network.apply`` as a black box, so the hypergradient's correctness does not depend on which
  network it is. A smooth one makes the difference quotients converge: on the real tiny NB201
  supernet (ReLU kinks close together) they swing from -0.19 to -10.8 between steps 1e-3 and
  1e-5, agree only at 1e-6 in float64, and grad-of-grad of that supernet cost this test 104 s
  (eager) or minutes of XLA compile (jit). The real supernet's second-order step is compiled and
  timed by ``python -m jaxnas.bench supernet --cases darts_2nd``.
  """
  with jax.enable_x64(True):
    train, valid = fashion
    net = SmoothStandIn()
    xi = 0.05  # large enough that the second-order term is far above float64 noise
    tx = optax.sgd(xi)  # plain SGD: Liu et al.'s w' = w - xi dL_train/dw
    opt2 = oneshot.darts(net, epochs=1, steps_per_epoch=1, second_order=True, w_tx=tx,
                         hessian="exact")
    opt1 = oneshot.darts(net, epochs=1, steps_per_epoch=1, w_tx=tx)
    tb = _float64((train[0][0][:8], train[1][0][:8]))
    vb = _float64((valid[0][0][:8], valid[1][0][:8]))
    key = jax.random.key(0)
    state = _float64(jax.jit(opt2.init)(key, tb))
    state = state.replace(alphas={"alpha": jax.random.normal(jax.random.key(5), (6, 5),
                                                             jnp.float64)})
    hyper = jax.jit(lambda state: (opt2.hypergradient(key, state, tb, vb)[0]["alpha"],
                                   opt1.hypergradient(key, state, tb, vb)[0]["alpha"]))
    g2, g1 = hyper(state)
    assert g2.dtype == jnp.float64

    dirs, fd = _central_differences(opt2, state, key, tb, vb)
    for dr, f in zip(dirs, fd):
      exact = float(jnp.sum(g2 * dr["alpha"]))
      assert exact == pytest.approx(f, rel=1e-6, abs=1e-9), (exact, f)

    # Liu et al.'s finite-difference Hessian-vector product (Eq. 7-8); the batches carry no
    # randomness in DARTS's weights, so the keys do not matter.
    def loss(params, alpha, batch):
      logits = net.apply({"params": params}, batch[0], jax.nn.softmax(alpha, -1), True)
      return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()

    @functools.partial(jax.jit, static_argnums=2)
    def liu_formula(params, a, radius=1e-6):
      w1 = jax.tree_util.tree_map(lambda p, g: p - xi * g, params, jax.grad(loss)(params, a, tb))
      gw, ga = jax.grad(loss, argnums=(0, 1))(w1, a, vb)
      norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree_util.tree_leaves(gw)))
      eps = radius / norm
      wp = jax.tree_util.tree_map(lambda p, g: p + eps * g, params, gw)
      wm = jax.tree_util.tree_map(lambda p, g: p - eps * g, params, gw)
      da = jax.grad(loss, argnums=1)
      return ga - xi * (da(wp, a, tb) - da(wm, a, tb)) / (2 * eps)

    liu = liu_formula(state.params, state.alphas["alpha"])
    np.testing.assert_allclose(np.asarray(g2), np.asarray(liu), rtol=1e-3,
                               atol=1e-3 * float(jnp.max(jnp.abs(g2))))
    # ... and the second-order term is really there
    assert float(jnp.max(jnp.abs(g2 - g1))) > 0.1 * float(jnp.max(jnp.abs(g2)))

    # the default hessian="finite_difference" is that formula at DARTS's radius 0.01 (the same
    # two points, up to float64 rounding), within the difference's O(r^2) error of the exact one
    fd_opt = oneshot.darts(net, epochs=1, steps_per_epoch=1, second_order=True, w_tx=tx)
    g_fd = jax.jit(lambda s: fd_opt.hypergradient(key, s, tb, vb)[0]["alpha"])(state)
    liu_01 = liu_formula(state.params, state.alphas["alpha"], 0.01)
    np.testing.assert_allclose(np.asarray(g_fd), np.asarray(liu_01), rtol=1e-8,
                               atol=1e-10 * float(jnp.max(jnp.abs(g2))))
    fd_err = float(jnp.max(jnp.abs(g_fd - g2))) / float(jnp.max(jnp.abs(g2 - g1)))
    assert 0 < fd_err < 1e-3, fd_err


def test_factory_errors():
  net = jnn.supernet_nb201(10, 6, 1)
  with pytest.raises(ValueError, match="unknown one-shot optimizer 'enas'"):
    oneshot.make("enas", net, epochs=1, steps_per_epoch=1)
  with pytest.raises(ValueError, match="unknown hyperparameter 'tau' for one-shot optimizer"):
    oneshot.make("darts", net, epochs=1, steps_per_epoch=1, tau=1.0)
  with pytest.raises(ValueError, match="partial_channels=4 must be >= 1 and divide"):
    oneshot.make("pcdarts", net, epochs=1, steps_per_epoch=1)
  with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
    oneshot.make("gdas", net, epochs=0, steps_per_epoch=1)
  with pytest.raises(ValueError, match="hessian='forward'; valid: 'exact', 'finite_difference'"):
    oneshot.make("darts", net, epochs=1, steps_per_epoch=1, second_order=True, hessian="forward")
  with pytest.raises(ValueError, match="fd_radius=0.0 must be > 0"):
    oneshot.make("darts", net, epochs=1, steps_per_epoch=1, second_order=True, fd_radius=0.0)
  with pytest.raises(ValueError, match="NB201 supernet"):
    oneshot.make("gdas", object(), epochs=1, steps_per_epoch=1)
  assert oneshot.hyperparameters("gdas")["tau_max"] == 10.0
  assert oneshot.hyperparameters("darts")["second_order"] is False
  assert oneshot.hyperparameters("darts")["hessian"] == "finite_difference"  # as DARTS


class _NoForwardSpec(jnn.cell.SupernetSpec):
  """NB201's spec claiming no forward mode, as the DARTS space's (custom-VJP convs) does."""

  @property
  def forward_mode(self) -> bool:
    return False


def test_second_order_without_forward_mode_gives_the_same_hypergradient(fashion):
  """Where the supernet has no forward mode (``spec.forward_mode`` False: the DARTS space), the
  second-order mixed term is reverse over reverse; it equals the reverse-over-forward one."""
  import dataclasses
  with jax.enable_x64(True):
    train, valid = fashion
    net = SmoothStandIn()
    spec = jnn.supernet_spec("nasbench201")
    plain = _NoForwardSpec(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)})
    assert spec.forward_mode and not plain.forward_mode
    assert not jnn.supernet_spec("darts").forward_mode
    tx = optax.sgd(0.05)
    fwd = oneshot.darts(net, epochs=1, steps_per_epoch=1, second_order=True, w_tx=tx,
                        hessian="exact")
    rev = oneshot.darts(net, epochs=1, steps_per_epoch=1, second_order=True, w_tx=tx, spec=plain,
                        hessian="exact")
    tb = _float64((train[0][0][:8], train[1][0][:8]))
    vb = _float64((valid[0][0][:8], valid[1][0][:8]))
    key = jax.random.key(0)
    state = _float64(jax.jit(fwd.init)(key, tb))
    state = state.replace(alphas={"alpha": jax.random.normal(jax.random.key(5), (6, 5),
                                                             jnp.float64)})
    g_fwd = jax.jit(lambda s: fwd.hypergradient(key, s, tb, vb)[0]["alpha"])(state)
    g_rev = jax.jit(lambda s: rev.hypergradient(key, s, tb, vb)[0]["alpha"])(state)
    np.testing.assert_allclose(np.asarray(g_rev), np.asarray(g_fwd), rtol=1e-10, atol=1e-12)


def test_finite_difference_hypergradient_with_a_zero_weight_step(fashion):
  """A weight optimizer whose step ignores the gradient (SGD at lr 0) gives ``u = 0``: the
  finite-difference radius must not become ``0.01 / 0`` (NaN from ``inf * 0``); the second-order
  hypergradient is then the first-order one (``w' = w``)."""
  train, valid = fashion
  net = SmoothStandIn()
  tx = optax.sgd(0.0)
  opt2 = oneshot.darts(net, epochs=1, steps_per_epoch=1, second_order=True, w_tx=tx)
  opt1 = oneshot.darts(net, epochs=1, steps_per_epoch=1, w_tx=tx)
  tb, vb = (train[0][0][:8], train[1][0][:8]), (valid[0][0][:8], valid[1][0][:8])
  key = jax.random.key(0)
  state = jax.jit(opt2.init)(key, tb)
  g2, g1 = jax.jit(lambda s: (opt2.hypergradient(key, s, tb, vb)[0]["alpha"],
                              opt1.hypergradient(key, s, tb, vb)[0]["alpha"]))(state)
  assert np.all(np.isfinite(np.asarray(g2))) and float(jnp.max(jnp.abs(g1))) > 0
  np.testing.assert_allclose(np.asarray(g2), np.asarray(g1), rtol=1e-6, atol=1e-9)
