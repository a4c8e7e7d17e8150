"""Metrics against scipy (ties included) and under jit/vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxnas.evaluate import metrics


def _data(seed, n=200, ties=True):
  rng = np.random.default_rng(seed)
  y = rng.normal(size=n).astype(np.float32)
  p = (y + rng.normal(size=n)).astype(np.float32)
  if ties:  # heavy ties in both inputs, as rounded accuracies have
    y, p = np.round(y, 1), np.round(p, 0)
  return y, p


@pytest.mark.parametrize("seed", [0, 1])
def test_against_scipy(seed):
  y, p = _data(seed)
  np.testing.assert_allclose(metrics.kendall_tau(y, p), scipy.stats.kendalltau(y, p)[0], atol=1e-5)
  np.testing.assert_allclose(metrics.spearman(y, p), scipy.stats.spearmanr(y, p)[0], atol=1e-5)
  np.testing.assert_allclose(metrics.pearson(y, p), scipy.stats.pearsonr(y, p)[0], atol=1e-5)
  np.testing.assert_allclose(metrics.rankdata(p), scipy.stats.rankdata(p), atol=1e-6)
  np.testing.assert_allclose(metrics.mae(y, p), np.mean(np.abs(y - p)), rtol=1e-5)
  np.testing.assert_allclose(metrics.rmse(y, p), np.sqrt(np.mean((y - p) ** 2)), rtol=1e-5)
  np.testing.assert_allclose(metrics.kendall_tau_rounded(y * 10, p * 10, 1),
                             scipy.stats.kendalltau(np.round(y * 10, 1), np.round(p * 10, 1))[0],
                             atol=1e-5)


def test_precision_at_k():
  y = jnp.arange(100.0)
  assert float(metrics.precision_at_k(y, y, 10)) == 1.0
  assert float(metrics.precision_at_k(y, -y, 10)) == 0.0
  p = y.at[95].set(-1.0)  # one of the true top 10 ranked last
  assert float(metrics.precision_at_k(y, p, 10)) == pytest.approx(0.9)
  with pytest.raises(ValueError, match="precision@k"):
    metrics.precision_at_k(y[:5], y[:5], 10)


def test_constant_inputs_give_zero_not_nan():
  y = jnp.arange(10.0)
  c = jnp.ones(10)
  for f in (metrics.kendall_tau, metrics.spearman, metrics.pearson):
    assert float(f(y, c)) == 0.0


def test_jit_and_vmap():
  y, p = _data(3, n=50, ties=False)
  ys = jnp.stack([y, y])
  ps = jnp.stack([p, -p])
  out = jax.jit(jax.vmap(metrics.predictor_metrics))(ys, ps)
  assert out["kendall_tau"].shape == (2,)
  np.testing.assert_allclose(out["kendall_tau"][1], -out["kendall_tau"][0], atol=1e-6)
  assert set(out) == {"mae", "rmse", "pearson", "spearman", "kendall_tau", "kendall_tau_2dec",
                      "kendall_tau_1dec", "precision_at_10", "precision_at_20"}
