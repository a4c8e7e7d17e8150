"""Regularized (aging) evolution (Real et al., AAAI 2019; NASLib ``RegularizedEvolution``)."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import rng
from jaxnas.optimizers.blackbox.base import (NEG_INF, BlackBoxOptimizer, check_positive,
                                             clean_fitness, tree_where)
from jaxnas.spaces import SearchSpace


@flax.struct.dataclass
class RegularizedEvolutionState:
  population: object  # Arch with a leading [P] axis; slot count % P holds the oldest once full
  fitness: jax.Array  # [P] f32, -inf in empty slots
  count: jax.Array  # [] int32, queries told so far


def regularized_evolution(space: SearchSpace, *, population_size: int = 30,
                          sample_size: int = 10) -> BlackBoxOptimizer:
  """Aging evolution, NASLib semantics: one query per step.

  The first ``population_size`` steps sample random architectures. Afterwards each step draws
  ``sample_size`` members uniformly *with replacement* (as NASLib's ``np.random.choice`` loop),
  mutates the fittest of them, queries the child and replaces the oldest member by it.

  Args:
    space: the search space.
    population_size: P (NASLib default 30).
    sample_size: tournament size (NASLib default 10).

  Returns:
    A :class:`BlackBoxOptimizer`.

  References:
    Real, Aggarwal, Huang, Le. Regularized Evolution for Image Classifier Architecture Search.
    AAAI 2019.
  """
  check_positive(population_size=population_size, sample_size=sample_size)

  def init(key):
    pop = space.sample(key, (population_size,))  # placeholders; fitness -inf marks them empty
    return RegularizedEvolutionState(
        population=pop, fitness=jnp.full((population_size,), NEG_INF, jnp.float32),
        count=jnp.zeros((), jnp.int32))

  def fresh(k_rand, k_tour, k_mut, state):
    del k_tour, k_mut, state
    return space.sample(k_rand, ())

  def evolve(k_rand, k_tour, k_mut, state):
    del k_rand
    idx = rng.randint(k_tour, (sample_size,), population_size)
    parent_slot = idx[jnp.argmax(state.fitness[idx])]
    parent = jax.tree.map(lambda x: x[parent_slot], state.population)
    return space.mutate(k_mut, parent)

  def ask(key, state):
    args = (*rng.split(key, 3), state)
    if _same_types(jax.eval_shape(fresh, *args), jax.eval_shape(evolve, *args)):
      # only the branch this step needs runs: the count is the same in every seed of a vmapped
      # search (the loop's carry keeps it unbatched), so this is a real conditional there, not a
      # select of both (a random architecture at every step cost NB-Graph's RE a quarter of its
      # time); the same values as the select below
      arch = jax.lax.cond(state.count < population_size, fresh, evolve, *args)
    else:  # branches of different types: the select, with its type promotion
      arch = tree_where(state.count < population_size, fresh(*args), evolve(*args))
    return jax.tree.map(lambda x: x[None], arch), state

  def tell(key, state, archs, fitness):
    del key
    slot = state.count % population_size
    pop = jax.tree.map(lambda p, a: p.at[slot].set(a[0]), state.population, archs)
    fit = state.fitness.at[slot].set(clean_fitness(fitness)[0])
    return state.replace(population=pop, fitness=fit, count=state.count + 1), {}

  return BlackBoxOptimizer(init=init, ask=ask, tell=tell, num_ask=1, name="re")


def _same_types(a, b) -> bool:
  """Whether two abstract pytrees have the same structure, shapes and dtypes (weak types too)."""
  la, ta = jax.tree.flatten(a)
  lb, tb = jax.tree.flatten(b)
  return ta == tb and all((x.shape, x.dtype, getattr(x, "weak_type", False))
                          == (y.shape, y.dtype, getattr(y, "weak_type", False))
                          for x, y in zip(la, lb))
