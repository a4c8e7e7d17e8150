"""One-shot (weight-sharing) NAS optimizers on any cell supernet (NB201, TransNAS-Bench-101 micro,
a user cell from :mod:`jaxnas.nn.cell`).

``make(name, network, epochs=..., steps_per_epoch=..., **hparams)`` builds a registered optimizer;
each returns ``init`` / ``step`` / ``discretize`` / ``score`` over a ``OneShotState`` (see
:mod:`jaxnas.optimizers.oneshot.base`).

>>> net = jaxnas.nn.supernet_nb201(10, C=16, N=5)
>>> opt = oneshot.make("darts", net, epochs=50, steps_per_epoch=390, second_order=True)
>>> state = opt.init(key, (x, y))
>>> state, metrics = jax.jit(opt.step)(key, state, (x, y), (xv, yv))
>>> opt.discretize(state)                       # Arch, argmax per edge

The space enters through the supernet's :class:`~jaxnas.nn.cell.SupernetSpec` (``net.spec``, or
``spec=`` to any factory / :func:`make`).
"""

from __future__ import annotations

import inspect

from jaxnas.optimizers.oneshot._factories import (darts, dirichlet_kl, drnas, edge_normalisation,
                                                  gdas, gumbel_hard, oneshot, pc_darts, rsws,
                                                  sample_valid_ops, snas)
from jaxnas.optimizers.oneshot.base import (NO_ARCH, Metrics, OneShotOptimizer, OneShotState,
                                            alphas_tx, bilevel, resolve_spec, weights_tx)

# name -> factory
ONESHOT = {
    "darts": darts,
    "pcdarts": pc_darts,
    "gdas": gdas,
    "snas": snas,
    "drnas": drnas,
    "rsws": rsws,
    "oneshot": oneshot,
}
_NOT_HPARAMS = ("epochs", "steps_per_epoch", "w_tx", "a_tx", "spec", "op_regulariser")


def hyperparameters(name: str) -> dict:
  """The keyword hyperparameters (with defaults) that one-shot optimizer ``name`` accepts."""
  if name not in ONESHOT:
    raise ValueError(f"unknown one-shot optimizer {name!r}; valid: {', '.join(ONESHOT)}")
  sig = inspect.signature(ONESHOT[name])
  return {k: p.default for k, p in sig.parameters.items()
          if p.kind == p.KEYWORD_ONLY and k not in _NOT_HPARAMS}


def make(name: str, network, *, epochs: int, steps_per_epoch: int, spec=None,
         **hparams) -> OneShotOptimizer:
  """Builds one-shot optimizer ``name`` on the supernet ``network`` (``spec``: its
  :class:`~jaxnas.nn.cell.SupernetSpec`, default ``network.spec``); unknown names or
  hyperparameters raise ValueError."""
  valid = hyperparameters(name)
  bad = [k for k in hparams if k not in valid]
  if bad:
    raise ValueError(f"unknown hyperparameter {bad[0]!r} for one-shot optimizer {name!r}; "
                     f"valid: {', '.join(valid) or '(none)'}")
  return ONESHOT[name](network, epochs=epochs, steps_per_epoch=steps_per_epoch, spec=spec,
                       **hparams)


__all__ = [
    "ONESHOT", "NO_ARCH", "Metrics", "OneShotOptimizer", "OneShotState", "alphas_tx", "bilevel",
    "darts", "dirichlet_kl", "drnas", "edge_normalisation", "gdas", "gumbel_hard",
    "hyperparameters", "make", "oneshot", "pc_darts", "resolve_spec", "rsws", "sample_valid_ops", "snas",
    "weights_tx",
]
