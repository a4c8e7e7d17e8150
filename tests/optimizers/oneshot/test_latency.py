"""Latency-aware one-shot NAS: the per-(edge, op) lookup-table fit, the expected-cost
regulariser's gradient, and that weight 0 leaves DARTS / GDAS steps unchanged bit for bit."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas.optimizers import oneshot
from jaxnas.optimizers.oneshot import latency

E, O = 6, 5


class StandIn(nn.Module):
  """A cheap supernet with NB201's interface (``apply(v, x, op_weights[6, 5], train)``), linear in
  the op weights like the MixedOp."""

  num_classes: int = 10
  C: int = 4
  mode: str = "mixed"
  partial_channels: int = 1

  @nn.compact
  def __call__(self, x, op_weights, train):
    h = nn.relu(nn.Dense(8)(x.reshape(x.shape[0], -1)))
    heads = self.param("heads", nn.initializers.normal(0.1), (E, O, 8, self.num_classes))
    return jnp.einsum("bf,eofc,eo->bc", h, heads, op_weights)


def _synthetic(rng, n=400):
  table = rng.uniform(0.0, 3.0, (E, O))
  ops = rng.integers(0, O, (n, E))
  y = 1.5 + table[np.arange(E), ops].sum(-1)
  return table, ops, y


def test_fit_is_exact_on_an_additive_cost():
  table, ops, y = _synthetic(np.random.default_rng(0))
  lut = latency.fit_lut(ops, y, O, name="synthetic", unit="ms")
  want = table - table.min(-1, keepdims=True)  # identified up to per-edge shifts
  np.testing.assert_allclose(lut.table, want, atol=1e-5)
  assert lut.intercept == pytest.approx(1.5 + table.min(-1).sum(), abs=1e-9)
  assert lut.r2 == pytest.approx(1.0, abs=1e-12) and lut.rmse < 1e-9
  np.testing.assert_allclose(lut.predict(ops), y, atol=1e-5)
  assert lut.span == pytest.approx(want.max(-1).sum(), rel=1e-6)
  # noise lowers R^2 below 1; NaN rows are dropped
  y2 = y + np.random.default_rng(1).normal(0, 1.0, y.shape)
  y2[:5] = np.nan
  noisy = latency.fit_lut(ops, y2, O)
  assert 0.0 < noisy.r2 < 1.0
  with pytest.raises(ValueError, match="needs >= 2 finite values"):
    latency.fit_lut(ops[:1], y[:1], O)


@pytest.mark.extended
def test_table_lut_on_nb201_params():
  """NB201's params are nearly additive over (edge, op): the fit explains them almost fully."""
  lut = latency.table_lut(bm.load("nasbench201"), "params", "cifar10")
  assert lut.table.shape == (E, O) and lut.r2 > 0.99 and lut.unit == "M"
  assert np.all(lut.table.min(-1) == 0)
  with pytest.raises(ValueError, match="unknown metric 'flops'"):
    latency.table_lut(bm.load("nasbench201"), "flops", "cifar10")


def test_regulariser_gradient_points_to_cheap_ops():
  table, ops, y = _synthetic(np.random.default_rng(2))
  lut = latency.fit_lut(ops, y, O)
  reg = latency.cost_regulariser(lut, 2.0)
  alpha = jnp.zeros((E, O))
  val, g = jax.value_and_grad(lambda a: reg(jax.nn.softmax(a, -1)))(alpha)
  # at uniform alphas: d reg / d alpha[e, o] = scale * p (lut[e, o] - mean_o lut[e]): positive for
  # dearer-than-average ops (descent lowers their weight), negative for cheaper ones
  t = np.asarray(lut.table)
  np.testing.assert_array_equal(np.sign(np.asarray(g)), np.sign(t - t.mean(-1, keepdims=True)))
  assert float(val) == pytest.approx(2.0 * t.mean(-1).sum() / lut.span, rel=1e-5)
  # a gradient step lowers the expected cost; the all-cheapest one-hot cell gives 0, dearest weight
  a2 = alpha - 0.5 * g
  assert float(reg(jax.nn.softmax(a2, -1))) < float(val)
  cheap = jax.nn.one_hot(jnp.argmin(jnp.asarray(t), -1), O)
  dear = jax.nn.one_hot(jnp.argmax(jnp.asarray(t), -1), O)
  assert float(reg(cheap)) == 0.0 and float(reg(dear)) == pytest.approx(2.0, rel=1e-5)
  # GDAS: the straight-through hard sample carries the sampled cell's cost and a gradient
  hard = lambda a: oneshot.gumbel_hard(jax.random.key(0), a, 1.0)  # noqa: E731
  v, gh = jax.value_and_grad(lambda a: reg(hard(a)))(alpha)
  sampled = np.asarray(jnp.argmax(hard(alpha), -1))
  assert float(v) == pytest.approx(2.0 * t[np.arange(E), sampled].sum() / lut.span, rel=1e-5)
  assert np.abs(np.asarray(gh)).sum() > 0
  assert latency.cost_regulariser(lut, 0.0) is None
  with pytest.raises(ValueError, match=">= 0"):
    latency.cost_regulariser(lut, -1.0)


