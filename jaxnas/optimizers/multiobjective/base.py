"""The multi-objective optimizer interface (``init`` / ``ask`` / ``tell`` over vectors)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax.numpy as jnp

from jaxnas import pareto


class MOOptimizer(NamedTuple):
  """A multi-objective black-box optimizer as pure functions (hashable: a static argument).

  Attributes:
    init: ``(key) -> State``; every state has ``archive``: a :class:`jaxnas.pareto.Archive` of the
      non-dominated feasible architectures found (a fixed-size buffer).
    ask: ``(key, state) -> (archs Arch[num_ask], state)``.
    tell: ``(key, state, archs, ids int32[num_ask], values f32[num_ask, M], ok bool[num_ask])
      -> state``. ``values`` are in maximised form (``sign * value``); an infeasible query's values
      are already pushed below every feasible one (feasibility first), and ``ok`` is False for it
      (and for a missing result): only ``ok`` queries may enter the archive.
    num_ask: architectures per ``ask`` (static).
    name: registry name.
  """

  init: Callable[[Any], Any]
  ask: Callable[..., tuple[Any, Any]]
  tell: Callable[..., Any]
  num_ask: int
  name: str


def new_archive(space, size: int, num_objectives: int) -> pareto.Archive:
  """An empty archive for ``space``'s architectures."""
  import jax  # pylint: disable=import-outside-toplevel
  one = jax.eval_shape(lambda: space.sample(jax.random.key(0)))
  return pareto.archive_init(jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), one), size,
                             num_objectives)
