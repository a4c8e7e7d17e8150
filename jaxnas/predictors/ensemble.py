"""An ensemble wrapper: fits ``K`` copies of any jittable predictor with different keys (vmapped)
and reports the mixture's mean and spread.

References:
  Lakshminarayanan, Pritzel & Blundell, "Simple and Scalable Predictive Uncertainty Estimation
  using Deep Ensembles", NeurIPS 2017; White et al., BANANAS, AAAI 2021 (ensemble of 5 MLPs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnas.predictors import _base


def ensemble(predictor: _base.Predictor, num_members: int = 5) -> _base.Predictor:
  """Wraps ``predictor`` into an ensemble of ``num_members`` independently keyed fits.

  The members share the training data and differ by their fit key (initialisation, inducing
  points, ...), as in BANANAS. Prediction is the mixture's: ``mean`` the members' average,
  ``std = sqrt(mean(std_k^2) + var(mean_k))``, so members without their own uncertainty give the
  ensemble spread.

  Args:
    predictor: any jittable :class:`~jaxnas.predictors.Predictor`.
    num_members: ensemble size ``K`` (static).

  Returns:
    A :class:`~jaxnas.predictors.Predictor` whose state is the member state with a leading
    ``[K]`` axis.
  """
  if not predictor.jittable:
    raise ValueError("ensemble() vmaps over members and needs a jittable predictor; host-side "
                     "tree models already are ensembles")
  if num_members < 1:
    raise ValueError(f"num_members must be >= 1, got {num_members}")

  def init(key, buffer_size: int = 1):
    keys = jax.random.split(key, num_members)
    return jax.vmap(lambda k: predictor.init(k, buffer_size))(keys)

  def fit(key, x, y, mask=None):
    if not _base.is_traced(x, y, mask):
      _base.check_fit_inputs(x, y, mask, predictor.num_features, predictor.min_points)
    x, y, mask = _base.prepare(x, y, mask)
    keys = jax.random.split(key, num_members)
    return jax.vmap(predictor.fit, in_axes=(0, None, None, None))(keys, x, y, mask)

  def predict(state, x):
    if not _base.is_traced(x):
      _base.check_x(x, predictor.num_features)
    means, stds = jax.vmap(predictor.predict, in_axes=(0, None))(state, jnp.asarray(x, jnp.float32))
    mean = jnp.mean(means, 0)
    var = jnp.mean(jnp.square(stds), 0) + jnp.var(means, 0)
    return mean, jnp.sqrt(var)

  return predictor._replace(init=init, fit=fit, predict=predict)
