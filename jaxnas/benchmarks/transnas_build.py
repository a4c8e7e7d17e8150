"""Builds the TransNAS-Bench-101 micro table (Duan et al., CVPR 2021) from NASLib's zip.

Source: NASLib's ``tnb101_micro_zen.zip``, a folder ``zen/`` of chunked JSON files
``benchmark--transbench101_micro--<task>--<start>.json``, each a list of rows
``{"idx": ..., "arch": "(a, b, c, d, e, f)", "val_accuracy": v, "zen": {"score": s, "time": t}}``.
The ``arch`` tuple is the 6 TNB cell digits in string order and code, so the dense id of a row is
that tuple read in base 4 (:mod:`jaxnas.spaces.transnas_micro`). Rows are joined on the tuple,
never on ``idx`` (a NASLib sampling index that is not consistent between NASLib files).

``val_accuracy`` is NASLib's name for TNB's final-epoch validation metric of each task
(``../shared/SPACES.md`` section 3); all seven are better when higher (room_layout is the negative
L2 loss, so closer to 0 is better). The zip's Zen-NAS score (Lin et al., ICCV 2021) and its
computation time are kept as the ``zen_score`` and ``zen_time`` tables.
"""

from __future__ import annotations

import json
import pathlib
import re
import zipfile

import numpy as np

from jaxnas.benchmarks.benchmark import Metric, declarations_json
from jaxnas.spaces import transnas_micro as tnb

NAME = "transnas101_micro"
TASKS = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal",
         "autoencoder")
# task -> (TNB metric key behind NASLib's val_accuracy, unit)
TASK_METRIC = {
    "class_scene": ("valid_top1", "%"),
    "class_object": ("valid_top1", "%"),
    "jigsaw": ("valid_top1", "%"),
    "room_layout": ("valid_neg_loss", "negative L2 loss"),
    "segmentsemantic": ("valid_acc", "% (pixel accuracy)"),
    "normal": ("valid_ssim", "SSIM"),
    "autoencoder": ("valid_ssim", "SSIM"),
}
BUILD_HINT = (f"python -m jaxnas.benchmarks build {NAME} --zip tnb101_micro_zen.zip --out PATH "
              "(NASLib's zip, e.g. from ../shared/data/transnas101/)")
SOURCE = ("TransNAS-Bench-101 micro (Duan et al. 2021) via NASLib's tnb101_micro_zen.zip: "
          "final-epoch validation metric per task (val_accuracy), Zen-NAS score and time")
METRICS = (
    Metric("val_accuracy", higher_is_better=True, unit="%",
           units=tuple((t, u) for t, (_, u) in TASK_METRIC.items()),
           description="NASLib's val_accuracy (TNB's final-epoch validation metric): "
                       + ", ".join(f"{t}={k}" for t, (k, _) in TASK_METRIC.items())),
    Metric("zen_score", higher_is_better=True, unit="",
           description="Zen-NAS score (Lin et al. 2021) of the task network, from NASLib's zip; "
                       "-1e8 (NASLib's sentinel) for the 169 cells whose output is constant"),
    Metric("zen_time", higher_is_better=False, unit="s",
           description="seconds NASLib took to compute zen_score"),
)