@pytest.fixture(scope="module")
def tiny():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 2, 16, 4, 4, 3)), jnp.float32)  # [train/valid, steps, B..]
  y = jnp.asarray(rng.integers(0, 10, (2, 2, 16)), jnp.int32)
  table, ops, c = _synthetic(rng)
  return (x, y), latency.fit_lut(ops, c, O)


def _steps(opt, data, n=2):
  (x, y) = data
  state = opt.init(jax.random.key(0), (x[0, 0], y[0, 0]))
  step = jax.jit(opt.step)
  for s in range(n):
    state, _ = step(jax.random.key(s + 1), state, (x[0, s], y[0, s]), (x[1, s], y[1, s]))
  return state


@pytest.mark.parametrize("name", ["darts", "gdas"])
def test_weight_zero_is_todays_step_bit_for_bit(name, tiny):
  """Weight 0 builds no regulariser, so the step is the same program as today's (identical
  jaxpr: identical compiled code and numbers, without compiling either)."""
  data, lut = tiny
  (x, y) = data
  factory = oneshot.ONESHOT[name]
  kw = dict(epochs=1, steps_per_epoch=2)
  plain = factory(StandIn(), **kw)
  zero = factory(StandIn(), op_regulariser=latency.cost_regulariser(lut, 0.0), **kw)
  state = jax.eval_shape(plain.init, jax.random.key(0), (x[0, 0], y[0, 0]))
  args = (jax.random.key(1), state, (x[0, 0], y[0, 0]), (x[1, 0], y[1, 0]))
  assert str(jax.make_jaxpr(zero.step)(*args)) == str(jax.make_jaxpr(plain.step)(*args))
  weighted = factory(StandIn(), op_regulariser=latency.cost_regulariser(lut, 1.0), **kw)
  assert str(jax.make_jaxpr(weighted.step)(*args)) != str(jax.make_jaxpr(plain.step)(*args))


@pytest.mark.extended
def test_weight_moves_alphas_to_cheap_ops(tiny):
  """Two DARTS steps with weight 0 and 50: the weighted alphas favour each edge's cheapest op
  over its dearest, relative to weight 0 (and weight 0 run twice is bit-identical)."""
  data, lut = tiny
  kw = dict(epochs=1, steps_per_epoch=2)
  base_state = _steps(oneshot.darts(StandIn(), **kw), data)
  zero = _steps(oneshot.darts(StandIn(), op_regulariser=latency.cost_regulariser(lut, 0.0), **kw),
                data)
  jax.tree.map(np.testing.assert_array_equal, base_state, zero)
  heavy = _steps(oneshot.darts(StandIn(), op_regulariser=latency.cost_regulariser(lut, 50.0),
                               **kw), data)
  d = np.asarray(heavy.alphas["alpha"] - base_state.alphas["alpha"])
  t = np.asarray(lut.table)
  cheap, dear = t.argmin(-1), t.argmax(-1)
  assert np.all(d[np.arange(E), cheap] > d[np.arange(E), dear])


def test_config_and_bad_input_before_compile(tmp_path):
  """configs/nb201_darts_latency.py's keys; one-line errors before any data or compile."""
  import pathlib

  from jaxnas.config import load_config
  from jaxnas.drivers import oneshot as drv

  root = pathlib.Path(__file__).resolve().parents[3]
  c = load_config(str(root / "configs" / "nb201_darts_latency.py"))
  assert c.optimizer.name == "darts" and c.latency_weight == 1.0
  assert c.latency_combo == "pi5/litert/cifar100" and c.latency_metric == "lat_ms_median"
  assert set(c.optimizer.keys()) - {"name"} == set(oneshot.hyperparameters("darts"))
  assert load_config(str(root / "configs" / "nb201_darts_latency.py") + ":gdas").optimizer.name == "gdas"
  for key, value, match in [
      ("latency_combo", "jetson/trt/cifar100", "unknown HW-NAS-Bench-360 combination"),
      ("latency_metric", "flops", "unknown HW-NAS-Bench-360 metric 'flops'"),
      ("latency_weight", -1.0, "latency_weight must be >= 0")]:
    bad = load_config(str(root / "configs" / "nb201_darts_latency.py"))
    bad[key] = value
    with pytest.raises(ValueError, match=match) as e:
      drv.run_oneshot(bad, tmp_path, quiet=True)
    assert "\n" not in str(e.value)
  bad = load_config(str(root / "configs" / "nb201_drnas.py"))
  bad.latency_weight = 1.0
  with pytest.raises(ValueError, match="latency_weight needs one-shot optimizer darts or gdas"):
    drv.run_oneshot(bad, tmp_path, quiet=True)
