"""Random search with Pareto bookkeeping (the multi-objective baseline)."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import pareto
from jaxnas.optimizers.blackbox.base import check_positive
from jaxnas.optimizers.multiobjective.base import MOOptimizer, new_archive


@flax.struct.dataclass
class MORandomSearchState:
  archive: pareto.Archive
  count: jax.Array  # [] int32


def mo_random_search(space, *, num_objectives: int, archive_size: int = 128) -> MOOptimizer:
  """Uniform random sampling, one architecture per step; the non-dominated feasible results are
  kept in a fixed-size archive.

  Args:
    space: the search space.
    num_objectives: M (static).
    archive_size: archive slots (exact while the found front fits).

  Returns:
    An :class:`MOOptimizer` named ``rs``.
  """
  check_positive(num_objectives=num_objectives, archive_size=archive_size)

  def init(key):
    del key
    return MORandomSearchState(archive=new_archive(space, archive_size, num_objectives),
                               count=jnp.zeros((), jnp.int32))

  def ask(key, state):
    return space.sample(key, (1,)), state

  def tell(key, state, archs, ids, values, ok):
    del key
    archive = pareto.archive_insert_many(state.archive, archs, ids, values, ok)
    return state.replace(archive=archive, count=state.count + ids.shape[0])

  return MOOptimizer(init=init, ask=ask, tell=tell, num_ask=1, name="rs")
