"""ParEGO: random Chebyshev scalarisations searched with the BANANAS machinery."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import pareto, rng
from jaxnas.optimizers.blackbox.bananas import build_predictor, model_based
from jaxnas.optimizers.blackbox.base import NEG_INF, check_positive
from jaxnas.optimizers.multiobjective.base import MOOptimizer, new_archive

RHO = 0.05  # ParEGO's augmentation weight (Knowles 2006)


@flax.struct.dataclass
class ParEGOState:
  inner: Any  # jaxnas.optimizers.blackbox.bananas.ModelBasedState: its y is rewritten with each ask's scalarisation
  values: jax.Array  # [B, M] f32: the queried vectors (maximised form), aligned with inner's ring
  ok: jax.Array  # [B] bool: feasible results (they set the normalisation)
  weights: jax.Array  # [M] f32: the scalarisation of the last ask
  archive: pareto.Archive
  count: jax.Array  # [] int32


def chebyshev(values: jax.Array, weights: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
  """Augmented Chebyshev scalarisation in maximised form (higher is better): each objective's
  shortfall from the best ``hi``, over the range ``hi - lo``; ``-(max_m w_m d_m + RHO sum_m w_m
  d_m)``."""
  d = (hi - values) / jnp.where(hi > lo, hi - lo, 1.0)
  return -(jnp.max(weights * d, axis=-1) + RHO * jnp.sum(weights * d, axis=-1))


def parego(space, *, num_objectives: int, num_init: int = 10, k: int = 10, num_ensemble: int = 3,
           predictor: str = "mlp_ensemble", encoding_type: str = "path", acq_fn_type: str = "its",
           num_arches_to_mutate: int = 2, max_mutations: int = 1, num_candidates: int = 100,
           buffer_size: int = 320, archive_size: int = 128) -> MOOptimizer:
  """ParEGO with BANANAS: before each ``ask`` a weight vector is drawn uniformly from the simplex,
  every result so far is scalarised with the augmented Chebyshev function of the objectives
  normalised by the feasible results' ranges, and BANANAS' ``ask`` (predictor ensemble fitted on
  the scalarised values, candidates by mutation of the best, acquisition) proposes the next ``k``.

  Args:
    space: the search space.
    num_objectives: M (static).
    num_init, k, num_ensemble, predictor, encoding_type, acq_fn_type, num_arches_to_mutate,
      max_mutations, num_candidates, buffer_size: as for
      :func:`jaxnas.optimizers.blackbox.bananas.bananas` (``buffer_size`` >= the number of queries
      keeps every result).
    archive_size: archive slots.

  Returns:
    An :class:`MOOptimizer` named ``parego`` (``num_ask = k``).

  References:
    Knowles. ParEGO: a hybrid algorithm with on-line landscape approximation for expensive
    multiobjective optimization problems. IEEE TEVC 2006. White, Neiswanger, Savani. BANANAS.
    AAAI 2021.
  """
  check_positive(num_objectives=num_objectives, archive_size=archive_size)
  p = build_predictor(predictor, encoding_type, num_ensemble, "none", space)
  inner = model_based(
      space, p, name="parego", encoding_type=encoding_type, num_init=num_init, k=k,
      num_candidates=num_candidates, acq_fn_type=acq_fn_type, acq_fn_optimization="mutation",
      num_arches_to_mutate=num_arches_to_mutate, max_mutations=max_mutations,
      buffer_size=buffer_size)
  m = num_objectives

  def bounds(values, ok):
    use = ok[:, None] & jnp.isfinite(values)
    lo = jnp.min(jnp.where(use, values, jnp.inf), axis=0)
    hi = jnp.max(jnp.where(use, values, -jnp.inf), axis=0)
    none = ~jnp.isfinite(lo)
    return jnp.where(none, 0.0, lo), jnp.where(none, 1.0, hi)

  def init(key):
    return ParEGOState(
        inner=inner.init(key), values=jnp.full((buffer_size, m), -jnp.inf, jnp.float32),
        ok=jnp.zeros((buffer_size,), bool), weights=jnp.full((m,), 1.0 / m, jnp.float32),
        archive=new_archive(space, archive_size, m), count=jnp.zeros((), jnp.int32))

  def scalarise(state, weights):
    lo, hi = bounds(state.values, state.ok)
    s = chebyshev(state.values, weights, lo, hi)
    return jnp.where(state.inner.mask & jnp.isfinite(s), s, NEG_INF)

  def ask(key, state):
    k_w, k_ask = rng.split(key)
    w = jax.random.dirichlet(k_w, jnp.ones((m,)))
    y = scalarise(state, w)
    archs, new_inner = inner.ask(k_ask, state.inner.replace(y=y))
    return archs, state.replace(inner=new_inner, weights=w)

  def tell(key, state, archs, ids, values, ok):
    slots = (state.inner.count + jnp.arange(k)) % buffer_size
    vals = state.values.at[slots].set(jnp.where(jnp.isfinite(values), values, -jnp.inf))
    oks = state.ok.at[slots].set(ok)
    lo, hi = bounds(vals, oks)
    f = chebyshev(values, state.weights, lo, hi)
    f = jnp.where(jnp.all(jnp.isfinite(values), axis=-1), f, jnp.nan)
    new_inner, _ = inner.tell(key, state.inner, archs, f)
    return state.replace(
        inner=new_inner, values=vals, ok=oks,
        archive=pareto.archive_insert_many(state.archive, archs, ids, values, ok),
        count=state.count + k)

  return MOOptimizer(init=init, ask=ask, tell=tell, num_ask=k, name="parego")
