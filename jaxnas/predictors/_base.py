"""The predictor interface shared by every model in :mod:`jaxnas.predictors`.

A predictor factory closes over its static hyperparameters (feature size, buffer-independent
settings such as the number of optimisation steps) and returns a :class:`Predictor`, a NamedTuple
of pure functions in the style of optax's ``GradientTransformation``:

* ``init(key, buffer_size=1) -> State``: an unfitted state with the same pytree structure and
  shapes as one fitted on a ``buffer_size``-row buffer, so that a search loop can carry it through
  ``lax.scan`` before the first fit.
* ``fit(key, x, y, mask=None) -> State``: ``x: f32[N, D]``, ``y: f32[N]``, ``mask: bool[N]``.
  Rows with ``mask == False`` are ignored exactly (their values may be anything, NaN included), so
  a loop fits on a growing dataset in a fixed-size buffer and compiles once.
* ``predict(state, x) -> (mean, std)``: ``f32[M]`` each; ``std`` is the model's predictive standard
  deviation of a target (0 for models that have none, e.g. a single MLP).

Input checking. When ``fit``/``predict`` receive concrete (non-traced) arrays, they validate on the
host and raise a one-line ``ValueError`` for a feature size that does not match the predictor, too
few valid training points, NaN/inf targets or features in valid rows, and shape mismatches. Inside
``jit`` nothing can be raised; there, a non-finite target drops its row from the mask (so it never
poisons the fit), and a fit with fewer valid rows than ``min_points`` returns the prior: mean 0
(in standardised units, i.e. the mean of the valid targets, or 0 with none) and a std of
``+inf`` for models with uncertainty, never NaN. Host-side predictors (``jittable=False``) always
check.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Predictor(NamedTuple):
  """A performance predictor: pure ``init``/``fit``/``predict`` plus static facts about it.

  Attributes:
    init: ``init(key, buffer_size=1) -> State``, an unfitted state with fitted-state shapes.
    fit: ``fit(key, x, y, mask=None) -> State``.
    predict: ``predict(state, x) -> (mean f32[M], std f32[M])``.
    num_features: the feature size ``D`` the predictor was built for.
    min_points: the fewest valid training rows ``fit`` accepts.
    jittable: False for host-side models (tree ensembles from a library), which run outside jit.
  """

  init: Callable[..., Any]
  fit: Callable[..., Any]
  predict: Callable[..., tuple[jax.Array, jax.Array]]
  num_features: int
  min_points: int = 2
  jittable: bool = True


def is_traced(*xs) -> bool:
  """Whether any input is a jax tracer (then host-side checks must be skipped)."""
  return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))


def check_x(x, num_features: int, what: str = "x") -> None:
  """Host-side shape/finiteness check of a feature matrix ``f32[N, D]``."""
  arr = np.asarray(x)
  if arr.ndim != 2:
    raise ValueError(f"{what} must be a 2-D feature matrix [N, {num_features}], got shape {arr.shape}")
  if arr.shape[1] != num_features:
    raise ValueError(
        f"{what} has {arr.shape[1]} features but the predictor was built for {num_features}; "
        "build it with num_features matching the encoding (see jaxnas.predictors.encoding_size)")


def check_fit_inputs(x, y, mask, num_features: int, min_points: int) -> None:
  """Host-side validation of ``fit`` inputs; raises a one-line ValueError naming the problem."""
  check_x(x, num_features)
  x = np.asarray(x)
  y = np.asarray(y)
  if y.ndim != 1 or y.shape[0] != x.shape[0]:
    raise ValueError(f"y must be f32[N] with N = {x.shape[0]} rows of x, got shape {y.shape}")
  m = np.ones(y.shape, bool) if mask is None else np.asarray(mask)
  if m.shape != y.shape:
    raise ValueError(f"mask must be bool[N] like y {y.shape}, got shape {m.shape}")
  m = m.astype(bool)
  if not np.all(np.isfinite(y[m])):
    bad = int(np.flatnonzero(~np.isfinite(y) & m)[0])
    raise ValueError(
        f"target y[{bad}] = {y[bad]} is not finite; drop that row or set mask[{bad}] = False")
  if not np.all(np.isfinite(x[m])):
    raise ValueError("x has non-finite features in a valid (masked-in) row")
  n = int(m.sum())
  if n < min_points:
    raise ValueError(f"this predictor needs at least {min_points} valid training points, got {n}")


def prepare(x, y, mask):
  """Casts inputs and folds non-finite targets into the mask (the in-jit fallback)."""
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  mask = jnp.ones(y.shape, bool) if mask is None else jnp.asarray(mask, bool)
  mask = mask & jnp.isfinite(y) & jnp.all(jnp.isfinite(x), axis=-1)
  y = jnp.where(mask, y, 0.0)
  x = jnp.where(mask[:, None], x, 0.0)
  return x, y, mask


def standardize(y, mask):
  """Masked mean and std of the targets (std floored so constant targets do not divide by 0)."""
  m = mask.astype(jnp.float32)
  n = jnp.maximum(jnp.sum(m), 1.0)
  mu = jnp.sum(y * m) / n
  var = jnp.sum(jnp.square(y - mu) * m) / n
  sd = jnp.sqrt(jnp.maximum(var, 1e-12))
  sd = jnp.where(var > 1e-12, sd, 1.0)
  return mu, sd


def make_predictor(init, fit_fn, predict_fn, num_features: int, min_points: int = 2,
                   jittable: bool = True) -> Predictor:
  """Wraps raw pure functions with host-side checks and the in-jit NaN/mask handling.

  Args:
    init: ``init(key, buffer_size=1) -> State``.
    fit_fn: ``fit_fn(key, x, y, mask) -> State`` on prepared inputs (masked rows zeroed).
    predict_fn: ``predict_fn(state, x) -> (mean, std)``.
    num_features: expected feature size.
    min_points: fewest valid training rows accepted by the host check.
    jittable: whether the functions may be traced.

  Returns:
    A :class:`Predictor`.
  """

  def fit(key, x, y, mask=None):
    if not is_traced(x, y, mask):
      check_fit_inputs(x, y, mask, num_features, min_points)
    x, y, mask = prepare(x, y, mask)
    return fit_fn(key, x, y, mask)

  def predict(state, x):
    if not is_traced(x):
      check_x(x, num_features)
    return predict_fn(state, jnp.asarray(x, jnp.float32))

  return Predictor(init=init, fit=fit, predict=predict, num_features=num_features,
                   min_points=min_points, jittable=jittable)


def adam_scan(loss_fn: Callable, params, num_steps: int, learning_rate: float, *args):
  """Minimises ``loss_fn(params, *args)`` with ``num_steps`` full-batch Adam steps in a
  ``lax.scan`` (a fixed step count keeps ``fit`` jittable and its cost predictable)."""
  import optax  # local: only the optimised predictors need it

  tx = optax.adam(learning_rate)
  grad_fn = jax.value_and_grad(loss_fn)

  def body(carry, _):
    p, s = carry
    loss, g = grad_fn(p, *args)
    # A non-finite gradient (e.g. a failed Cholesky) must not destroy the parameters.
    ok = jnp.all(jnp.array([jnp.all(jnp.isfinite(l)) for l in jax.tree_util.tree_leaves(g)]))
    g = jax.tree_util.tree_map(lambda l: jnp.where(ok, l, 0.0), g)
    upd, s = tx.update(g, s, p)
    return (optax.apply_updates(p, upd), s), loss

  (params, _), losses = jax.lax.scan(body, (params, tx.init(params)), None, length=num_steps)
  return params, losses


TARGET_TRANSFORMS = ("none", "log_gap")


class TransformedState(NamedTuple):
  """State of :func:`with_target_transform`: the inner state and the fitted transform."""

  inner: Any
  upper: jax.Array  # [] the bound u of t = -log(u - y)
  t_range: jax.Array  # [2] (lowest, highest) transformed training target


def _log_gap_upper(y, mask, margin):
  m = mask.astype(jnp.float32)
  big = jnp.max(jnp.where(mask, y, -jnp.inf))
  small = jnp.min(jnp.where(mask, y, jnp.inf))
  spread = jnp.where(jnp.sum(m) > 1, big - small, 1.0)
  big = jnp.where(jnp.sum(m) > 0, big, 0.0)
  return big + margin * jnp.maximum(spread, 1e-6)


def with_target_transform(predictor: Predictor, kind: str = "log_gap",
                          margin: float = 0.02) -> Predictor:
  """Fits ``predictor`` on transformed targets and maps its predictions back.

  ``log_gap`` is ``t = -log(u - y)`` with ``u = max(y) + margin * (max(y) - min(y))`` fitted on the
  valid targets: monotone, so it keeps rankings, and it stretches the crowded top of an accuracy
  distribution while compressing its long low tail (NB201: most cells at 85-91 %, a tail down to
  10 %), which otherwise dominates a squared-error or Gaussian-likelihood fit. Predictions map
  back by ``y = u - exp(-t)``, the std by the delta method ``(u - y) * std_t``; predicted ``t`` is
  clipped to the training targets' range widened by its width on both sides (no overflow).

  Args:
    predictor: any jittable :class:`Predictor`.
    kind: one of ``TARGET_TRANSFORMS`` (``none`` returns ``predictor`` unchanged).
    margin: the gap above the best training target, as a fraction of the target range. On NB201
      cifar10 (GP, 100 / 400 training cells) 0.02 gave Kendall tau 0.60 / 0.72, 0.05 gave
      0.59 / 0.70, 0.1 gave 0.57 / 0.68, untransformed targets 0.48 / 0.57.

  Returns:
    A :class:`Predictor` with :class:`TransformedState`.
  """
  if kind == "none":
    return predictor
  if kind != "log_gap":
    raise ValueError(f"unknown target transform {kind!r}; valid: {', '.join(TARGET_TRANSFORMS)}")

  def init(key, buffer_size: int = 1):
    return TransformedState(inner=predictor.init(key, buffer_size), upper=jnp.ones(()),
                            t_range=jnp.zeros((2,)))

  def fit(key, x, y, mask=None):
    if not is_traced(x, y, mask):
      check_fit_inputs(x, y, mask, predictor.num_features, predictor.min_points)
    x, y, mask = prepare(x, y, mask)
    u = _log_gap_upper(y, mask, margin)
    t = jnp.where(mask, -jnp.log(jnp.maximum(u - y, 1e-12)), 0.0)
    t_range = jnp.stack([jnp.min(jnp.where(mask, t, jnp.inf)), jnp.max(jnp.where(mask, t, -jnp.inf))])
    t_range = jnp.where(jnp.any(mask), t_range, 0.0)
    return TransformedState(inner=predictor.fit(key, x, t, mask), upper=u, t_range=t_range)

  def predict(state, x):
    mt, st = predictor.predict(state.inner, x)
    # exp(-t) overflows for a wild extrapolation (an MLP fitted on 10 points can predict t = -150),
    # so predictions are clipped to the training range widened by its own width on each side.
    width = jnp.maximum(state.t_range[1] - state.t_range[0], 1e-3)
    mt = jnp.clip(mt, state.t_range[0] - width, state.t_range[1] + width)
    gap = jnp.exp(-mt)
    return state.upper - gap, gap * st

  return predictor._replace(init=init, fit=fit, predict=predict)
