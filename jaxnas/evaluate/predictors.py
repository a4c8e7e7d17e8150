"""The predictor evaluator: train each predictor on random architectures, test on a disjoint
random set, report NASLib's predictor metrics over seeds; and a fit/predict speed benchmark.
The driver that runs it from a config and writes its files is ``jaxnas.drivers.predictors``.

It works on every search space with a table: features come from the table's space
(``bench.space_name``, via :func:`jaxnas.predictors.encode`), so NB201, TransNAS-Bench-101 micro
or any later space is evaluated the same way.

For every predictor, training-set size and seed: a host RNG (``np.random.default_rng(seed)``)
shuffles the benchmark's architecture ids; the first ``num_test`` are the test set and the
training set is the first ``train_size`` of the rest (nested across sizes, disjoint from the test
set). Jittable predictors are compiled once per predictor: training sets sit in a buffer of
``max(train_sizes)`` rows with a mask (the same mechanism the model-based optimisers use), so the
reported fit time at a small size is that of the padded buffer. Compile time is excluded from
``fit_seconds``/``query_seconds`` and reported as ``compile_seconds``.

References:
  White et al., "How Powerful are Performance Predictors in Neural Architecture Search?",
  NeurIPS 2021 (the protocol and metrics); NASLib's ``PredictorEvaluator``.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks
from jaxnas import predictors as P
from jaxnas import spaces
from jaxnas.evaluate import metrics

METRIC_KEYS = ("kendall_tau", "spearman", "pearson", "mae", "rmse", "kendall_tau_2dec",
               "kendall_tau_1dec", "precision_at_10", "precision_at_20", "fit_seconds",
               "query_seconds")


# Learning-curve predictors that need no training: name -> (metric, epoch) of the low fidelity.
# Their "training set" is ignored; every train size reports the same score on the same test set.
LOW_FIDELITY = {"early_stop_12": ("val_accuracy", 12)}


def _names(predictors) -> list[str]:
  names = [n.strip() for n in predictors.split(",")] if isinstance(predictors, str) else list(predictors)
  names = [n for n in names if n]
  valid = list(P.PREDICTORS) + list(LOW_FIDELITY)
  bad = [n for n in names if n not in valid]
  if bad:
    raise ValueError(f"unknown predictor(s) {', '.join(bad)}; valid: {', '.join(valid)}")
  if not names:
    raise ValueError("config.predictors is empty")
  return names


def _score_features(bench, dataset: str, kind: str) -> np.ndarray:
  """Per-architecture score columns for OMNI predictors: ``f32[N, Z]``."""
  cols = []
  for k in [s.strip() for s in kind.split(",") if s.strip()]:
    if k == "params":
      cols.append(np.asarray(benchmarks.query(bench, np.arange(bench.num_archs), "params", dataset)))
    elif k == "val_accuracy@12":
      cols.append(np.asarray(benchmarks.query(bench, np.arange(bench.num_archs), "val_accuracy",
                                              dataset, epoch=12)))
    else:
      raise ValueError(f"unknown score feature {k!r}; valid: params, val_accuracy@12")
  if not cols:
    raise ValueError("OMNI predictors need config.score_features (e.g. 'params')")
  return np.stack(cols, -1).astype(np.float32)


class _LowFidelity:
  """Early stopping at a low fidelity as a degenerate predictor: ``predict`` looks the score up."""

  jittable = False

  def __init__(self, scores):
    self.scores = scores  # [A]: the low-fidelity value of every architecture

  def fit(self, key, x, y, mask=None):
    del key, x, y, mask
    return None

  def predict(self, state, x):
    del state
    ids = np.asarray(x)[:, 0].astype(np.int64)
    return self.scores[ids], np.zeros(len(ids), np.float32)


def build(name: str, config, bench, dataset: str):
  """The predictor ``name`` as configured, and its features for every benchmark architecture.

  Returns:
    (predictor, features ``f32[num_archs, D]``).
  """
  if name in LOW_FIDELITY:
    metric, epoch = LOW_FIDELITY[name]
    scores = np.asarray(benchmarks.query(bench, np.arange(bench.num_archs), metric, dataset,
                                         epoch=epoch), np.float32)
    # The "features" are the ids, so the evaluator's test split selects the scores.
    return _LowFidelity(scores), np.arange(bench.num_archs, dtype=np.float32)[:, None]
  kind = P.DEFAULT_ENCODING.get(name, config.encoding)
  # rows are the benchmark's ids, i.e. its space's enumeration order
  space = spaces.get_space(bench.space_name)
  x = np.asarray(P.encode(space.all_archs(), kind, space), np.float32)
  kwargs = {**P.predictor_kwargs(name, space, kind), **config.get("hparams", {}).get(name, {})}
  if name.startswith("omni_"):
    scores = _score_features(bench, dataset, config.get("score_features", "params"))
    x = np.asarray(P.omni_features(x, scores))
    kwargs.setdefault("num_scores", scores.shape[1])
  pred = P.PREDICTORS[name](x.shape[1], **kwargs)
  pred = P.with_target_transform(pred, config.get("target_transform", "log_gap"))
  return pred, x


def _block(tree):
  return jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready")
                                else a, tree)


def evaluate_predictor(pred, x_all, y_all, *, train_sizes, num_test: int, num_seeds: int,
                       seed: int = 0, pad_buffer: bool = True) -> dict[str, Any]:
  """Evaluates one built predictor; returns ``{str(size): {metric: mean, "std": {...}}}``.

  Args:
    pred: a :class:`~jaxnas.predictors.Predictor`.
    x_all: ``f32[A, D]`` features of every architecture.
    y_all: ``f32[A]`` targets.
    train_sizes: training-set sizes.
    num_test: test-set size.
    num_seeds: repetitions (seeds ``seed .. seed + num_seeds - 1``).
    seed: first seed.
    pad_buffer: jittable predictors fit in one ``max(train_sizes)`` buffer with a mask (compile
      once); False compiles per size.
  """
  train_sizes = [int(s) for s in train_sizes]
  a = x_all.shape[0]
  if num_test + max(train_sizes) > a:
    raise ValueError(f"num_test + max train size = {num_test + max(train_sizes)} exceeds the "
                     f"{a} architectures")
  metric_fn = jax.jit(metrics.predictor_metrics)
  fit_c, pred_c, compile_s = {}, None, 0.0
  per_size: dict[int, list[dict[str, float]]] = {s: [] for s in train_sizes}
  for s_i in range(num_seeds):
    rng = np.random.default_rng(seed + s_i)
    perm = rng.permutation(a)
    test, pool = perm[:num_test], perm[num_test:]
    for size in train_sizes:
      buf = max(train_sizes) if pad_buffer else size
      tr = pool[:buf]
      mask = np.arange(buf) < size
      xs, ys = x_all[tr], np.where(mask, y_all[tr], np.nan).astype(np.float32)
      key = jax.random.fold_in(jax.random.key(seed + s_i), size)
      if pred.jittable:
        if buf not in fit_c:
          t0 = time.perf_counter()
          fit_c[buf] = jax.jit(pred.fit).lower(key, xs, ys, mask).compile()
          compile_s += time.perf_counter() - t0
        fit = fit_c[buf]
      else:
        fit = pred.fit
      t0 = time.perf_counter()
      state = _block(fit(key, xs, ys, mask))
      fit_s = time.perf_counter() - t0
      xt = x_all[test]
      if pred.jittable:
        if pred_c is None or buf not in pred_c:
          t0 = time.perf_counter()
          pred_c = dict(pred_c or {})
          pred_c[buf] = jax.jit(pred.predict).lower(state, xt).compile()
          compile_s += time.perf_counter() - t0
        pfn = pred_c[buf]
      else:
        pfn = pred.predict
      t0 = time.perf_counter()
      mean, std = _block(pfn(state, xt))
      query_s = time.perf_counter() - t0
      mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
      yt = y_all[test]
      if not np.all(np.isfinite(mean)):
        raise ValueError(f"predictor returned non-finite predictions at train size {size}")
      row = {k: float(v) for k, v in metric_fn(jnp.asarray(yt), jnp.asarray(mean)).items()}
      row.update(fit_seconds=fit_s, query_seconds=query_s)
      if np.any(std > 0) and np.all(np.isfinite(std)):
        # Calibration of the predictive std: a Gaussian predictive that is calibrated puts 68.3 %
        # of held-out targets within one std and 95.4 % within two.
        row["coverage_1std"] = float(np.mean(np.abs(mean - yt) <= std))
        row["coverage_2std"] = float(np.mean(np.abs(mean - yt) <= 2 * std))
      per_size[size].append(row)
  out: dict[str, Any] = {}
  for size, rows in per_size.items():
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    agg = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    agg["std"] = {k: float(np.std([r[k] for r in rows])) for k in keys}
    agg["compile_seconds"] = compile_s
    out[str(size)] = agg
  return out


def bench(json_out=None, predictors=None, train_sizes=(100, 1000), dataset: str = "cifar10",
          encoding: str = "adjacency_one_hot", seed: int = 0, quick: bool = False,
          benchmark: str = "nasbench201") -> dict[str, Any]:
  """Speed benchmark: seconds to fit on ``train_sizes`` random cells of ``benchmark``'s space and
  to predict all of them (NB201: 15,625), per predictor (compile time excluded, reported
  separately).

  Args:
    json_out: optional path to write the results as JSON.
    predictors: names (default: all of ``PREDICTORS`` whose libraries are installed).
    train_sizes: training-set sizes.
    dataset: dataset (or task) of the table for the targets.
    encoding: default encoding (GCNs use the graph encoding).
    seed: host RNG seed for the training sets.
    quick: a smoke test (``gp,mlp,blr`` at 20 cells), not a measurement.
    benchmark: the registered table (default the embedded NB201 one).

  Returns:
    ``{predictor: {str(size): {"fit_seconds", "predict_seconds", "compile_seconds"}}}``.
  """
  import ml_collections

  if quick:
    predictors, train_sizes = predictors or "gp,mlp,blr", (20,)
  cfg = ml_collections.ConfigDict(dict(encoding=encoding, target_transform="log_gap",
                                       score_features="params", hparams={}))
  b = benchmarks.load(benchmark)
  y_all = np.asarray(benchmarks.query(b, np.arange(b.num_archs), "val_accuracy", dataset), np.float32)
  names = _names(predictors) if predictors else list(P.PREDICTORS)
  out: dict[str, Any] = {}
  for name in names:
    try:
      pred, x_all = build(name, cfg, b, dataset)
    except ImportError as e:
      out[name] = {"skipped": str(e)}
      continue
    out[name] = {}
    for size in train_sizes:
      perm = np.random.default_rng(seed).permutation(b.num_archs)[:size]
      key = jax.random.key(seed)
      xs, ys = x_all[perm], y_all[perm]
      fit, predict, comp = pred.fit, pred.predict, 0.0
      if pred.jittable:
        t0 = time.perf_counter()
        fit = jax.jit(pred.fit).lower(key, xs, ys, None).compile()
        comp += time.perf_counter() - t0
      t0 = time.perf_counter()
      state = _block(fit(key, xs, ys, None) if pred.jittable else fit(key, xs, ys))
      fit_s = time.perf_counter() - t0
      if pred.jittable:
        t0 = time.perf_counter()
        predict = jax.jit(pred.predict).lower(state, x_all).compile()
        comp += time.perf_counter() - t0
      t0 = time.perf_counter()
      _block(predict(state, x_all))
      pred_s = time.perf_counter() - t0
      out[name][str(size)] = {"fit_seconds": fit_s, "predict_seconds": pred_s,
                              "compile_seconds": comp}
    print(f"[bench predictors] {name}: {out[name]}", flush=True)
  if json_out:
    pathlib.Path(json_out).write_text(json.dumps(out, indent=1))
  return out


# The driver's names, moved to jaxnas.drivers.predictors, stay importable from here (lazily: that
# module imports this one).
_DRIVER_NAMES = ("run", "summary_markdown", "plot", "RESULTS_FILE", "SUMMARY_FILE", "PLOT_FILE")


def __getattr__(name):
  if name in _DRIVER_NAMES:
    import importlib  # pylint: disable=import-outside-toplevel
    return getattr(importlib.import_module("jaxnas.drivers.predictors"), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
