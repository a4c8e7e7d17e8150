"""Experiment drivers: one module per task of ``python -m jaxnas.run``, sharing :mod:`.io`.

Each driver takes ``(config, workdir, quiet=...)``, validates the config on the host before
anything is compiled, and writes its files under ``workdir``; the notebooks call the same
functions. ``TASKS`` maps a config's ``task`` to ``(module, function)``; modules are imported only
when their task runs (the one-shot and training drivers pull in Flax and the data loaders).
"""

from __future__ import annotations

TASKS = {
    "blackbox": ("jaxnas.drivers.blackbox", "run_blackbox"),
    "predictors": ("jaxnas.drivers.predictors", "run"),
    "zero_cost": ("jaxnas.drivers.zero_cost", "run"),
    "oneshot": ("jaxnas.drivers.oneshot", "run_oneshot"),
    "train": ("jaxnas.drivers.train", "run_train"),
    "multiobjective": ("jaxnas.drivers.multiobjective", "run_multiobjective"),
}

__all__ = ["TASKS"]
