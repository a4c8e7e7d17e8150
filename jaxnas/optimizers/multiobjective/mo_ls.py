"""Pareto local search."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import pareto, rng
from jaxnas.optimizers.blackbox.base import check_positive, tree_where
from jaxnas.optimizers.multiobjective.base import MOOptimizer, new_archive


@flax.struct.dataclass
class ParetoLocalSearchState:
  center: Any  # Arch: the archive member whose neighbourhood is walked
  todo: jax.Array  # [K] bool: its neighbours not yet queried (all False: pick a new center)
  archive: pareto.Archive  # flag = explored (chosen as a center)
  count: jax.Array  # [] int32


def pareto_local_search(space, *, num_objectives: int, archive_size: int = 128) -> MOOptimizer:
  """Pareto local search (PLS): one query per step.

  The first query is random. Then the search walks the neighbourhood of a *center*, an archive
  member not explored yet (chosen uniformly; marked explored when chosen), one uniformly drawn
  unqueried neighbour per step; every non-dominated feasible result enters the archive. When the
  neighbourhood is exhausted, the next unexplored member becomes the center; when every member is
  explored (a Pareto local optimum), a random architecture is queried, and the walk goes on from
  the archive it may change. Only neighbours the space marks valid are walked.

  Args:
    space: the search space (``neighbours_masked`` or ``neighbours``).
    num_objectives: M (static).
    archive_size: archive slots.

  Returns:
    An :class:`MOOptimizer` named ``mo_ls``.

  References:
    Paquete, Chiarandini, Stützle. Pareto local optimum sets in the biobjective traveling salesman
    problem: an experimental study. Metaheuristics for Multiobjective Optimisation, 2004.
  """
  check_positive(num_objectives=num_objectives, archive_size=archive_size)
  k_nb = space.num_neighbours

  def neighbourhood(arch):
    if space.neighbours_masked is not None:
      return space.neighbours_masked(arch)
    nb = space.neighbours(arch)
    return nb, jnp.ones((k_nb,), bool)

  def init(key):
    return ParetoLocalSearchState(
        center=space.sample(key), todo=jnp.zeros((k_nb,), bool),
        archive=new_archive(space, archive_size, num_objectives), count=jnp.zeros((), jnp.int32))

  def ask(key, state):
    k_rand, k_center, k_nb_pick = rng.split(key, 3)
    a = state.archive
    need = ~jnp.any(state.todo)
    open_ = a.valid & ~a.flag
    u = jax.random.uniform(k_center, (a.valid.shape[0],))
    pick = jnp.argmax(jnp.where(open_, u, -1.0))
    restart = need & ~jnp.any(open_)
    new_center = jax.tree.map(lambda x: x[pick], a.archs)
    center = tree_where(need, new_center, state.center)
    _, valid_nb = neighbourhood(center)
    todo = jnp.where(need, valid_nb, state.todo)
    flag = jnp.where(need & ~restart, a.flag.at[pick].set(True), a.flag)
    k = jnp.argmax(jnp.where(todo, jax.random.uniform(k_nb_pick, (k_nb,)), -1.0))
    neighbour = space.neighbour(center, k)
    arch = tree_where(restart | (state.count == 0), space.sample(k_rand), neighbour)
    walked = ~restart & (state.count > 0)
    todo = jnp.where(walked, todo.at[k].set(False), jnp.where(restart, False, todo))
    return (jax.tree.map(lambda x: x[None], arch),
            state.replace(center=center, todo=todo, archive=a.replace(flag=flag)))

  def tell(key, state, archs, ids, values, ok):
    del key
    archive = pareto.archive_insert_many(state.archive, archs, ids, values, ok)
    return state.replace(archive=archive, count=state.count + 1)

  return MOOptimizer(init=init, ask=ask, tell=tell, num_ask=1, name="mo_ls")
