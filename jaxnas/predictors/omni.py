"""OMNI-style predictors: a model on the encoding concatenated with zero-cost (or other cheap)
scores.

The scores are any per-architecture feature array (zero-cost proxies, parameter counts, a
low-fidelity accuracy); this module does not depend on :mod:`jaxnas.predictors.zero_cost`. Zero-cost
scores span many orders of magnitude (synflow reaches 1e30), so before the base model sees them
each score column goes through a signed ``log1p`` and is standardised with the training rows'
mean and std (stored in the state, so prediction uses the training statistics).

References:
  White et al., "How Powerful are Performance Predictors in Neural Architecture Search?",
  NeurIPS 2021, section 5 (OMNI: a tree model on encoding + zero-cost + learning-curve features).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.predictors import _base


class OmniState(NamedTuple):
  """The base model's state and the score standardisation."""

  inner: Any
  score_mean: jax.Array  # [Z]
  score_std: jax.Array  # [Z]


def omni_features(encoding, scores) -> jax.Array:
  """Concatenates an encoding ``f32[N, D]`` and scores ``f32[N]`` or ``f32[N, Z]`` -> ``[N, D+Z]``."""
  scores = jnp.asarray(scores, jnp.float32)
  if scores.ndim == 1:
    scores = scores[:, None]
  return jnp.concatenate([jnp.asarray(encoding, jnp.float32), scores], -1)


def _slog(s):
  return jnp.sign(s) * jnp.log1p(jnp.abs(s))


def omni(base: _base.Predictor, num_scores: int) -> _base.Predictor:
  """Wraps ``base`` (built for ``D + Z`` features) so its last ``Z = num_scores`` columns are
  treated as scores (signed-log, then standardised on the training rows).

  Works for jittable bases (GP, MLP, ...) and host-side tree models alike; jittability is the
  base's. ``jaxnas.predictors.PREDICTORS["omni_*"]`` build the common combinations.

  Args:
    base: the predictor on the concatenated features.
    num_scores: how many trailing columns are scores.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`OmniState`.
  """
  if not 0 < num_scores < base.num_features:
    raise ValueError(f"num_scores must be in 1..{base.num_features - 1}, got {num_scores}")
  d = base.num_features - num_scores
  def transform(x, mu, sd):
    s = (_slog(x[:, d:]) - mu) / sd
    return jnp.concatenate([x[:, :d], s], -1)

  def init(key, buffer_size: int = 1):
    return OmniState(inner=base.init(key, buffer_size), score_mean=jnp.zeros((num_scores,)),
                     score_std=jnp.ones((num_scores,)))

  def fit(key, x, y, mask=None):
    if not base.jittable and _base.is_traced(key, x, y, mask):
      raise ValueError("this OMNI predictor's base is host-side and cannot be called inside jit")
    if not _base.is_traced(x, y, mask):
      _base.check_fit_inputs(x, y, mask, base.num_features, base.min_points)
    x, y, mask = _base.prepare(x, y, mask)
    m = mask.astype(jnp.float32)[:, None]
    s = _slog(x[:, d:])
    n = jnp.maximum(jnp.sum(m), 1.0)
    mu = jnp.sum(s * m, 0) / n
    sd = jnp.sqrt(jnp.sum(jnp.square(s - mu) * m, 0) / n)
    sd = jnp.where(sd > 1e-8, sd, 1.0)
    xt = jnp.where(mask[:, None], transform(x, mu, sd), 0.0)
    if not base.jittable:
      xt = np.asarray(xt)
    return OmniState(inner=base.fit(key, xt, y, mask), score_mean=mu, score_std=sd)

  def predict(state, x):
    if not base.jittable and _base.is_traced(x):
      raise ValueError("this OMNI predictor's base is host-side and cannot be called inside jit")
    if not _base.is_traced(x):
      _base.check_x(x, base.num_features)
    xt = transform(jnp.asarray(x, jnp.float32), state.score_mean, state.score_std)
    if not base.jittable:
      xt = np.asarray(xt)
    return base.predict(state.inner, xt)

  return base._replace(init=init, fit=fit, predict=predict)