def read_task_zip(path, family: str, tasks, build_hint: str) -> dict[str, list[dict]]:
  """The rows per task of a NASLib TransNAS-Bench-101 zip (``family`` "micro" or "macro": members
  ``benchmark--transbench101_{family}--TASK--N.json``, each a JSON list of rows). One-line errors
  naming the file and ``build_hint`` for a missing or corrupt zip, an unreadable member, or one of
  ``tasks`` absent from the zip."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"TransNAS-Bench-101 {family} zip {path} not found; build with: "
                            f"{build_hint}")
  member_re = re.compile(rf"(?:^|/)benchmark--transbench101_{family}--([A-Za-z_]+)--\d+\.json$")
  rows: dict[str, list[dict]] = {}
  try:
    with zipfile.ZipFile(path) as z:
      for member in sorted(z.namelist()):
        m = member_re.search(member)
        if m is None:
          continue
        try:
          chunk = json.loads(z.read(member))
        except (ValueError, UnicodeDecodeError) as e:
          raise ValueError(f"{path}: member {member} is not valid JSON ({type(e).__name__}); the "
                           f"zip is corrupt, get it again and build with: {build_hint}") from None
        if not isinstance(chunk, list):
          raise ValueError(f"{path}: member {member} is not a list of rows; expected NASLib's "
                           f"format, build with: {build_hint}")
        rows.setdefault(m.group(1), []).extend(chunk)
  except (zipfile.BadZipFile, OSError, EOFError) as e:
    raise ValueError(f"{path} is corrupt or not a zip ({type(e).__name__}: {e}); build with: "
                     f"{build_hint}") from None
  missing = [t for t in tasks if t not in rows]
  if missing:
    found = ", ".join(sorted(rows)) or f"no benchmark--transbench101_{family}--* members"
    raise ValueError(f"{path} lacks task(s) {', '.join(missing)} (found: {found}); build from "
                     f"NASLib's tnb101_{family}_zen.zip: {build_hint}")
  return rows


def read_zip(path) -> dict[str, list[dict]]:
  """The micro zip's rows per task (:func:`read_task_zip`)."""
  return read_task_zip(path, "micro", TASKS, BUILD_HINT)


def _task_arrays(path, task: str, rows: list[dict]) -> tuple[np.ndarray, ...]:
  """(val, zen_score, zen_time) ``f32[4096]`` of one task, by dense id; every cell exactly once."""
  out = np.full((3, tnb.NUM_ARCHS), np.nan, np.float32)
  seen = np.zeros(tnb.NUM_ARCHS, bool)
  place = tnb.NUM_OPS ** np.arange(tnb.NUM_EDGES - 1, -1, -1)
  for r in rows:
    try:
      ops = np.asarray(tnb.from_naslib(str(r["arch"])).ops)
      vals = (float(r["val_accuracy"]), float(r["zen"]["score"]), float(r["zen"]["time"]))
    except (KeyError, TypeError, ValueError) as e:
      raise ValueError(f"{path}: task {task}: bad row {str(r)[:80]!r} ({type(e).__name__}: {e}); "
                       f"build from NASLib's tnb101_micro_zen.zip: {BUILD_HINT}") from None
    i = int(np.dot(ops, place))
    if seen[i]:
      raise ValueError(f"{path}: task {task} lists cell {r['arch']} twice")
    seen[i] = True
    out[:, i] = vals
  if not seen.all():
    raise ValueError(f"{path}: task {task} has {int(seen.sum())} of the {tnb.NUM_ARCHS} cells; "
                     f"build from the complete NASLib zip: {BUILD_HINT}")
  return tuple(out)


def task_table(name: str, source: str, metrics, per_task, num_archs: int) -> dict[str, np.ndarray]:
  """The arrays of a TransNAS-Bench-101 table (micro or macro) from each task's ``(val, zen_score,
  zen_time)`` rows by id, tasks in :data:`TASKS` order: ``[task, id]`` tables, one value per
  architecture, no isomorphism reduction."""
  val, score, time = (np.stack(x) for x in zip(*per_task))
  return {
      "name": np.array(name),
      "datasets": np.array(TASKS),
      "source": np.array(source),
      "val_accuracy": val,
      "zen_score": score,
      "zen_time": time,
      "num_seeds": np.ones((len(TASKS), num_archs), np.int32),  # one value per architecture
      "iso_class": np.arange(num_archs, dtype=np.int32),  # no isomorphism reduction
      "declarations": declarations_json(metrics, space=name, dataset_kind="task"),
  }


def build(zip_path) -> dict[str, np.ndarray]:
  """All arrays of the TransNAS-Bench-101 micro table (``[task, id]`` tables, tasks in
  :data:`TASKS` order)."""
  rows = read_zip(zip_path)
  return task_table(NAME, SOURCE, METRICS, [_task_arrays(zip_path, t, rows[t]) for t in TASKS],
                    tnb.NUM_ARCHS)
