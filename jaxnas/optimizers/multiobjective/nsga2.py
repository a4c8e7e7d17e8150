"""NSGA-II selection in regularized (aging) evolution."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import pareto, rng
from jaxnas.optimizers.blackbox.base import check_positive, tree_where
from jaxnas.optimizers.multiobjective.base import MOOptimizer, new_archive


@flax.struct.dataclass
class NSGA2State:
  population: Any  # Arch[P]; slot count % P holds the oldest once full
  values: jax.Array  # [P, M] f32 maximised form, -inf in empty slots
  archive: pareto.Archive
  count: jax.Array  # [] int32


def selection_score(values: jax.Array, valid: jax.Array) -> jax.Array:
  """``f32[P]``: NSGA-II's rank-and-crowding order as one number (higher is better): minus the
  front index, plus a bonus in [0, 0.5] growing with the crowding distance (so rank decides first,
  then the less crowded wins)."""
  ranks = pareto.nondominated_ranks(values, valid)
  crowd = pareto.crowding_distance(jnp.where(valid[:, None], values, 0.0), ranks)
  bonus = jnp.where(jnp.isinf(crowd), 0.5, 0.5 * crowd / (1.0 + crowd))
  return jnp.where(valid, -ranks.astype(jnp.float32) + bonus, -jnp.inf)


def nsga2(space, *, num_objectives: int, population_size: int = 30, sample_size: int = 10,
          archive_size: int = 128) -> MOOptimizer:
  """Regularized evolution with NSGA-II's rank-and-crowding tournament: one query per step.

  The first ``population_size`` steps sample at random. Afterwards each step draws
  ``sample_size`` members uniformly with replacement, mutates the one NSGA-II ranks best (lowest
  non-dominated front of the population, then largest crowding distance), queries the child and
  replaces the oldest member by it (aging, as in regularized evolution). Infeasible children carry
  values below every feasible one, so they rank last. The feasible non-dominated results are kept
  in a fixed-size archive.

  Args:
    space: the search space.
    num_objectives: M (static).
    population_size: P.
    sample_size: tournament size.
    archive_size: archive slots.

  Returns:
    An :class:`MOOptimizer` named ``nsga2``.

  References:
    Deb, Pratap, Agarwal, Meyarivan. A fast and elitist multiobjective genetic algorithm: NSGA-II.
    IEEE TEVC 2002. Real, Aggarwal, Huang, Le. Regularized Evolution for Image Classifier
    Architecture Search. AAAI 2019.
  """
  check_positive(num_objectives=num_objectives, population_size=population_size,
                 sample_size=sample_size, archive_size=archive_size)

  def init(key):
    return NSGA2State(
        population=space.sample(key, (population_size,)),
        values=jnp.full((population_size, num_objectives), -jnp.inf, jnp.float32),
        archive=new_archive(space, archive_size, num_objectives),
        count=jnp.zeros((), jnp.int32))

  def ask(key, state):
    k_rand, k_tour, k_mut = rng.split(key, 3)
    valid = jnp.all(jnp.isfinite(state.values), axis=-1)
    score = selection_score(state.values, valid)
    idx = rng.randint(k_tour, (sample_size,), population_size)
    slot = idx[jnp.argmax(score[idx])]
    parent = jax.tree.map(lambda x: x[slot], state.population)
    child = space.mutate(k_mut, parent)
    arch = tree_where(state.count < population_size, space.sample(k_rand, ()), child)
    return jax.tree.map(lambda x: x[None], arch), state

  def tell(key, state, archs, ids, values, ok):
    del key
    slot = state.count % population_size
    v = jnp.where(jnp.all(jnp.isfinite(values[0])), values[0], -jnp.inf)
    return state.replace(
        population=jax.tree.map(lambda p, a: p.at[slot].set(a[0]), state.population, archs),
        values=state.values.at[slot].set(v),
        archive=pareto.archive_insert_many(state.archive, archs, ids, values, ok),
        count=state.count + 1)

  return MOOptimizer(init=init, ask=ask, tell=tell, num_ask=1, name="nsga2")
