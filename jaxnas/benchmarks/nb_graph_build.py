"""Builds the NAS-Bench-Graph table (Qin et al., NeurIPS 2022) from the PyPI wheel
``nas-bench-graph==1.4.0``, the project's second embedded default (``benchmarks_data/nasbench_graph.npz``).

Source: the wheel's ``nas_bench_graph/light/<dataset>.bench``, one pickle per dataset of
``{key: {"valid_perf", "perf", "latency", "para"}}`` (``../shared/SPACES.md`` section 7). The files
are read with :mod:`jaxnas.safe_pickle` allowing only :data:`jaxnas.safe_pickle.NAS_BENCH_GRAPH`
(numpy's scalar and dtype); the package's modules are never imported (its runner needs torch and
nni): the data folder is located with ``importlib.util.find_spec``, which does not run the package.

Rows are the 26,206 canonical keys in sorted order (:func:`jaxnas.spaces.nb_graph.canonical_keys`);
each file's key set is checked against it (proteins: a subset, the 2,021 entries whose ops are
``gcn, sage, arma, fc, skip``; its other rows are NaN). Values are stored as float32.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pathlib

import numpy as np

from jaxnas import safe_pickle
from jaxnas.benchmarks.benchmark import Metric, declarations_json
from jaxnas.spaces import nb_graph

NAME = "nasbench_graph"
PACKAGE = "nas-bench-graph"
VERSION = "1.4.0"
PIP = f"pip install --no-deps {PACKAGE}=={VERSION}"
DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
BUILD_HINT = f"{PIP} && python -m jaxnas.benchmarks build {NAME} --out benchmarks_data/nasbench_graph.npz"
SOURCE = (f"NAS-Bench-Graph (Qin et al. 2022) from the PyPI wheel {PACKAGE}=={VERSION} "
          "(nas_bench_graph/light/*.bench, Apache-2.0): valid_perf, perf, latency, para per "
          "canonical key")
# file key -> (table, declaration)
FIELDS = {
    "valid_perf": Metric("val_accuracy", higher_is_better=True, unit="fraction",
                         description="NAS-Bench-Graph valid_perf: validation performance (accuracy; "
                                     "proteins: the benchmark's own metric, ROC-AUC per the paper)"),
    "perf": Metric("test_accuracy", higher_is_better=True, unit="fraction",
                   description="NAS-Bench-Graph perf: test performance (as valid_perf)"),
    "latency": Metric("latency", higher_is_better=False, unit="s",
                      description="NAS-Bench-Graph latency: inference seconds"),
    "para": Metric("params", higher_is_better=False, unit="M",
                   description="NAS-Bench-Graph para: parameters, millions"),
}


def data_dir() -> pathlib.Path:
  """The installed wheel's ``light`` folder; FileNotFoundError naming the pip command."""
  spec = importlib.util.find_spec("nas_bench_graph")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(f"package {PACKAGE} is not installed; install its data with: {PIP}")
  d = pathlib.Path(list(spec.submodule_search_locations)[0]) / "light"
  if not d.is_dir():
    raise FileNotFoundError(f"{d} not found: the installed {PACKAGE} has no data; reinstall: {PIP}")
  try:
    version = importlib.metadata.version(PACKAGE)
  except importlib.metadata.PackageNotFoundError:
    version = "?"
  if version != VERSION:
    raise ValueError(f"{PACKAGE} {version} is installed, the table is built from {VERSION}: {PIP}")
  return d


def read_bench(path) -> dict:
  """One ``.bench`` pickle (restricted unpickling); one-line errors naming the file."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"NAS-Bench-Graph file {path} not found; reinstall: {PIP}")
  try:
    data = safe_pickle.load(  # restricted unpickler: the two numpy globals, nothing is called
        path, allowed=safe_pickle.NAS_BENCH_GRAPH, what="NAS-Bench-Graph file")
  except safe_pickle.UnsafePickleError:
    raise
  except Exception as e:  # truncated or not a pickle
    raise ValueError(f"NAS-Bench-Graph file {path} is corrupt ({type(e).__name__}: {e}); "
                     f"reinstall: {PIP}") from None
  if not isinstance(data, dict) or not all(isinstance(k, int) and isinstance(v, dict)
                                           for k, v in data.items()):
    raise ValueError(f"NAS-Bench-Graph file {path} is not a dict of key -> entry; reinstall: {PIP}")
  return data


def build(directory=None) -> dict[str, np.ndarray]:
  """All arrays of the table (``[dataset, id]`` tables, datasets in :data:`DATASETS` order)."""
  d = pathlib.Path(directory) if directory else data_dir()
  keys = nb_graph.canonical_keys()
  tables = {m.name: np.full((len(DATASETS), len(keys)), np.nan, np.float32) for m in FIELDS.values()}
  present = np.zeros((len(DATASETS), len(keys)), np.int32)
  for j, ds in enumerate(DATASETS):
    path = d / f"{ds}.bench"
    data = read_bench(path)
    k = np.array(sorted(data), np.int64)
    rows = np.searchsorted(keys, k)
    ok = (rows < len(keys)) & (keys[np.minimum(rows, len(keys) - 1)] == k)
    if not ok.all():
      raise ValueError(f"{path}: key {int(k[~ok][0])} is not a canonical {NAME} key; reinstall: {PIP}")
    if ds != "proteins" and len(k) != len(keys):
      raise ValueError(f"{path} has {len(k)} of the {len(keys)} keys; reinstall: {PIP}")
    for field, m in FIELDS.items():
      try:
        tables[m.name][j, rows] = [float(data[int(x)][field]) for x in k]
      except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: an entry lacks a numeric {field!r} ({type(e).__name__}); "
                         f"reinstall: {PIP}") from None
    present[j, rows] = 1
  return {
      "name": np.array(NAME),
      "datasets": np.array(DATASETS),
      "source": np.array(SOURCE),
      **tables,
      "num_seeds": present,  # 1 where the dataset has the entry (proteins: 2,021 rows), else 0
      "iso_class": np.arange(len(keys), dtype=np.int32),  # rows are already canonical classes
      "declarations": declarations_json(list(FIELDS.values()), space=NAME),
  }
