"""Correlation and ranking metrics for performance predictors, as jittable functions.

These are the metrics NASLib's predictor evaluator reports (White et al., "How Powerful are
Performance Predictors in Neural Architecture Search?", NeurIPS 2021): MAE, RMSE, Pearson,
Spearman (average ranks for ties), Kendall tau-b (ties accounted for, as ``scipy.stats.kendalltau``)
and precision@k. All take ``y_true, y_pred: f32[N]`` and return ``f32[]``; all work under ``jit``
and ``vmap``. Kendall tau is O(N^2) in memory: fine for the 1,000-15,625 test archs of NB201
(15,625^2 bools is 244 MB, so chunk larger sets on the host).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def mae(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
  """Mean absolute error."""
  return jnp.mean(jnp.abs(jnp.asarray(y_true) - jnp.asarray(y_pred)))


def rmse(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
  """Root mean squared error."""
  return jnp.sqrt(jnp.mean(jnp.square(jnp.asarray(y_true) - jnp.asarray(y_pred))))


def pearson(x: jax.Array, y: jax.Array) -> jax.Array:
  """Pearson correlation; 0 when either input is constant (scipy gives NaN there)."""
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  xc = x - jnp.mean(x)
  yc = y - jnp.mean(y)
  den = jnp.sqrt(jnp.sum(xc * xc) * jnp.sum(yc * yc))
  return jnp.where(den > 0, jnp.sum(xc * yc) / jnp.where(den > 0, den, 1.0), 0.0)


def rankdata(x: jax.Array) -> jax.Array:
  """Ranks 1..N with ties given their average rank (``scipy.stats.rankdata(method="average")``)."""
  x = jnp.asarray(x)
  n = x.shape[0]
  order = jnp.argsort(x)
  xs = x[order]
  # First and last position of each run of equal values: searchsorted on the sorted array.
  lo = jnp.searchsorted(xs, xs, side="left")
  hi = jnp.searchsorted(xs, xs, side="right")
  avg = (lo + hi + 1).astype(jnp.float32) / 2.0  # mean of 1-based ranks lo+1..hi
  return jnp.zeros((n,), jnp.float32).at[order].set(avg)


def spearman(x: jax.Array, y: jax.Array) -> jax.Array:
  """Spearman rank correlation: Pearson on average ranks (scipy's ``spearmanr``)."""
  return pearson(rankdata(x), rankdata(y))


def kendall_tau(x: jax.Array, y: jax.Array) -> jax.Array:
  """Kendall tau-b, which corrects for ties in either input (``scipy.stats.kendalltau``).

  ``tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))`` with ``n0`` all pairs, ``n1``/``n2`` pairs tied
  in ``x``/``y``. Returns 0 when either input is constant.
  """
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  sx = jnp.sign(x[:, None] - x[None, :])  # [N, N]
  sy = jnp.sign(y[:, None] - y[None, :])
  # Each unordered pair appears twice in the full matrix; the factors of 2 cancel in the ratio.
  s = jnp.sum(sx * sy)
  nx = jnp.sum(sx != 0).astype(jnp.float32)  # 2 (n0 - n1)
  ny = jnp.sum(sy != 0).astype(jnp.float32)  # 2 (n0 - n2)
  den = jnp.sqrt(nx * ny)
  return jnp.where(den > 0, s / jnp.where(den > 0, den, 1.0), 0.0)


def kendall_tau_rounded(x: jax.Array, y: jax.Array, decimals: int) -> jax.Array:
  """Kendall tau-b after rounding both inputs to ``decimals`` (NASLib's ``kt_2dec``/``kt_1dec``).

  Rounding happens on the values as given, so pass accuracies in the benchmark's units (NB201:
  percent) to reproduce NASLib's numbers.
  """
  return kendall_tau(jnp.round(jnp.asarray(x), decimals), jnp.round(jnp.asarray(y), decimals))


def precision_at_k(y_true: jax.Array, y_pred: jax.Array, k: int) -> jax.Array:
  """Fraction of the true top-``k`` (largest ``y_true``) that is among the predicted top-``k``.

  ``k`` is static. Ties at the k-th place are broken by position (``lax.top_k``), as NASLib's
  ``argsort`` does.
  """
  n = jnp.asarray(y_true).shape[0]
  if not 0 < k <= n:
    raise ValueError(f"precision@k needs 0 < k <= N, got k={k}, N={n}")
  _, top_true = jax.lax.top_k(jnp.asarray(y_true, jnp.float32), k)
  _, top_pred = jax.lax.top_k(jnp.asarray(y_pred, jnp.float32), k)
  in_true = jnp.zeros((n,), bool).at[top_true].set(True)
  return jnp.mean(in_true[top_pred].astype(jnp.float32))


def predictor_metrics(y_true: jax.Array, y_pred: jax.Array) -> dict[str, jax.Array]:
  """All of the evaluator's quality metrics as a dict of ``f32[]``. Jittable.

  Keys: ``mae, rmse, pearson, spearman, kendall_tau, kendall_tau_2dec, kendall_tau_1dec,
  precision_at_10, precision_at_20`` (precision@k is skipped when N < k).
  """
  n = jnp.asarray(y_true).shape[0]
  out = {
      "mae": mae(y_true, y_pred),
      "rmse": rmse(y_true, y_pred),
      "pearson": pearson(y_true, y_pred),
      "spearman": spearman(y_true, y_pred),
      "kendall_tau": kendall_tau(y_true, y_pred),
      "kendall_tau_2dec": kendall_tau_rounded(y_true, y_pred, 2),
      "kendall_tau_1dec": kendall_tau_rounded(y_true, y_pred, 1),
  }
  for k in (10, 20):
    if n >= k:
      out[f"precision_at_{k}"] = precision_at_k(y_true, y_pred, k)
  return out


__all__ = ["kendall_tau", "kendall_tau_rounded", "mae", "pearson", "precision_at_k",
           "predictor_metrics", "rankdata", "rmse", "spearman"]
