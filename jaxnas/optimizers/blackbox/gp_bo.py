"""Gaussian-process Bayesian optimisation over an architecture encoding."""

from __future__ import annotations

from jaxnas import predictors as pred_lib
from jaxnas.optimizers.blackbox.bananas import model_based
from jaxnas.optimizers.blackbox.base import BlackBoxOptimizer
from jaxnas.predictors.gp import KERNELS
from jaxnas.spaces import SearchSpace


def gp_bo(space: SearchSpace, *, num_init: int = 10, k: int = 10,
          encoding_type: str = "adjacency_one_hot", kernel: str = "matern52",
          gp_steps: int = 20, acq_fn_type: str = "ei", acq_fn_optimization: str = "mutation",
          num_arches_to_mutate: int = 2, max_mutations: int = 2, num_candidates: int = 100,
          explore_factor: float = 0.5, buffer_size: int = 160) -> BlackBoxOptimizer:
  """Batch GP-BO: an exact GP on the encoding, expected improvement, top-``k`` per iteration.

  The GP's kernel hyperparameters are refitted every iteration by ``gp_steps`` Adam steps on the
  marginal likelihood (:func:`jaxnas.predictors.gp`); candidates come from mutating the best
  architectures (or random sampling); EI is computed from the GP's posterior std (no ensemble
  calibration: ``ei_calibration_factor`` 1).

  Args:
    space: the search space.
    num_init, k, acq_fn_optimization, num_arches_to_mutate, max_mutations, num_candidates,
      explore_factor, buffer_size: as for
      :func:`~jaxnas.optimizers.blackbox.bananas.bananas`.
    encoding_type: GP inputs (default the 30-dim one-hot op encoding).
    kernel: ``matern52``, ``matern32`` or ``rbf``.
    gp_steps: Adam steps of each hyperparameter fit (static).
    acq_fn_type: ``ei`` (default), ``ucb``, ``its`` or ``exploit_only``.

  Returns:
    A :class:`BlackBoxOptimizer` (``num_ask = k``).

  References:
    Snoek, Larochelle, Adams. Practical Bayesian Optimization of Machine Learning Algorithms.
    NeurIPS 2012. Rasmussen & Williams. Gaussian Processes for Machine Learning. 2006.
  """
  if encoding_type not in pred_lib.encodings_for(space):
    raise ValueError(f"unknown encoding_type {encoding_type!r}; valid: "
                     f"{', '.join(pred_lib.encodings_for(space))}")
  if kernel not in KERNELS:
    raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")
  # Unwarped and not recalibrated: EI below assumes a Gaussian predictive, and the documented gp_bo
  # results predate the warped default and the LOO recalibration option of the GP predictor.
  p = pred_lib.gp(pred_lib.encoding_size(encoding_type, space), kernel=kernel, num_steps=gp_steps,
                  warp="none", calibrate="none")
  return model_based(space, p, name="gp_bo", encoding_type=encoding_type, num_init=num_init, k=k,
                     num_candidates=num_candidates, acq_fn_type=acq_fn_type,
                     acq_fn_optimization=acq_fn_optimization,
                     num_arches_to_mutate=num_arches_to_mutate, max_mutations=max_mutations,
                     buffer_size=buffer_size, explore_factor=explore_factor,
                     ei_calibration_factor=1.0)
