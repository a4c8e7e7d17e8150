"""Tabular benchmarks: dense tables, ``query`` as a gather, loaders and build commands.

>>> bench = jaxnas.benchmarks.load("nasbench201")          # the embedded table
>>> jaxnas.benchmarks.query(bench, arch, "val_accuracy", "cifar10")
"""

from __future__ import annotations

import pathlib

from jaxnas.benchmarks import io, nb201_build
from jaxnas.benchmarks.benchmark import (DATASET_ALIASES, METRICS, Benchmark, best, from_arrays,
                                         query, resolve)
from jaxnas.paths import EMBEDDED_DIR

BENCHMARKS = {
    "nasbench201": {
        "embedded": EMBEDDED_DIR / "nasbench201.npz",
        "build_hint": nb201_build.BUILD_HINT,
        "space": "nasbench201",
    },
}


def load(name: str = "nasbench201", path=None) -> Benchmark:
  """Loads a benchmark table: the embedded one by default, or the ``.npz`` at ``path``.

  Raises:
    ValueError: unknown name (lists valid ones) or a corrupt file (names it and the build command).
    FileNotFoundError: a missing file (names it and the build command).
  """
  if name not in BENCHMARKS:
    raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
  info = BENCHMARKS[name]
  p = pathlib.Path(path) if path else info["embedded"]
  arrays = io.load_arrays(p, info["build_hint"])
  if str(arrays["name"]) != name:
    raise ValueError(f"{p} holds benchmark {str(arrays['name'])!r}, not {name!r}")
  return from_arrays(arrays)


__all__ = ["BENCHMARKS", "Benchmark", "DATASET_ALIASES", "METRICS", "best", "from_arrays", "load",
           "query", "resolve"]
