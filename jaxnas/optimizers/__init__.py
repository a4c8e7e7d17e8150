"""NAS optimizers. ``make(name, space, **hparams)`` builds a registered black-box optimizer."""

from __future__ import annotations

import inspect

from jaxnas.optimizers.blackbox import BLACKBOX, BlackBoxOptimizer

OPTIMIZERS = dict(BLACKBOX)


def hyperparameters(name: str) -> dict:
  """The keyword hyperparameters (with defaults) that optimizer ``name`` accepts."""
  if name not in OPTIMIZERS:
    raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(sorted(OPTIMIZERS))}")
  factory, _ = OPTIMIZERS[name]
  sig = inspect.signature(factory)
  return {k: p.default for k, p in sig.parameters.items() if p.kind == p.KEYWORD_ONLY}


def make(name: str, space, **hparams) -> BlackBoxOptimizer:
  """Builds optimizer ``name`` for ``space``; unknown names or hyperparameters raise ValueError."""
  valid = hyperparameters(name)
  bad = [k for k in hparams if k not in valid]
  if bad:
    raise ValueError(f"unknown hyperparameter {bad[0]!r} for optimizer {name!r}; valid: "
                     f"{', '.join(valid) or '(none)'}")
  factory, _ = OPTIMIZERS[name]
  return factory(space, **hparams)


__all__ = ["OPTIMIZERS", "BlackBoxOptimizer", "hyperparameters", "make"]
