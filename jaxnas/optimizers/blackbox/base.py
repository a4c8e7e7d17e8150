"""The black-box optimizer interface (evosax-style ``init`` / ``ask`` / ``tell``)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

NEG_INF = -jnp.inf


class BlackBoxOptimizer(NamedTuple):
  """A black-box NAS optimizer as pure functions (a hashable tuple: usable as a static argument).

  Attributes:
    init: ``(key) -> State``.
    ask: ``(key, state) -> (archs, state)``; ``archs`` has a leading axis of size ``num_ask``.
    tell: ``(key, state, archs, fitness f32[num_ask]) -> (state, metrics dict)``; NaN fitness is
      treated as ``-inf`` (never selected as best).
    num_ask: architectures proposed per ``ask`` (static).
    name: registry name.
    fidelities: the training epochs the optimizer queries at, increasing (static): ``()`` for a
      single-fidelity optimizer, which queries at the objective's fidelity; the rungs of a
      multi-fidelity one (one rung: every query at full budget, the objective's fidelity).
  """

  init: Callable[[jax.Array], Any]
  ask: Callable[[jax.Array, Any], tuple[Any, Any]]
  tell: Callable[..., tuple[Any, dict]]
  num_ask: int
  name: str
  fidelities: tuple[int, ...] = ()


def clean_fitness(fitness: jax.Array) -> jax.Array:
  """NaN fitness never wins: map it to ``-inf``."""
  fitness = jnp.asarray(fitness, jnp.float32)
  return jnp.where(jnp.isnan(fitness), NEG_INF, fitness)


def tree_where(cond, a, b):
  """``where`` over two pytrees of the same structure (``cond`` a scalar bool)."""
  return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def check_positive(**kwargs) -> None:
  """Host-side validation of integer hyperparameters."""
  for k, v in kwargs.items():
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
      raise ValueError(f"{k} must be a positive integer, got {v!r}")

