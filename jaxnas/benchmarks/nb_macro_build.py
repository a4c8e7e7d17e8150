"""Builds the NAS-Bench-Macro table (Su et al., CVPR 2021) from its ``nas-bench-macro_cifar10.json``.

Source: the official json (GitHub xiusu/NAS-Bench-Macro, Apache-2.0), one record per key (8
digits, :mod:`jaxnas.spaces.nb_macro`): ``test_acc`` (3 runs, %), ``mean_acc``, ``std``,
``params`` (int) and ``flops`` (int, MACs). Row = the key read in base 3. Equivalent keys (same
real network) carry identical records; ``iso_class`` is the smallest id of each key's network.

Tables (one dataset, ``cifar10``):

* ``test_accuracy``: ``mean_acc``, the mean CIFAR-10 test accuracy of the 3 runs (%);
* ``val_accuracy``: the same numbers. NAS-Bench-Macro has no validation split: its test accuracy
  is its only accuracy, and generic search code optimises ``val_accuracy``. Report it as test;
* ``test_accuracy_std``: the population std of the 3 runs;
* ``params``, ``flops``: NAS-Bench-Macro's counts in millions (``SPACES.md`` section 0.4; exact
  integers: :func:`read_json`, and ``jaxnas.nn.nb_macro`` reproduces all 6,561).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from jaxnas.benchmarks.benchmark import Metric, declarations_json
from jaxnas.spaces import nb_macro

NAME = "nasbench_macro"
DATASET = "cifar10"
BUILD_HINT = (f"python -m jaxnas.benchmarks build {NAME} --json nas-bench-macro_cifar10.json "
              "--out PATH (the official json, e.g. from ../shared/data/nas_bench_macro/)")
SOURCE = ("NAS-Bench-Macro (Su et al. 2021), nas-bench-macro_cifar10.json (xiusu/NAS-Bench-Macro, "
          "Apache-2.0): CIFAR-10 test accuracy of 3 runs, params, FLOPs")
_ACC = "mean CIFAR-10 test accuracy of 3 runs (NAS-Bench-Macro's mean_acc; 50 epochs)"
METRICS = (
    Metric("val_accuracy", higher_is_better=True, unit="%",
           description=f"{_ACC}; NAS-Bench-Macro has no validation split, so the search "
                       "objective is its test accuracy (the same numbers as test_accuracy)"),
    Metric("test_accuracy", higher_is_better=True, unit="%", description=_ACC),
    Metric("test_accuracy_std", higher_is_better=False, unit="%",
           description="population std of the 3 runs (NAS-Bench-Macro's std)"),
    Metric("params", higher_is_better=False, unit="M",
           description="parameters / 1e6, NAS-Bench-Macro's count (BN affine included)"),
    Metric("flops", higher_is_better=False, unit="M",
           description="conv + linear multiply-accumulates / 1e6, NAS-Bench-Macro's count_FLOPs"),
)
FIELDS = ("test_acc", "mean_acc", "std", "params", "flops")


def read_json(path) -> dict[str, dict]:
  """``{key: record}`` of all 6,561 keys; one-line errors naming the file and the build command
  for a missing, corrupt or incomplete json."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"NAS-Bench-Macro json {path} not found; build with: {BUILD_HINT}")
  try:
    records = json.loads(path.read_text())
  except (ValueError, UnicodeDecodeError, OSError) as e:
    raise ValueError(f"{path} is corrupt or not NAS-Bench-Macro's json ({type(e).__name__}); "
                     f"build with: {BUILD_HINT}") from None
  if not isinstance(records, dict):
    raise ValueError(f"{path} is not NAS-Bench-Macro's json (expected an object keyed by 8-digit "
                     f"keys); build with: {BUILD_HINT}")
  keys = nb_macro.to_string(nb_macro.all_archs())
  missing = [k for k in keys if k not in records]
  if missing:
    raise ValueError(f"{path} has {len(keys) - len(missing)} of the {len(keys)} keys (missing e.g. "
                     f"{missing[0]}); build from the complete json: {BUILD_HINT}")
  for k in keys:
    r = records[k]
    if not isinstance(r, dict) or any(f not in r for f in FIELDS):
      raise ValueError(f"{path}: key {k} lacks fields (needs {', '.join(FIELDS)}); build with: "
                       f"{BUILD_HINT}")
  return {k: records[k] for k in keys}


def build(json_path) -> dict[str, np.ndarray]:
  """All arrays of the NAS-Bench-Macro table (``[1, 6561]`` tables, rows by id)."""
  records = read_json(json_path)
  try:
    cols = {f: np.asarray([[float(r[f]) for r in records.values()]], np.float64)
            for f in ("mean_acc", "std", "params", "flops")}
  except (TypeError, ValueError) as e:
    raise ValueError(f"{json_path}: a record has a non-numeric field ({e}); build with: "
                     f"{BUILD_HINT}") from None
  n = nb_macro.NUM_ARCHS
  return {
      "name": np.array(NAME),
      "datasets": np.array([DATASET]),
      "source": np.array(SOURCE),
      "val_accuracy": cols["mean_acc"].astype(np.float32),
      "test_accuracy": cols["mean_acc"].astype(np.float32),
      "test_accuracy_std": cols["std"].astype(np.float32),
      "params": (cols["params"] / 1e6).astype(np.float32),
      "flops": (cols["flops"] / 1e6).astype(np.float32),
      "num_seeds": np.full((1, n), 3, np.int32),
      "iso_class": nb_macro.iso_classes(),
      "declarations": declarations_json(METRICS, space=NAME),
  }
