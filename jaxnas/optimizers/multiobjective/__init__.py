"""Multi-objective black-box optimizers (``init`` / ``ask`` / ``tell`` over objective vectors,
each keeping a fixed-size archive of non-dominated architectures) and the search loop that runs
many seeds as one compiled program (:mod:`jaxnas.optimizers.multiobjective.loop`).

``MO_OPTIMIZERS``: name -> factory ``(space, *, num_objectives, **hyperparameters)``.
"""

from __future__ import annotations

from jaxnas.optimizers.multiobjective.base import MOOptimizer
from jaxnas.optimizers.multiobjective.mo_ls import pareto_local_search
from jaxnas.optimizers.multiobjective.nsga2 import nsga2
from jaxnas.optimizers.multiobjective.parego import parego
from jaxnas.optimizers.multiobjective.random_search import mo_random_search

MO_OPTIMIZERS = {
    "rs": mo_random_search,
    "nsga2": nsga2,
    "mo_ls": pareto_local_search,
    "parego": parego,
}


def make(name: str, space, *, num_objectives: int, **hparams) -> MOOptimizer:
  """Builds registered multi-objective optimizer ``name`` (one-line ValueError for an unknown name
  or hyperparameter)."""
  import inspect  # pylint: disable=import-outside-toplevel
  if name not in MO_OPTIMIZERS:
    raise ValueError(f"unknown multi-objective optimizer {name!r}; valid: "
                     f"{', '.join(MO_OPTIMIZERS)}")
  factory = MO_OPTIMIZERS[name]
  known = [p for p in inspect.signature(factory).parameters if p not in ("space", "num_objectives")]
  bad = sorted(set(hparams) - set(known))
  if bad:
    raise ValueError(f"optimizer {name!r} has no hyperparameter {bad[0]!r}; valid: "
                     f"{', '.join(known)}")
  return factory(space, num_objectives=num_objectives, **hparams)


def hyperparameters(name: str) -> dict:
  """The keyword hyperparameters (with defaults) of multi-objective optimizer ``name``."""
  import inspect  # pylint: disable=import-outside-toplevel
  if name not in MO_OPTIMIZERS:
    raise ValueError(f"unknown multi-objective optimizer {name!r}; valid: "
                     f"{', '.join(MO_OPTIMIZERS)}")
  sig = inspect.signature(MO_OPTIMIZERS[name])
  return {k: p.default for k, p in sig.parameters.items()
          if p.kind == p.KEYWORD_ONLY and k != "num_objectives"}


__all__ = ["MOOptimizer", "MO_OPTIMIZERS", "hyperparameters", "make", "mo_random_search", "nsga2",
           "parego", "pareto_local_search"]
