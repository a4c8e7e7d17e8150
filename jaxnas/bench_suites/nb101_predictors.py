"""Predictors on NASLib's 500 labelled NAS-Bench-101 cells: Kendall tau by k-fold cross-validation
(``python -m jaxnas.bench nb101-predictors [--quick] [--json OUT]``).

The cells are the keys of ``nb101/naslib_labeled_500.json`` (NASLib's 56-int tuples, read with the
space's ``from_naslib``), the target their ``val_accuracy`` (CIFAR-10, 108 epochs, one repeat as
NASLib drew it). A host RNG (``np.random.default_rng(seed)``) shuffles the 500 cells into
``folds`` folds; each predictor is fitted on the other folds (400 cells) and ranks the held-out
fold (100); the report is the mean and std over folds of Kendall tau (and Spearman). Features are
the space's encodings (``adjacency_one_hot`` by default; the GCN reads the ``graph`` encoding),
targets go through the evaluator's ``log_gap`` transform, as ``jaxnas.evaluate.predictors``.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

PREDICTORS = ("gp", "gcn", "lightgbm")
DATA_FILE = pathlib.Path("nb101") / "naslib_labeled_500.json"


def data_path() -> pathlib.Path:
  """``naslib_labeled_500.json`` under ``JAXNAS_SHARED_DATA`` (default ``../shared/data``)."""
  root = os.environ.get("JAXNAS_SHARED_DATA") or str(
      pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
  return pathlib.Path(root) / DATA_FILE


def load_labelled(path=None):
  """``(archs, val_accuracy f32[500])`` of NASLib's labelled cells (the space's ``Arch`` batch).

  Raises:
    FileNotFoundError: one line naming the file.
  """
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel

  path = pathlib.Path(path) if path else data_path()
  if not path.is_file():
    raise FileNotFoundError(f"{path} not found: NASLib's zc_nasbench101 labels (set "
                            "JAXNAS_SHARED_DATA to the folder holding nb101/)")
  rows = json.loads(path.read_text())["data"]["cifar10"]
  space = spaces.get_space("nasbench101")
  listed = [spaces.arch_from_string(space, k) for k in rows]
  archs = jax.tree.map(lambda *xs: jnp.stack(xs), *listed)
  return space, archs, np.asarray([v["val_accuracy"] for v in rows.values()], np.float32)


def cross_validate(name: str, space, archs, y, *, folds: int = 5, seed: int = 0,
                   encoding: str = "adjacency_one_hot", hparams: dict | None = None) -> dict:
  """Kendall tau / Spearman of predictor ``name`` by ``folds``-fold cross-validation.

  Returns:
    ``{"kendall_tau", "spearman": mean over folds, "kendall_tau_std", "spearman_std",
    "per_fold": [...], "train_size", "test_size", "seconds"}``.
  """
  from jaxnas import predictors as P  # pylint: disable=import-outside-toplevel
  from jaxnas.evaluate import metrics  # pylint: disable=import-outside-toplevel

  t0 = time.perf_counter()
  kind = P.DEFAULT_ENCODING.get(name, encoding)
  x = np.asarray(P.encode(archs, kind, space), np.float32)
  kwargs = {**P.predictor_kwargs(name, space, kind), **(hparams or {})}
  pred = P.with_target_transform(P.PREDICTORS[name](x.shape[1], **kwargs), "log_gap")
  n = x.shape[0]
  perm = np.random.default_rng(seed).permutation(n)
  parts = np.array_split(perm, folds)
  fit = jax.jit(pred.fit) if pred.jittable else pred.fit
  predict = jax.jit(pred.predict) if pred.jittable else pred.predict
  rows = []
  for f in range(folds):
    test = parts[f]
    train = np.concatenate([parts[g] for g in range(folds) if g != f])
    key = jax.random.fold_in(jax.random.key(seed), f)
    mask = np.ones(len(train), bool)
    state = fit(key, x[train], y[train], mask)
    mean, _ = predict(state, x[test])
    m = metrics.predictor_metrics(jnp.asarray(y[test]), jnp.asarray(np.asarray(mean, np.float32)))
    rows.append({"kendall_tau": float(m["kendall_tau"]), "spearman": float(m["spearman"])})
  out: dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in ("kendall_tau",
                                                                           "spearman")}
  out.update({f"{k}_std": float(np.std([r[k] for r in rows])) for k in ("kendall_tau", "spearman")})
  out.update(per_fold=rows, train_size=int(n - len(parts[0])), test_size=int(len(parts[0])),
             encoding=kind, seconds=time.perf_counter() - t0)
  return out


def run(json_out=None, quick: bool = False, predictors=PREDICTORS, folds: int = 5,
        seed: int = 0) -> dict:
  """The suite: every predictor's cross-validated tau on the 500 cells (``quick``: the GP only,
  on 2 folds; a smoke test, not a measurement)."""
  space, archs, y = load_labelled()
  if quick:
    predictors, folds = ("gp",), 2
  out = {}
  for name in predictors:
    try:
      out[name] = cross_validate(name, space, archs, y, folds=folds, seed=seed)
    except ImportError as e:  # a host-side library (lightgbm) not installed
      out[name] = {"skipped": str(e)}
      continue
    r = out[name]
    print(f"[nb101-predictors] {name:9s} kendall tau {r['kendall_tau']:.3f} +- "
          f"{r['kendall_tau_std']:.3f}, spearman {r['spearman']:.3f} ({folds}-fold CV, "
          f"{r['train_size']} train / {r['test_size']} test, {r['seconds']:.1f} s)", flush=True)
  out["_meta"] = {"cells": int(len(y)), "folds": folds, "seed": seed,
                  "target": "NASLib val_accuracy (CIFAR-10, 108 epochs)"}
  if json_out:
    pathlib.Path(json_out).write_text(json.dumps(out, indent=1))
  return out
