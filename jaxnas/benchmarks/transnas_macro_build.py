"""Builds the TransNAS-Bench-101 macro table (Duan et al., CVPR 2021) from NASLib's zip.

Source: NASLib's ``tnb101_macro_zen.zip``, a folder ``zen/`` of chunked JSON files
``benchmark--transbench101_macro--<task>--<start>.json``, each a list of rows
``{"idx": ..., "arch": "(2, 2, 4, 3)", "val_accuracy": v, "zen": {"score": s, "time": t}}``. The
``arch`` tuple is the skeleton's module digits **unpadded** (4 to 6 of them); the dense row is the
skeleton's id in :mod:`jaxnas.spaces.transnas_macro` (its rank among the 3,256 zero-padded
tuples). Rows are joined on the tuple, never on ``idx`` (a NASLib sampling index).

Tasks, metrics and units are TNB micro's (:mod:`jaxnas.benchmarks.transnas_build`, ``SPACES.md``
section 3): NASLib's ``val_accuracy`` is each task's final-epoch validation metric, higher is
better for all seven (room_layout is the negative L2 loss).
"""

from __future__ import annotations

import numpy as np

from jaxnas.benchmarks import transnas_build
from jaxnas.benchmarks.benchmark import Metric
from jaxnas.benchmarks.transnas_build import TASK_METRIC, TASKS
from jaxnas.spaces import transnas_macro as tnb

NAME = "transnas101_macro"
BUILD_HINT = (f"python -m jaxnas.benchmarks build {NAME} --zip tnb101_macro_zen.zip --out PATH "
              "(NASLib's zip, e.g. from ../shared/data/transnas101/)")
SOURCE = ("TransNAS-Bench-101 macro (Duan et al. 2021) via NASLib's tnb101_macro_zen.zip: "
          "final-epoch validation metric per task (val_accuracy), Zen-NAS score and time")
METRICS = (
    Metric("val_accuracy", higher_is_better=True, unit="%",
           units=tuple((t, u) for t, (_, u) in TASK_METRIC.items()),
           description="NASLib's val_accuracy (TNB's final-epoch validation metric): "
                       + ", ".join(f"{t}={k}" for t, (k, _) in TASK_METRIC.items())),
    Metric("zen_score", higher_is_better=True, unit="",
           description="Zen-NAS score (Lin et al. 2021) of the task network, from NASLib's zip"),
    Metric("zen_time", higher_is_better=False, unit="s",
           description="seconds NASLib took to compute zen_score"),
)


def read_zip(path) -> dict[str, list[dict]]:
  """The macro zip's rows per task (:func:`jaxnas.benchmarks.transnas_build.read_task_zip`)."""
  return transnas_build.read_task_zip(path, "macro", TASKS, BUILD_HINT)


def _task_arrays(path, task: str, rows: list[dict]) -> tuple[np.ndarray, ...]:
  """(val, zen_score, zen_time) ``f32[3256]`` of one task, by id; every skeleton exactly once."""
  n = tnb.NUM_ARCHS
  out = np.full((3, n), np.nan, np.float32)
  seen = np.zeros(n, bool)
  code_to_id = {int(c): i for i, c in enumerate(tnb.CODES)}
  place = tnb.NUM_OPS ** np.arange(tnb.NUM_SLOTS - 1, -1, -1)
  for r in rows:
    try:  # host-side parse (the space's from_naslib checks on device: ~100x slower per row)
      body = str(r["arch"]).strip()
      if not (body.startswith("(") and body.endswith(")")):
        raise ValueError("not a tuple")
      digits = [int(v) for v in body[1:-1].split(",") if v.strip()]
      if not tnb.rule(digits):
        raise ValueError("not a TNB macro skeleton (4-6 digits 1-4, 1-4 of 3/4, 1-3 of 2/4)")
      ops = np.asarray(digits + [0] * (tnb.NUM_SLOTS - len(digits)))
      vals = (float(r["val_accuracy"]), float(r["zen"]["score"]), float(r["zen"]["time"]))
    except (KeyError, TypeError, ValueError) as e:
      raise ValueError(f"{path}: task {task}: bad row {str(r)[:80]!r} ({type(e).__name__}: {e}); "
                       f"build from NASLib's tnb101_macro_zen.zip: {BUILD_HINT}") from None
    i = code_to_id[int(np.dot(ops, place))]
    if seen[i]:
      raise ValueError(f"{path}: task {task} lists skeleton {r['arch']} twice")
    seen[i] = True
    out[:, i] = vals
  if not seen.all():
    raise ValueError(f"{path}: task {task} has {int(seen.sum())} of the {n} skeletons; build from "
                     f"the complete NASLib zip: {BUILD_HINT}")
  return tuple(out)


def build(zip_path) -> dict[str, np.ndarray]:
  """All arrays of the TransNAS-Bench-101 macro table (``[task, id]`` tables, tasks in
  :data:`TASKS` order)."""
  rows = read_zip(zip_path)
  return transnas_build.task_table(NAME, SOURCE, METRICS,
                                   [_task_arrays(zip_path, t, rows[t]) for t in TASKS],
                                   tnb.NUM_ARCHS)
