"""BasePredictor: the neural predictor of Wen et al. (2019) as a black-box optimizer (NASLib ``bp``)."""

from __future__ import annotations

from jaxnas.optimizers.blackbox.bananas import build_predictor, model_based
from jaxnas.optimizers.blackbox.base import BlackBoxOptimizer
from jaxnas.spaces import SearchSpace


def base_predictor(space: SearchSpace, *, num_init: int = 130, k: int = 10,
                   num_candidates: int = 300, num_ensemble: int = 3,
                   predictor: str = "mlp_ensemble", encoding_type: str = "path",
                   target_transform: str = "none", buffer_size: int = 160) -> BlackBoxOptimizer:
  """Train a predictor once on ``num_init`` random architectures, then query its predicted best.

  After ``num_init`` random queries the predictor is fitted once; a fixed pool of
  ``num_candidates`` random architectures (NASLib: twice the query budget) is ranked by the
  predicted mean, and every later ``ask`` returns the best ``k`` of the pool not yet queried. NASLib
  splits a budget of ``T`` queries into ``int(20 / 172 * T)`` predicted ones after ``T - that``
  random ones (Wen et al.'s 20 of 172); for ``T = 150`` that is 17 after 133, here 20 after 130
  so that ``k`` divides the budget.

  Args:
    space: the search space.
    num_init: random queries before the single fit.
    k: architectures per ``ask``.
    num_candidates: size of the ranked random pool.
    num_ensemble, predictor, encoding_type, target_transform, buffer_size: as for
      :func:`~jaxnas.optimizers.blackbox.bananas.bananas`.

  Returns:
    A :class:`BlackBoxOptimizer` (``num_ask = k``).

  References:
    Wen, Liu, Chen, Li, Bender, Kindermans. Neural Predictor for Neural Architecture Search.
    ECCV 2020 (arXiv:1912.00848, 2019).
  """
  p = build_predictor(predictor, encoding_type, num_ensemble, target_transform, space)
  return model_based(space, p, name="bp", encoding_type=encoding_type, num_init=num_init, k=k,
                     num_candidates=num_candidates, acq_fn_type="exploit_only",
                     acq_fn_optimization="random_sampling", num_arches_to_mutate=1,
                     max_mutations=1, buffer_size=buffer_size, fit_once=True)
