"""The predictor contract, checked for every registered jittable predictor with tiny settings:
masked fit under jit == fit on the valid subset, deterministic per key, no retrace on a second
fit, finite predictions, clear errors on bad input. Plus a small quality check on real NB201 data.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks
from jaxnas import predictors as P
from jaxnas.evaluate import metrics
from jaxnas.spaces import nb201

# Tiny settings: the contract does not depend on model size, the test time does.
TINY = {
    "mlp": dict(hidden_sizes=(8,), num_steps=10),
    "mlp_ensemble": dict(num_members=2, hidden_sizes=(8,), num_steps=10),
    "gcn": dict(hidden=8, num_layers=1, num_steps=10),
    "gcn_ensemble": dict(num_members=2, hidden=8, num_layers=1, num_steps=10),
    "gp": dict(num_steps=10),
    "sparse_gp": dict(num_inducing=8, num_steps=10),
    "blr": dict(num_steps=10),
    "dngo": dict(hidden_sizes=(8,), num_steps=10, blr_steps=10),
    "bohamiann": dict(hidden_sizes=(8,), num_burn_in=10, num_samples=4, keep_every=2),
    "omni_gp": dict(num_steps=10),
}
JITTABLE = [n for n in P.PREDICTORS if n not in P.HOST_SIDE]
# gcn_ensemble is gcn under the ensemble wrapper, which mlp_ensemble already covers: skipping it
# saves three compiles.
CONTRACT = [n for n in JITTABLE if n != "gcn_ensemble"]


def test_registry_covers_every_predictor():
  assert set(JITTABLE) == set(TINY)
  for n in P.HOST_SIDE:
    assert n in P.PREDICTORS


def _data(name, n=12, seed=0):
  kind = P.DEFAULT_ENCODING.get(name, "adjacency_one_hot")
  archs = nb201.sample(jax.random.key(seed), (n,))
  x = P.encode(archs, kind)
  if name.startswith("omni_"):
    x = P.omni_features(x, jnp.arange(n, dtype=jnp.float32) * 1e3)
  y = jnp.sum(archs.ops == nb201.CONV3X3, -1).astype(jnp.float32) + 0.1 * jnp.arange(n) / n
  return x, y


def _build(name, d):
  if name == "omni_gp":
    # The OMNI wrapper's contract over a cheap-to-compile base (BLR); omni_gp itself is gp + this
    # wrapper, both covered, and it is exercised at full size by the evaluator measurements.
    return P.omni(P.bayesian_linear_regression(d, num_steps=10), 1)
  return P.PREDICTORS[name](d, **TINY[name])


# These also run under the target transform, which must keep the contract.
TRANSFORMED = ("mlp_ensemble", "omni_gp")


@pytest.mark.parametrize("name", CONTRACT)
def test_masked_fit_in_jit_equals_subset_fit(name):
  x, y = _data(name)
  pred = _build(name, x.shape[1])
  if name in TRANSFORMED:
    pred = P.with_target_transform(pred)
    y = y * 10 + 50
  mask = jnp.array([True, False] * 6)
  # Masked rows hold garbage (NaN targets, odd features): it must not leak into the fit.
  y_buf = jnp.where(mask, y, jnp.nan)
  x_buf = jnp.where(mask[:, None], x, 7.0)
  xq, _ = _data(name, n=5, seed=3)
  traces = []

  # One compiled program holds both fits (buffer with mask, and the valid subset alone) and both
  # predictions: one compile per predictor keeps this registry-wide test fast.
  def both(key, xb, yb, mb, xs, ys):
    traces.append(1)
    masked = pred.fit(key, xb, yb, mb)
    subset = pred.fit(key, xs, ys)
    return masked, pred.predict(masked, xq), pred.predict(subset, xq)

  run = jax.jit(both)
  key = jax.random.key(1)
  state, (m1, s1), (m0, s0) = run(key, x_buf, y_buf, mask, x[mask], y[mask])
  assert m1.shape == s1.shape == (5,)
  assert np.all(np.isfinite(m1)) and np.all(np.isfinite(s1))
  np.testing.assert_allclose(m1, m0, rtol=2e-3, atol=2e-3)
  np.testing.assert_allclose(s1, s0, rtol=2e-3, atol=2e-3)
  # Deterministic per key: the same call gives bit-identical predictions.
  _, (m2, s2), _ = run(key, x_buf, y_buf, mask, x[mask], y[mask])
  np.testing.assert_array_equal(m1, m2)
  np.testing.assert_array_equal(s1, s2)
  # Inside jit a NaN target in a valid row cannot raise: its row is dropped, as if masked.
  first = jnp.arange(12) == 0
  _, (m3, s3), _ = run(key, x_buf, y_buf.at[0].set(jnp.nan), mask, x[mask], y[mask])
  _, (m4, s4), _ = run(key, x_buf, y_buf, mask & ~first, x[mask], y[mask])
  np.testing.assert_allclose(m3, m4, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(s3, s4, rtol=1e-4, atol=1e-4)
  # No valid rows at all inside jit: the prior (std +inf where the model has one), never NaN.
  _, (m5, s5), _ = run(key, x_buf, y_buf, jnp.zeros(12, bool), x[mask], y[mask])
  assert np.all(np.isfinite(m5)) and not np.any(np.isnan(s5))
  # None of these calls (new values, same shapes) retraced.
  assert len(traces) == 1
  # init's state has the fitted state's structure and shapes, so a search loop can carry it
  # through lax.scan before the first fit (eval_shape: traced, never compiled).
  s_init = jax.eval_shape(lambda k: pred.init(k, 12), key)
  assert jax.tree_util.tree_structure(s_init) == jax.tree_util.tree_structure(state)
  assert ([a.shape for a in jax.tree_util.tree_leaves(s_init)]
          == [a.shape for a in jax.tree_util.tree_leaves(state)])


@pytest.mark.parametrize("name", ["gp", "mlp"])
def test_bad_inputs_raise(name):
  x, y = _data(name)
  pred = _build(name, x.shape[1])
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="features but the predictor was built for"):
    pred.fit(key, x[:, :-1], y)
  with pytest.raises(ValueError, match="at least 2 valid training points"):
    pred.fit(key, x, y, jnp.arange(12) == 0)
  with pytest.raises(ValueError, match="not finite"):
    pred.fit(key, x, y.at[3].set(jnp.nan))
  state = jax.eval_shape(pred.fit, key, x, y)  # only its shapes matter here
  with pytest.raises(ValueError, match="features but the predictor was built for"):
    pred.predict(state, np.zeros((3, 5), np.float32))


def test_wrappers_reject_bad_settings():
  base = _build("mlp", 30)
  with pytest.raises(ValueError, match="unknown target transform"):
    P.with_target_transform(base, "sqrt")
  with pytest.raises(ValueError, match="jittable"):
    P.ensemble(base._replace(jittable=False), 2)
  with pytest.raises(ValueError, match="num_scores"):
    P.omni(base, 30)


def test_encodings():
  archs = nb201.sample(jax.random.key(0), (3,))
  g = P.encode(archs, "graph")
  assert g.shape == (3, P.encoding_size("graph")) == (3, 120)
  adj = np.asarray(g[0, :64]).reshape(8, 8)
  assert adj[0, 1] == 1 and adj[1, 3] == 1 and adj[6, 7] == 1 and adj[0, 7] == 0
  assert P.encoding_size("path") == 155
  with pytest.raises(ValueError, match="unknown encoding"):
    P.encoding_size("zeros")


def test_gp_quality_on_nb201():
  """GP (Matern-5/2, tanh output warp, LOO-recalibrated std, log-gap target) on 100 random NB201
  cells, 500 test cells, cifar10 val acc.

  Measured with exactly these settings, seeds 0..5: tau 0.631, 0.519, 0.608, 0.641, 0.647, 0.656
  (unwarped, ``warp="none"``: 0.617, 0.493, 0.598, 0.614, 0.657, 0.656). The test runs seeds 0
  and 1, each with a floor 0.05 below its own measurement.

  Calibration on the same fits (``calibrate="loo"``, the default; the std only, tau unchanged):
  within one std 0.764, 0.660, 0.648, 0.746, 0.778, 0.664 of the test cells (nominal 0.683;
  ``calibrate="none"``: 0.782, 0.684, 0.710, 0.788, 0.856, 0.710; unwarped 0.792, 0.808, 0.762,
  0.852, 0.918, 0.756: over-covered because the errors are heavy-tailed, see
  docs/predictor_results.md), within two stds 0.900, 0.904, 0.868, 0.912, 0.940, 0.852 (nominal
  0.954; ``calibrate="none"``: 0.912, 0.908, 0.890, 0.928, 0.960, 0.886; unwarped 0.916, 0.932,
  0.922, 0.956, 0.964, 0.902). The test checks neither is badly overconfident and the two-std
  figure is near nominal.
  """
  b = benchmarks.load()
  y_all = np.asarray(benchmarks.query(b, np.arange(nb201.NUM_ARCHS), "val_accuracy", "cifar10"))
  x_all = np.asarray(P.encode(nb201.all_archs()))
  pred = P.with_target_transform(P.gp(30))
  fit, predict = jax.jit(pred.fit), jax.jit(pred.predict)
  for seed, floor in ((0, 0.581), (1, 0.469)):
    perm = np.random.default_rng(seed).permutation(nb201.NUM_ARCHS)
    tr, te = perm[500:600], perm[:500]
    state = fit(jax.random.key(seed), x_all[tr], y_all[tr])
    mean, std = predict(state, x_all[te])
    assert float(metrics.kendall_tau(y_all[te], mean)) > floor
    z = np.abs(y_all[te] - np.asarray(mean)) / np.asarray(std)
    assert np.mean(z <= 1) >= 0.63 and 0.86 <= np.mean(z <= 2) <= 0.99


@pytest.mark.parametrize("name", ["gp", "sparse_gp"])
def test_gp_std_calibrated_when_the_model_is_right(name):
  """On targets drawn from a GP (Matern-5/2 on NB201 one-hot cells, lengthscale 3, plus
  Gaussian noise) the marginal-likelihood fit must give a calibrated predictive std: about 68 %
  of held-out targets within one std and 95 % within two. Four draws, 100 train / 300 test each,
  one compile. Measured (key 0, mean of the four): gp (warped, LOO-recalibrated, the default)
  0.620 / 0.914 (LOO scales 1.04, 0.90, 0.88, 0.98: the 68 % quantile of 100 LOO residuals is a
  ~10 % noisy estimate of 1), ``calibrate="none"`` 0.644 / 0.938, unwarped 0.638 / 0.941,
  sparse_gp 0.663 / 0.943; single draws range 0.59-0.79 at one std over 10 keys, hence the
  averaging and the band.

  On NB201 itself the same fit covers ~80 % at one std but still ~95 % at two: the errors there
  are heavy-tailed (see docs/predictor_results.md), which no Gaussian std can match at both levels.
  """
  gp_mod = importlib.import_module("jaxnas.predictors.gp")
  pred = P.PREDICTORS[name](30)

  def one(key):
    ka, kf, kn = jax.random.split(key, 3)
    ids = jax.random.choice(ka, nb201.NUM_ARCHS, (400,), replace=False)
    x = P.encode(nb201.Arch(ops=nb201.all_archs().ops[ids]))
    k = gp_mod.kernel_matrix("matern52", {"log_ls": jnp.log(3.0), "log_amp": jnp.zeros(())}, x, x)
    f = jnp.linalg.cholesky(k + 1e-5 * jnp.eye(400)) @ jax.random.normal(kf, (400,))
    y = 90.0 + 2.0 * (f + 0.3 * jax.random.normal(kn, (400,)))
    mean, std = pred.predict(pred.fit(key, x[:100], y[:100]), x[100:])
    z = jnp.abs(y[100:] - mean) / std
    return jnp.mean(z <= 1), jnp.mean(z <= 2)

  run = jax.jit(one)  # one compile, four calls
  cov = np.array([run(k) for k in jax.random.split(jax.random.key(0), 4)])
  c1, c2 = cov.mean(0)
  assert 0.60 <= c1 <= 0.78, c1
  assert 0.90 <= c2 <= 0.99, c2


def test_dngo_on_nb201_not_an_interpolating_mlp():
  """DNGO on 100 NB201 cells (log-gap target, 500 test cells, cifar10 val acc).

  With the network's old weight decay (1e-4) the 64x64x64 MLP interpolates its 100 training cells
  (standardised training RMS 0.001 vs 0.82 on test cells), so the evidence-maximised output layer
  infers almost no noise (fitted noise std 0.03; the exact evidence optimum is 0.001) and is badly
  overconfident, and its mean is the plain MLP's (same key, same network; the Bayesian output
  layer refits the least-squares last layer). Measured, seeds 0, 1, 2: weight decay 1e-4 tau
  0.531, 0.465, 0.547 (``mlp``: 0.531, 0.465, 0.548), within one std 0.068, 0.090, 0.052, within
  two 0.122, 0.154, 0.124; the default 3e-2: tau 0.606, 0.503, 0.590, within one std 0.270,
  0.224, 0.178, within two 0.470, 0.422, 0.388 (still overconfident, see
  docs/predictor_results.md). The test runs seeds 0 and 1 with floors 0.05 below the measurements.
  """
  b = benchmarks.load()
  y_all = np.asarray(benchmarks.query(b, np.arange(nb201.NUM_ARCHS), "val_accuracy", "cifar10"))
  x_all = np.asarray(P.encode(nb201.all_archs()))
  pred = P.with_target_transform(P.dngo(30))
  fit, predict = jax.jit(pred.fit), jax.jit(pred.predict)
  for seed, floor in ((0, 0.556), (1, 0.453)):
    perm = np.random.default_rng(seed).permutation(nb201.NUM_ARCHS)
    tr, te = perm[500:600], perm[:500]
    mean, std = predict(fit(jax.random.key(seed), x_all[tr], y_all[tr]), x_all[te])
    assert float(metrics.kendall_tau(y_all[te], mean)) > floor
    z = np.abs(y_all[te] - np.asarray(mean)) / np.asarray(std)
    assert np.mean(z <= 1) > 0.17 and np.mean(z <= 2) > 0.37
