"""Acquisition functions for model-based NAS (NASLib ``bananas/acquisition_functions.py``).

Each maps a predictor's ``(mean, std)`` over candidates to a score to maximise. All are pure and
vmappable; the random one (independent Thompson sampling) takes a key first.

References:
  White, Neiswanger, Savani. BANANAS: Bayesian Optimization with Neural Architectures for Neural
  Architecture Search. AAAI 2021 (independent Thompson sampling).
  Srinivas, Krause, Kakade, Seeger. Gaussian Process Optimization in the Bandit Setting. ICML 2010
  (UCB). Mockus. Bayesian Approach to Global Optimization. 1989 (expected improvement).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ACQUISITIONS = ("its", "ucb", "ei", "exploit_only")


def check_acquisition(kind: str) -> None:
  """Host-side: a ValueError naming the valid acquisition functions."""
  if kind not in ACQUISITIONS:
    raise ValueError(f"unknown acquisition function {kind!r}; valid: {', '.join(ACQUISITIONS)}")


def acquisition(kind: str, key: jax.Array, mean: jax.Array, std: jax.Array, best: jax.Array,
                explore_factor: float = 0.5, ei_calibration_factor: float = 5.0) -> jax.Array:
  """Scores candidates from a predictive ``mean`` and ``std`` (``f32[C]`` each).

  Args:
    kind: ``its`` (one draw from N(mean, std) per candidate, NASLib's independent Thompson
      sampling), ``ucb`` (``mean + explore_factor * std``), ``ei`` (expected improvement over
      ``best``, with NASLib's std calibration ``std / ei_calibration_factor``) or ``exploit_only``
      (the mean).
    key: randomness for ``its`` (ignored otherwise).
    mean, std: the predictor's outputs; a non-finite std (an unfitted model) counts as 0 spread
      for ``ucb``/``its`` so the scores stay finite.
    best: the best observed value (for ``ei``).
    explore_factor: UCB's weight on ``std`` (NASLib default 0.5).
    ei_calibration_factor: NASLib divides the ensemble std by this before EI (default 5).

  Returns:
    ``f32[C]`` scores; larger is better.
  """
  check_acquisition(kind)
  std = jnp.where(jnp.isfinite(std), std, 0.0)
  if kind == "exploit_only":
    return mean
  if kind == "ucb":
    return mean + explore_factor * std
  if kind == "its":
    return mean + std * jax.random.normal(key, mean.shape)
  # expected improvement, maximisation form
  sd = jnp.maximum(std / ei_calibration_factor, 1e-9)
  z = (mean - best) / sd
  return sd * (z * jax.scipy.stats.norm.cdf(z) + jax.scipy.stats.norm.pdf(z))
