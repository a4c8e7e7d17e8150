"""Benchmarks: dense tables, partial (fingerprint-indexed) tables and surrogates; ``query`` /
``lookup`` as a gather or a jitted predictor; loaders and build commands.

>>> bench = jaxnas.benchmarks.load("nasbench201")          # the embedded table
>>> jaxnas.benchmarks.query(bench, arch, "val_accuracy", "cifar10")
>>> jaxnas.benchmarks.lookup(bench, space, arch, "val_accuracy", "cifar10")  # any kind, any space

The registry ``BENCHMARKS`` declares per benchmark name what older files do not carry themselves:
``declarations`` (metrics), ``dataset_aliases`` (``{lower-case alias: dataset}``) and
``official_order`` (the class :meth:`Benchmark.official_order` returns). Partial tables:
:mod:`jaxnas.benchmarks.partial`; surrogates: :mod:`jaxnas.benchmarks.surrogate`.
"""

from __future__ import annotations

import pathlib

from jaxnas.benchmarks import io, nb201_build, transnas_build
from jaxnas.benchmarks import nb101_build
from jaxnas.benchmarks import nb_macro_build, transnas_macro_build
from jaxnas.benchmarks import nb_graph_build
from jaxnas.benchmarks import darts_surrogate
from jaxnas.benchmarks.benchmark import (INDEX_KINDS, METRICS, Benchmark, Metric, OfficialOrder,
                                         best, contains, declarations_json, from_arrays, lookup,
                                         query, resolve, rows)
from jaxnas.benchmarks.partial import partial_arrays, partial_from_dense
from jaxnas.benchmarks.surrogate import SurrogateBenchmark, fit_linear, linear_apply, make_surrogate
from jaxnas.paths import EMBEDDED_DIR
from jaxnas.spaces import nb101 as nb101_space
from jaxnas.spaces import nb201

# NB201's dataset names and accepted aliases (lower case); its files predate declared aliases.
DATASET_ALIASES = {
    "cifar10": "cifar10",
    "cifar10-valid": "cifar10",
    "cifar100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
}

# name -> embedded table (None: build it), build command, space, and the declarations of files
# written before tables declared their own metrics.
BENCHMARKS = {
    "nasbench201": {
        "embedded": EMBEDDED_DIR / "nasbench201.npz",
        "build_hint": nb201_build.BUILD_HINT,
        "space": "nasbench201",
        "declarations": nb201_build.DECLARATIONS,
        "dataset_aliases": DATASET_ALIASES,
        "official_order": nb201.OfficialOrder,
    },
    "transnas101_micro": {
        "embedded": None,
        "build_hint": transnas_build.BUILD_HINT,
        "space": "transnas101_micro",
    },
    "nasbench101": {  # fingerprint-indexed, built from the user's official tfrecords
        "embedded": None,
        "build_hint": nb101_build.BUILD_HINT,
        "space": "nasbench101",
        "declarations": nb101_build.DECLARATIONS,
        "fingerprint_version": nb101_space.FINGERPRINT_VERSION,  # checked by load()
    },
    "transnas101_macro": {
        "embedded": None,
        "build_hint": transnas_macro_build.BUILD_HINT,
        "space": "transnas101_macro",
    },
    "nasbench_macro": {
        "embedded": None,
        "build_hint": nb_macro_build.BUILD_HINT,
        "space": "nasbench_macro",
    },
    "nasbench_graph": {
        "embedded": EMBEDDED_DIR / "nasbench_graph.npz",
        "build_hint": nb_graph_build.BUILD_HINT,
        "space": "nasbench_graph",
        # the datasets whose table lacks entries, and the space options that keep a search on them
        "space_options": {"proteins": {"proteins": True}},
    },
    "darts": {  # jaxnas's own surrogate (not NB301's): a predictor fitted on labelled archs
        "embedded": None,
        "build_hint": darts_surrogate.BUILD_HINT,
        "space": "darts",
        "loader": darts_surrogate.load,  # the file is a surrogate, not a table
    },
}


def load(name: str = "nasbench201", path=None) -> Benchmark:
  """Loads a benchmark table: the embedded one by default, or the ``.npz`` at ``path`` (dense or
  partial, as the file declares). With ``path``, ``name`` may be one the registry does not know
  (a user's table, a partial subset); it must equal the file's name.

  Raises:
    ValueError: unknown name without a path (lists valid ones), or a corrupt file (names it and the
      build command).
    FileNotFoundError: a missing file, or no path for a benchmark without an embedded table (names
      the build command).
  """
  if name not in BENCHMARKS and not path:
    raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)} (or give the "
                     "path of a table file)")
  info = BENCHMARKS.get(name, {"embedded": None, "build_hint": "the script that wrote it"})
  if not path and info["embedded"] is None:
    raise FileNotFoundError(f"benchmark {name} has no embedded table; build one with: "
                            f"{info['build_hint']} and load it with path=PATH")
  p = pathlib.Path(path) if path else info["embedded"]
  if "loader" in info:  # a benchmark whose file is not a table (a surrogate)
    return info["loader"](p)
  arrays = io.load_arrays(p, info["build_hint"])
  if str(arrays["name"]) != name:
    raise ValueError(f"{p} holds benchmark {str(arrays['name'])!r}, not {name!r}")
  want = info.get("fingerprint_version")
  if want is not None:  # rows hashed by another fingerprint would all read as absent, silently
    got = str(arrays["fingerprint_version"]) if "fingerprint_version" in arrays else "none"
    if got != want:
      raise ValueError(f"{p} was built with fingerprint version {got}, this jaxnas uses {want}: "
                       f"rebuild it with {info['build_hint']}")
  return from_arrays(arrays)


__all__ = ["BENCHMARKS", "Benchmark", "DATASET_ALIASES", "INDEX_KINDS", "METRICS", "Metric",
           "OfficialOrder", "SurrogateBenchmark", "best", "contains", "declarations_json",
           "fit_linear", "from_arrays", "linear_apply", "load", "lookup", "make_surrogate",
           "partial_arrays", "partial_from_dense", "query", "resolve", "rows"]
