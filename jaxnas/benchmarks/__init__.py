"""Tabular benchmarks: dense tables, ``query`` as a gather, loaders and build commands.

>>> bench = jaxnas.benchmarks.load("nasbench201")          # the embedded table
>>> jaxnas.benchmarks.query(bench, arch, "val_accuracy", "cifar10")
"""

from __future__ import annotations

import pathlib

from jaxnas.benchmarks import io, nb201_build, transnas_build
from jaxnas.benchmarks.benchmark import (DATASET_ALIASES, METRICS, Benchmark, Metric, best,
                                         declarations_json, from_arrays, query, resolve)
from jaxnas.paths import EMBEDDED_DIR

# name -> embedded table (None: build it), build command, space, and the declarations of files
# written before tables declared their own metrics.
BENCHMARKS = {
    "nasbench201": {
        "embedded": EMBEDDED_DIR / "nasbench201.npz",
        "build_hint": nb201_build.BUILD_HINT,
        "space": "nasbench201",
        "declarations": nb201_build.DECLARATIONS,
    },
    "transnas101_micro": {
        "embedded": None,
        "build_hint": transnas_build.BUILD_HINT,
        "space": "transnas101_micro",
    },
}


def load(name: str = "nasbench201", path=None) -> Benchmark:
  """Loads a benchmark table: the embedded one by default, or the ``.npz`` at ``path``.

  Raises:
    ValueError: unknown name (lists valid ones) or a corrupt file (names it and the build command).
    FileNotFoundError: a missing file, or no path for a benchmark without an embedded table (names
      the build command).
  """
  if name not in BENCHMARKS:
    raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
  info = BENCHMARKS[name]
  if not path and info["embedded"] is None:
    raise FileNotFoundError(f"benchmark {name} has no embedded table; build one with: "
                            f"{info['build_hint']} and load it with path=PATH")
  p = pathlib.Path(path) if path else info["embedded"]
  arrays = io.load_arrays(p, info["build_hint"])
  if str(arrays["name"]) != name:
    raise ValueError(f"{p} holds benchmark {str(arrays['name'])!r}, not {name!r}")
  return from_arrays(arrays)


__all__ = ["BENCHMARKS", "Benchmark", "DATASET_ALIASES", "METRICS", "Metric", "best",
           "declarations_json", "from_arrays", "load", "query", "resolve"]
