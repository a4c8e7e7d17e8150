"""One-shot search on spaces other than NB201, through the supernet spec: first-order DARTS on a
user-defined 5-node networkx cell with its own op library (Fashion-MNIST, tiny; the TransNAS-Bench-101
micro supernet is searched through the driver in test_driver_spaces.py); the spec's shapes, edge normalisation and sampler on a user cell;
the generic alpha plot.

Each search runs ``init`` + ``STEPS`` steps in one jitted ``lax.scan`` compiled with cheap XLA CPU
options (the real supernets are small here, but compiling them at full optimisation costs tens of
seconds on 2 shared cores).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import networkx as nx
import numpy as np
import pytest

from jaxnas import data
from jaxnas.nn import cell as ncell
from jaxnas.oneshot_driver import plot_op_weights
from jaxnas.optimizers import oneshot
from jaxnas.spaces import cell

STEPS = 30
B = 16
FAST = dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)


class MaxPool(nn.Module):
  """A user op: 3x3 max pooling, stride 1 (shape-keeping edges only)."""

  def __call__(self, x, train):
    return nn.max_pool(x, (3, 3), strides=(1, 1), padding="SAME")


# A user-defined cell in a few lines: a 5-node DAG, its own op names, and an op library.
USER_SPACE = cell.cell_space(
    "user5", nx.DiGraph([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]),
    ("zero", "identity", "conv3x3", "max_pool")).as_search_space()
USER_LIBRARY = {"zero": ncell.STANDARD_OPS["none"], "identity": ncell.STANDARD_OPS["skip_connect"],
                "conv3x3": ncell.STANDARD_OPS["nor_conv_3x3"],
                "max_pool": lambda c_in, c_out, stride, bn: MaxPool()}


@pytest.fixture(scope="module")
def fashion(shared_data):
  ds = data.load_dataset("fashion_mnist", shared_data / "images" / "fashion_mnist", "train",
                         max_examples=2 * STEPS * B, image_size=8, channels=3)
  x = jnp.asarray(ds.images).reshape(2, STEPS, B, 8, 8, 3)
  y = jnp.asarray(ds.labels).reshape(2, STEPS, B)
  return (x[0], y[0]), (x[1], y[1])


def _search(opt, fashion):
  """init + STEPS DARTS steps in one compiled program; returns (state, metrics, traces)."""
  train, valid = fashion
  traces = []

  def run(key, train, valid):
    traces.append(1)
    state = opt.init(key, (train[0][0], train[1][0]))

    def body(st, xs):
      i, tx, ty, vx, vy = xs
      return opt.step(jax.random.fold_in(key, i), st, (tx, ty), (vx, vy))

    return jax.lax.scan(body, state, (jnp.arange(STEPS), *train, *valid))

  key = jax.random.key(0)
  compiled = jax.jit(run).lower(key, train, valid).compile(compiler_options=FAST)
  state, m = compiled(key, train, valid)
  state2, _ = compiled(key, train, valid)  # the compiled program runs again without a retrace
  np.testing.assert_array_equal(np.asarray(state.alphas["alpha"]),
                                np.asarray(state2.alphas["alpha"]))
  return state, m, traces


def _check_search(space, opt, state, m, traces):
  """Loss falls; alphas moved and have the space's shape; discretize's raw ints are the argmax of
  alpha per edge, int32 in range, valid in the space and round-trip through its string form."""
  loss = np.asarray(m.train_loss)
  assert np.all(np.isfinite(loss)) and np.all(np.isfinite(np.asarray(m.valid_loss)))
  assert loss[-10:].mean() < loss[:10].mean() - 0.15, loss
  alpha = np.asarray(state.alphas["alpha"])
  assert alpha.shape == (space.num_edges, space.num_ops)
  assert np.abs(alpha).max() > 1e-2  # trained, not the 1e-3 init
  arch = opt.discretize(state)
  assert isinstance(arch, space.arch_type)
  ops = np.asarray(arch.ops)
  assert ops.shape == (space.num_edges,) and ops.dtype == np.int32, ops
  assert np.all((ops >= 0) & (ops < space.num_ops)), ops
  np.testing.assert_array_equal(ops, np.argmax(alpha, -1))
  assert bool(space.is_valid(arch))
  np.testing.assert_array_equal(np.asarray(space.from_string(space.to_string(arch)).ops), ops)
  assert len(traces) == 1


# DARTS on the TransNAS-Bench-101 micro supernet (loss falls, alphas move, discretize = argmax,
# valid, looked up in the table) is tested end to end through the one-shot driver in
# test_driver_spaces.py; a second compile of that network here cost ~50 CPU-s of the suite.


@pytest.mark.extended  # ~20 CPU-s of compile; CI's second step
def test_darts_on_user_networkx_cell(fashion):
  net = ncell.supernet(USER_SPACE, USER_LIBRARY, 10, C=4, plan=((4, 1), (4, 1)))
  opt = oneshot.make("darts", net, epochs=1, steps_per_epoch=STEPS, lr=0.1, arch_lr=3e-2)
  assert opt.spec.alpha_shape == (7, 4) and opt.spec.edge_targets == (1, 2, 2, 3, 3, 4, 4)
  state, m, traces = _search(opt, fashion)
  _check_search(USER_SPACE, opt, state, m, traces)


def test_spec_of_a_user_cell():
  """Edge normalisation sums to 1 over the edges into each node; the sampler draws valid ops of
  the space; one_hot / to_arch give the space's types; pcdarts and rsws size their state from it."""
  spec = ncell.supernet_spec(USER_SPACE)
  e = np.asarray(spec.edge_normalisation(jnp.asarray([0.3, 1.0, -1.0, 0.0, 2.0, 0.5, -0.2])))
  np.testing.assert_allclose([e[0], e[1] + e[2], e[3] + e[4], e[5] + e[6]], 1.0, rtol=1e-6)
  np.testing.assert_allclose(e[1] / e[2], np.exp(2.0), rtol=1e-5)
  ops = np.asarray(jax.vmap(spec.sample_ops)(jax.random.split(jax.random.key(0), 64)))
  assert ops.shape == (64, 7) and ops.dtype == np.int32 and ops.min() >= 0 and ops.max() == 3
  assert spec.one_hot(spec.to_arch(ops)).shape == (64, 7, 4)
  net = ncell.supernet(USER_SPACE, USER_LIBRARY, 10, C=4, plan=((4, 1),))
  x, y = jnp.zeros((2, 8, 8, 3)), jnp.zeros((2,), jnp.int32)
  pc = oneshot.make("pcdarts", net, epochs=1, steps_per_epoch=1, partial_channels=2)
  st = jax.eval_shape(lambda k: pc.init(k, (x, y)), jax.random.key(0))
  assert st.alphas["alpha"].shape == (7, 4) and st.alphas["beta"].shape == (7,)
  assert st.best.shape == (7,)
  rs = oneshot.make("rsws", net, epochs=1, steps_per_epoch=1)
  assert rs.spec == net.spec
  with pytest.raises(ValueError, match="SupernetSpec"):
    oneshot.make("darts", net, epochs=1, steps_per_epoch=1, spec="user5")


def test_alpha_plot_is_generic(tmp_path):
  """Any number of edges and ops; drawn on a Figure with an Agg canvas, the backend untouched."""
  backend = matplotlib.get_backend()
  w = np.random.default_rng(0).dirichlet(np.ones(4), size=(3, 7))  # [epochs, E, O]
  plot_op_weights(tmp_path / "a.png", w, "user5", edges=USER_SPACE.edges, ops=USER_SPACE.ops)
  plot_op_weights(tmp_path / "b.png", w[:, :2])
  for f in ("a.png", "b.png"):
    assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert matplotlib.get_backend() == backend
