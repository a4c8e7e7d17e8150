"""NAS optimizers. ``make(name, space, **hparams)`` builds a registered black-box optimizer.

The optimizers take no search-space options: a space's options (NASLib's sampling filter,
``naslib_valid``) are fixed when the space is made (``jaxnas.spaces.get_space(name, **options)``).
For the configs' sake, ``naslib_valid`` is still a key of a config's ``optimizer`` section
(``SPACE_OPTIONS``): :func:`hyperparameters` lists it, the driver builds the space with it, and
:func:`make` accepts it and applies it to the space it is given.
"""

from __future__ import annotations

import inspect

from jaxnas.optimizers.blackbox import BLACKBOX, BlackBoxOptimizer

OPTIMIZERS = dict(BLACKBOX)
# Search-space options that configs set in their optimizer section, with their defaults.
SPACE_OPTIONS = {"naslib_valid": True}


def factory_hyperparameters(name: str) -> dict:
  """The keyword hyperparameters (with defaults) of optimizer ``name``'s factory."""
  if name not in OPTIMIZERS:
    raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(sorted(OPTIMIZERS))}")
  factory, _ = OPTIMIZERS[name]
  sig = inspect.signature(factory)
  return {k: p.default for k, p in sig.parameters.items() if p.kind == p.KEYWORD_ONLY}


def hyperparameters(name: str) -> dict:
  """The keys (with defaults) a config's optimizer section holds for optimizer ``name``: its
  factory's keyword hyperparameters, then the search-space options (``SPACE_OPTIONS``)."""
  return {**factory_hyperparameters(name), **SPACE_OPTIONS}


def split_space_options(hparams: dict) -> tuple[dict, dict]:
  """``(space options, factory hyperparameters)`` of an optimizer section's values."""
  opts = {k: v for k, v in hparams.items() if k in SPACE_OPTIONS}
  return opts, {k: v for k, v in hparams.items() if k not in SPACE_OPTIONS}


def make(name: str, space, **hparams) -> BlackBoxOptimizer:
  """Builds optimizer ``name`` for ``space``; unknown names or hyperparameters raise ValueError.

  Space options among ``hparams`` (``naslib_valid``) make the optimizer search ``space`` made
  with them (``space.with_options``); prefer making the space with them
  (``jaxnas.spaces.get_space(name, naslib_valid=...)``).
  """
  valid = hyperparameters(name)
  bad = [k for k in hparams if k not in valid]
  if bad:
    raise ValueError(f"unknown hyperparameter {bad[0]!r} for optimizer {name!r}; valid: "
                     f"{', '.join(valid) or '(none)'}")
  opts, hparams = split_space_options(hparams)
  opts = {k: v for k, v in opts.items() if v is not None}
  if opts:
    if getattr(space, "with_options", None) is None:
      raise ValueError(f"search space {space.name!r} takes no options, got {', '.join(opts)}")
    space = space.with_options(**opts)
  factory, _ = OPTIMIZERS[name]
  return factory(space, **hparams)


__all__ = ["OPTIMIZERS", "SPACE_OPTIONS", "BlackBoxOptimizer", "factory_hyperparameters",
           "hyperparameters", "make", "split_space_options"]
