"""Black-box NAS optimizers: factories returning ``init`` / ``ask`` / ``tell``.

They are space-generic: they call only the :class:`~jaxnas.spaces.SearchSpace` record's functions
and take no space options (``space.sample`` follows the options the space was made with, e.g.
``jaxnas.spaces.get_space("nasbench201", naslib_valid=False)``). Fidelity is an explicit field of an
optimizer (``BlackBoxOptimizer.fidelities``): ``()`` for the single-fidelity ones, the rungs of
``sh`` / ``hb`` / ``bohb`` (one rung on a table with only final values).
"""

from jaxnas.optimizers.blackbox.base import BlackBoxOptimizer, clean_fitness
from jaxnas.optimizers.blackbox.local_search import LocalSearchState, local_search
from jaxnas.optimizers.blackbox.random_search import RandomSearchState, random_search
from jaxnas.optimizers.blackbox.regularized_evolution import (RegularizedEvolutionState,
                                                              regularized_evolution)

from jaxnas.optimizers.blackbox.bananas import ModelBasedState, bananas, model_based, npenas
from jaxnas.optimizers.blackbox.base_predictor import base_predictor
from jaxnas.optimizers.blackbox.gp_bo import gp_bo
from jaxnas.optimizers.blackbox.hyperband import (HyperbandState, MultiFidelityState, bohb,
                                                  hyperband, successive_halving)

# name -> (factory, NASLib default hyperparameters)
BLACKBOX = {
    "rs": (random_search, {}),
    "re": (regularized_evolution, {"population_size": 30, "sample_size": 10}),
    "ls": (local_search, {"num_init": 10}),
    "bananas": (bananas, {"num_init": 10, "k": 10, "num_ensemble": 3, "acq_fn_type": "its",
                          "acq_fn_optimization": "mutation", "encoding_type": "path",
                          "num_arches_to_mutate": 2, "max_mutations": 1, "num_candidates": 100}),
    "npenas": (npenas, {"num_init": 10, "k": 10, "num_ensemble": 3, "encoding_type": "path",
                        "num_arches_to_mutate": 2, "max_mutations": 1, "num_candidates": 100}),
    "bp": (base_predictor, {"num_init": 130, "k": 10, "num_candidates": 300}),
    "gp_bo": (gp_bo, {"num_init": 10, "k": 10, "acq_fn_type": "ei"}),
    "sh": (successive_halving, {"eta": 3}),
    "hb": (hyperband, {"eta": 3}),
    "bohb": (bohb, {"eta": 3, "random_fraction": 1 / 3, "top_n_percent": 15}),
}

__all__ = ["BLACKBOX", "BlackBoxOptimizer", "HyperbandState", "LocalSearchState",
           "ModelBasedState", "MultiFidelityState", "RandomSearchState",
           "RegularizedEvolutionState", "bananas", "base_predictor", "bohb", "clean_fitness", "gp_bo", "hyperband", "local_search",
           "model_based", "npenas", "random_search", "regularized_evolution",
           "successive_halving"]
