"""Black-box NAS optimizers: factories returning ``init`` / ``ask`` / ``tell``."""

from jaxnas.optimizers.blackbox.base import BlackBoxOptimizer, clean_fitness
from jaxnas.optimizers.blackbox.local_search import LocalSearchState, local_search
from jaxnas.optimizers.blackbox.random_search import RandomSearchState, random_search
from jaxnas.optimizers.blackbox.regularized_evolution import (RegularizedEvolutionState,
                                                              regularized_evolution)

# name -> (factory, NASLib default hyperparameters)
BLACKBOX = {
    "rs": (random_search, {}),
    "re": (regularized_evolution, {"population_size": 30, "sample_size": 10}),
    "ls": (local_search, {"num_init": 10}),
}

__all__ = ["BLACKBOX", "BlackBoxOptimizer", "LocalSearchState", "RandomSearchState",
           "RegularizedEvolutionState", "clean_fitness", "local_search", "random_search",
           "regularized_evolution"]
