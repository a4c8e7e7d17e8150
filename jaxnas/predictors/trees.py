"""HOST-SIDE tree-ensemble predictors (XGBoost, LightGBM, NGBoost, random forest).

These wrap well-kept libraries behind the same ``init``/``fit``/``predict`` interface, but they run
on the host, OUTSIDE ``jit``: ``fit`` returns a :class:`TreeState` holding a library model object
(not a pytree of arrays), and ``Predictor.jittable`` is False. Install them with the optional extra
``pip install jaxnas[trees]``; each factory raises a clear ImportError naming the package when it
is missing. ``fit``'s key seeds the library's own RNG (``int`` drawn from the key), so fits are
deterministic per key.

References:
  Chen & Guestrin, "XGBoost", KDD 2016; Ke et al., "LightGBM", NeurIPS 2017; Duan et al.,
  "NGBoost", ICML 2020; Breiman, "Random Forests", 2001; White et al., NeurIPS 2021 (their use as
  NAS performance predictors, and the hyperparameters below).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import numpy as np

from jaxnas.predictors import _base

TREE_PACKAGES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "ngboost": "ngboost",
                 "random_forest": "scikit-learn"}


@dataclasses.dataclass(frozen=True)
class TreeState:
  """A fitted host-side model (``model is None`` before the first fit)."""

  model: Any = None
  kind: str = ""


def _seed(key) -> int:
  return int(jax.random.randint(key, (), 0, 2**31 - 1))


def _import(module: str, package: str):
  import importlib

  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise ImportError(
        f"this predictor needs {package!r}: pip install 'jaxnas[trees]' (or pip install {package})"
    ) from e


def _host_predictor(kind: str, num_features: int, build: Callable[[int], Any],
                    predict_fn: Callable[[Any, np.ndarray], tuple[np.ndarray, np.ndarray]],
                    min_points: int = 2) -> _base.Predictor:

  def init(key, buffer_size: int = 1):
    del key, buffer_size
    return TreeState(model=None, kind=kind)

  def fit(key, x, y, mask=None):
    if _base.is_traced(key, x, y, mask):
      raise ValueError(f"{kind} is a host-side predictor and cannot be called inside jit")
    _base.check_fit_inputs(x, y, mask, num_features, min_points)
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    m = np.ones(y.shape, bool) if mask is None else np.asarray(mask, bool)
    model = build(_seed(key))
    model.fit(x[m], y[m])
    return TreeState(model=model, kind=kind)

  def predict(state, x):
    if _base.is_traced(x):
      raise ValueError(f"{kind} is a host-side predictor and cannot be called inside jit")
    _base.check_x(x, num_features)
    if state.model is None:
      n = np.asarray(x).shape[0]
      return np.zeros(n, np.float32), np.full(n, np.inf, np.float32)
    mean, std = predict_fn(state.model, np.asarray(x, np.float32))
    return np.asarray(mean, np.float32), np.asarray(std, np.float32)

  return _base.Predictor(init=init, fit=fit, predict=predict, num_features=num_features,
                         min_points=min_points, jittable=False)


def _no_std(model, x):
  mean = model.predict(x)
  return mean, np.zeros_like(mean)


def xgboost(num_features: int, *, n_estimators: int = 500, max_depth: int = 6,
            learning_rate: float = 0.05, subsample: float = 0.9, colsample_bytree: float = 0.8,
            min_child_weight: float = 1.0) -> _base.Predictor:
  """HOST-SIDE gradient-boosted trees (XGBoost); ``std`` is 0.

  Args:
    num_features: feature size ``D``.
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree, min_child_weight:
      XGBoost's own hyperparameters (``XGBRegressor``).

  Returns:
    A host-side :class:`~jaxnas.predictors.Predictor` (``jittable=False``).
  """
  xgb = _import("xgboost", "xgboost")
  return _host_predictor("xgboost", num_features, lambda seed: xgb.XGBRegressor(
      n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
      subsample=subsample, colsample_bytree=colsample_bytree, min_child_weight=min_child_weight,
      random_state=seed, n_jobs=1, verbosity=0), _no_std)


def lightgbm(num_features: int, *, n_estimators: int = 500, num_leaves: int = 31,
             learning_rate: float = 0.05, min_child_samples: int = 5,
             subsample: float = 0.9, colsample_bytree: float = 0.8) -> _base.Predictor:
  """HOST-SIDE gradient-boosted trees (LightGBM); ``std`` is 0.

  Args:
    num_features: feature size ``D``.
    n_estimators, num_leaves, learning_rate, min_child_samples, subsample, colsample_bytree:
      LightGBM's ``LGBMRegressor`` hyperparameters (``min_child_samples`` lowered from 20 so that
      10-point training sets still split).

  Returns:
    A host-side :class:`~jaxnas.predictors.Predictor`.
  """
  lgb = _import("lightgbm", "lightgbm")
  return _host_predictor("lightgbm", num_features, lambda seed: lgb.LGBMRegressor(
      n_estimators=n_estimators, num_leaves=num_leaves, learning_rate=learning_rate,
      min_child_samples=min_child_samples, subsample=subsample, subsample_freq=1,
      colsample_bytree=colsample_bytree, random_state=seed, n_jobs=1, verbose=-1), _no_std)


def ngboost(num_features: int, *, n_estimators: int = 300, learning_rate: float = 0.05,
            max_depth: int = 3) -> _base.Predictor:
  """HOST-SIDE natural-gradient boosting with a Normal output; ``std`` is the predicted scale.

  Args:
    num_features: feature size ``D``.
    n_estimators, learning_rate: NGBoost's boosting settings.
    max_depth: depth of the base regression trees.

  Returns:
    A host-side :class:`~jaxnas.predictors.Predictor`.
  """
  ngb = _import("ngboost", "ngboost")
  tree = _import("sklearn.tree", "scikit-learn")

  def build(seed):
    return ngb.NGBRegressor(
        n_estimators=n_estimators, learning_rate=learning_rate, verbose=False, random_state=seed,
        Base=tree.DecisionTreeRegressor(criterion="friedman_mse", max_depth=max_depth,
                                        random_state=seed))

  def predict(model, x):
    dist = model.pred_dist(x)
    return dist.params["loc"], dist.params["scale"]

  # NGBoost's standardisation and natural gradients need a few points to be stable.
  return _host_predictor("ngboost", num_features, build, predict, min_points=3)


def random_forest(num_features: int, *, n_estimators: int = 300, max_features: float = 0.5,
                  min_samples_leaf: int = 1) -> _base.Predictor:
  """HOST-SIDE random forest (scikit-learn); ``std`` is the spread of the trees' predictions.

  Args:
    num_features: feature size ``D``.
    n_estimators, max_features, min_samples_leaf: ``RandomForestRegressor`` hyperparameters.

  Returns:
    A host-side :class:`~jaxnas.predictors.Predictor`.
  """
  ens = _import("sklearn.ensemble", "scikit-learn")

  def build(seed):
    return ens.RandomForestRegressor(n_estimators=n_estimators, max_features=max_features,
                                     min_samples_leaf=min_samples_leaf, random_state=seed, n_jobs=1)

  def predict(model, x):
    per_tree = np.stack([t.predict(x) for t in model.estimators_])
    return per_tree.mean(0), per_tree.std(0)

  return _host_predictor("random_forest", num_features, build, predict)
