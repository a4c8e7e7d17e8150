"""Builds the NAS-Bench-101 table (Ying et al., ICML 2019) from the official tfrecord files, without
TensorFlow.

Sources: ``nasbench_only108.tfrecord`` (budget 108 only, 3 repeats, ~0.5 GB), ``nasbench_full.tfrecord``
(budgets 4/12/36/108, 3 repeats each, ~2 GB), or EC-NAS-Bench's files with energy fields
(``../shared/data/nb101/ec_nas/``). Every record is one training run: a JSON list
``[module_hash, epochs, adjacency bits, ops, base64 ModelMetrics]`` (``../shared/SPACES.md``
section 1); :func:`read_nb101` decodes them (framing and CRCs by :mod:`jaxnas.benchmarks.tfrecord`).

The table (``index_kind "fingerprint"``, one row per module hash, rows sorted by the
``nasbench101`` space's fingerprint) has one dataset, ``cifar10``, and per budget ``E`` and per
repeat (the seed axis, ``f32[1, N, S]``, NaN where a cell has fewer runs) the values of the
*final* evaluation: ``train_accuracy``, ``val_accuracy``, ``test_accuracy`` (percent, as NASLib
reports them), ``train_time`` (s, training only) under the key ``"<metric>"`` for E = 108 and
``"<metric>@E"`` for 4/12/36; with ``--halfway`` the intermediate evaluation under ``halfway_*``
(with ``halfway_epoch``: its ``current_epoch``, E/2 in the official files, 1 or 2 in EC-NAS's);
``total_time`` (s, the record's wall time); with ``--halfway`` the intermediate evaluation too;
EC-NAS's ``energy`` / ``co2eq`` (kWh / kg of the
training run, final evaluation's fields 6/7) and ``total_energy`` / ``total_co2eq`` (the whole
record); and per cell ``params`` (``trainable_parameters`` / 1e6, M). The arrays that are not
metrics: ``matrix uint8[N,7,7]`` and ``ops int8[N,7]`` (the stored spec padded to 7 vertices as
NASLib's ``convert_to_cell`` does; op codes input 0, conv3x3-bn-relu 1, conv1x1-bn-relu 2,
maxpool3x3 3, output 4), ``hash str[N]`` (the module hash), ``trainable_parameters int64[N]``
(exact), and ``repeat_file int8[N, B, S]`` (which ``--tfrecord`` file each repeat came from, -1:
none), so a table decodes back to architectures (:func:`load_rows`).

Repeats. Every record of every file is one repeat of its (cell, budget), in file order: the
official files give 3 per budget. EC-NAS's ``energy_4V9E_estimate.tfrecord`` holds estimates, not
training runs (its accuracies do not change between evaluations), and its 5V file repeats the 91
four-vertex cells at budget 4: building from all three files gives those cells 5 "repeats" at
budget 4 (``repeat_file`` tells them apart); build from the files you mean to combine.

Queries are deterministic (:func:`query`): the mean over the repeats present by default, or one
chosen repeat. (NASLib, like the official API, draws a repeat at random on every query.)
"""

from __future__ import annotations

import base64
import binascii
import json
import pathlib
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from jaxnas.benchmarks import tfrecord
from jaxnas.benchmarks.benchmark import Metric, declarations_json

NAME = "nasbench101"
BUDGETS = (4, 12, 36, 108)
FINAL = 108
DATASETS = ("cifar10",)
NUM_VERTICES = 7
# op codes of the stored ``ops`` (the enumeration's order)
OPS = ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")
OP_CODE = {o: i for i, o in enumerate(OPS)}
PAD_OP = OP_CODE["conv3x3-bn-relu"]  # NASLib's convert_to_cell labels unused slots conv3x3

BUILD_HINT = (f"python -m jaxnas.benchmarks build {NAME} --tfrecord nasbench_only108.tfrecord "
              "[--tfrecord FILE ...] --out nb101.npz (official or EC-NAS tfrecords)")
SOURCE = ("NAS-Bench-101 (Ying et al. 2019) tfrecords, read without TensorFlow: per budget and "
          "repeat the final (and halfway) evaluation of each cell")

# ModelMetrics (official) and ModelMetricsEnergy (EC-NAS): (field, wire type) -> (name, kind).
# Field 6 of EvaluationData is the checkpoint path (a string) in the official schema and the
# energy (a double) in EC-NAS's: the wire type tells them apart.
EVALUATION_SCHEMA = {
    (1, tfrecord.I64): ("current_epoch", "double"),
    (2, tfrecord.I64): ("training_time", "double"),
    (3, tfrecord.I64): ("train_accuracy", "double"),
    (4, tfrecord.I64): ("validation_accuracy", "double"),
    (5, tfrecord.I64): ("test_accuracy", "double"),
    (6, tfrecord.LEN): ("checkpoint_path", "string"),
    (6, tfrecord.I64): ("energy", "double"),
    (7, tfrecord.I64): ("co2eq", "double"),
    (8, tfrecord.I64): ("avg_intensity", "double"),
    (9, tfrecord.LEN): ("start_time", "string"),
    (10, tfrecord.LEN): ("stop_time", "string"),
    (11, tfrecord.I64): ("predicted_energy", "double"),
    (12, tfrecord.I64): ("predicted_co2eq", "double"),
    (13, tfrecord.I64): ("predicted_time", "double"),
    (14, tfrecord.I64): ("predicted_intensity", "double"),
    (15, tfrecord.LEN): ("checkpoint_path", "string"),
}
METRICS_SCHEMA = {
    (1, tfrecord.LEN): ("evaluation_data", ("repeated", EVALUATION_SCHEMA)),
    (2, tfrecord.VARINT): ("trainable_parameters", "int"),
    (3, tfrecord.I64): ("total_time", "double"),
    (4, tfrecord.I64): ("total_energy", "double"),
    (5, tfrecord.I64): ("total_co2eq", "double"),
    (6, tfrecord.LEN): ("start_emission", "string"),
    (7, tfrecord.LEN): ("stop_emission", "string"),
    (8, tfrecord.I64): ("overall_avg_intensity", "double"),
}

# table metric -> (where it comes from, percent?)
_FINAL = {"train_accuracy": "train_accuracy", "val_accuracy": "validation_accuracy",
          "test_accuracy": "test_accuracy", "train_time": "training_time", "energy": "energy",
          "co2eq": "co2eq"}
_HALF = {"halfway_train_accuracy": "train_accuracy", "halfway_val_accuracy": "validation_accuracy",
         "halfway_test_accuracy": "test_accuracy", "halfway_train_time": "training_time",
         "halfway_epoch": "current_epoch"}
_TOP = {"total_time": "total_time", "total_energy": "total_energy", "total_co2eq": "total_co2eq"}
PERCENT = {"train_accuracy", "val_accuracy", "test_accuracy", "halfway_train_accuracy",
           "halfway_val_accuracy", "halfway_test_accuracy"}
VALUES = tuple(_FINAL) + tuple(_HALF) + tuple(_TOP)  # per-record values, in this order

_ACC = "accuracy on NAS-Bench-101's CIFAR-10 split, % (the record's fraction x 100)"
METRICS = (
    Metric("val_accuracy", True, "%", final_epoch=FINAL,
           description=f"final validation {_ACC}: 10k images held out of the training set"),
    Metric("test_accuracy", True, "%", final_epoch=FINAL, description=f"final test {_ACC}"),
    Metric("train_accuracy", True, "%", final_epoch=FINAL,
           description=f"final train {_ACC} (a fixed 10k subset of the training images)"),
    Metric("train_time", False, "s", final_epoch=FINAL,
           description="training time of the run at this budget (s, evaluation excluded)"),
    Metric("params", False, "M", description="trainable_parameters / 1e6 (TF convention)"),
    Metric("total_time", False, "s", final_epoch=FINAL,
           description="total wall time of the run at this budget (s)"),
    Metric("halfway_val_accuracy", True, "%", final_epoch=FINAL,
           description="validation accuracy at the intermediate evaluation (halfway_epoch)"),
    Metric("halfway_test_accuracy", True, "%", final_epoch=FINAL,
           description="test accuracy at the intermediate evaluation (halfway_epoch)"),
    Metric("halfway_train_accuracy", True, "%", final_epoch=FINAL,
           description="train accuracy at the intermediate evaluation (halfway_epoch)"),
    Metric("halfway_train_time", False, "s", final_epoch=FINAL,
           description="training time up to the intermediate evaluation (s)"),
    Metric("halfway_epoch", None, "epochs", final_epoch=FINAL,
           description="current_epoch of the intermediate evaluation (E/2 officially; EC-NAS: "
                       "1 or 2)"),
    Metric("energy", False, "kWh", final_epoch=FINAL,
           description="EC-NAS: energy of the training run (final evaluation's field 6)"),
    Metric("co2eq", False, "kg", final_epoch=FINAL,
           description="EC-NAS: CO2-equivalent of the training run (final evaluation's field 7)"),
    Metric("total_energy", False, "kWh", final_epoch=FINAL,
           description="EC-NAS: energy of the whole record (ModelMetricsEnergy field 4)"),
    Metric("total_co2eq", False, "kg", final_epoch=FINAL,
           description="EC-NAS: CO2-equivalent of the whole record (field 5)"),
)

# what the registry declares for this name (files carry the same in their ``declarations``)
DECLARATIONS = json.loads(str(declarations_json(METRICS, space=NAME)))


def print_progress(records: int, cells: int) -> None:
  """The build command's progress line."""
  print(f"  {records:,} records, {cells:,} cells", flush=True)


class Record(NamedTuple):
  """One NAS-Bench-101 training run (one tfrecord record), decoded."""

  offset: int  # byte offset of the record in its file
  module_hash: str
  epochs: int
  adjacency: str  # V*V '0'/'1' characters, row-major: the stored (pruned) matrix
  ops: tuple[str, ...]  # V labels
  metrics: dict  # the decoded ModelMetrics (METRICS_SCHEMA names)

  @property
  def matrix(self) -> np.ndarray:
    """``uint8[V, V]``, the stored (pruned) adjacency."""
    v = len(self.ops)
    return (np.frombuffer(self.adjacency.encode(), np.uint8) - ord("0")).reshape(v, v)


def parse_row(payload: bytes, path="", offset: int = 0) -> Record:
  """Decodes one record's payload: the JSON row and its base64 ``ModelMetrics``. One-line
  ValueError naming the file and the byte offset when the row is malformed."""
  try:
    h, epochs, adj, ops, b64 = json.loads(payload)
    labels = tuple(ops.split(","))
    v = len(labels)
    if len(adj) != v * v or adj.strip("01"):
      raise ValueError(f"adjacency {adj!r} is not a {v}x{v} 0/1 matrix for ops {ops!r}")
    metrics = tfrecord.decode_fields(base64.b64decode(b64), METRICS_SCHEMA)
    return Record(offset, str(h), int(epochs), adj, labels, metrics)
  except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as e:
    raise ValueError(f"{path}: record at byte {offset} is not a NAS-Bench-101 row "
                     f"({type(e).__name__}: {e})") from None


def read_nb101(path, **kwargs) -> Iterator[Record]:
  """Streams the decoded records of one NAS-Bench-101 tfrecord file (official or EC-NAS);
  ``kwargs`` go to :func:`jaxnas.benchmarks.tfrecord.read_records`."""
  for offset, payload in tfrecord.read_records(path, **kwargs):
    yield parse_row(payload, path, offset)


def pad_spec(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
  """``(uint8[7,7], int8[7])``: a pruned spec padded to 7 vertices as NASLib's
  ``convert_to_cell``: the output moves to index 6, the unused slots get no edges and the label
  conv3x3-bn-relu. Op codes as :data:`OPS`."""
  adj = "".join(str(int(x)) for x in np.asarray(matrix).ravel())
  m, o = pad_specs([adj], [",".join(ops)])
  return m[0], o[0]


def pad_specs(adjacency: Sequence[str], ops: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
  """:func:`pad_spec` of many stored specs at once (``adjacency`` bit strings, ``ops`` the
  comma-joined labels): ``(uint8[N,7,7], int8[N,7])``, vectorised per vertex count."""
  n = len(adjacency)
  mats = np.zeros((n, NUM_VERTICES, NUM_VERTICES), np.uint8)
  codes = np.full((n, NUM_VERTICES), PAD_OP, np.int8)
  sides = np.array([len(o.split(",")) for o in ops], np.int64)
  for v in np.unique(sides):
    v = int(v)
    sel = np.nonzero(sides == v)[0]
    bits = np.frombuffer("".join(adjacency[i] for i in sel).encode(), np.uint8) - ord("0")
    idx = np.r_[np.arange(v - 1), NUM_VERTICES - 1]
    mats[sel[:, None, None], idx[None, :, None], idx[None, None, :]] = bits.reshape(-1, v, v)
    try:
      lab = [[OP_CODE[x] for x in ops[i].split(",")] for i in sel]
    except KeyError as e:
      raise ValueError(f"unknown NAS-Bench-101 op {e.args[0]!r}; valid: {', '.join(OPS)}"
                       ) from None
    codes[sel[:, None], idx[None, :]] = np.asarray(lab, np.int8)
  return mats, codes


def _values(rec: Record) -> list[float]:
  """The :data:`VALUES` of one record (NaN where the record lacks one)."""
  m = rec.metrics
  ev = m.get("evaluation_data", [])
  final = ev[-1] if ev else {}
  half = ev[-2] if len(ev) >= 3 else {}
  nan = float("nan")
  out = []
  for k, src in _FINAL.items():
    x = final.get(src, nan)
    out.append(x * 100.0 if k in PERCENT else x)
  for k, src in _HALF.items():
    x = half.get(src, nan)
    out.append(x * 100.0 if k in PERCENT else x)
  out += [m.get(src, nan) for src in _TOP.values()]
  return out


def collect(paths: Sequence, *, progress=None, chunk_bytes: int = 1 << 24
            ) -> dict[str, np.ndarray]:
  """Streams every record of ``paths`` into per-cell arrays (rows in first-seen order).

  Memory: one reader chunk (16 MB, about twice that while split) plus, per record, ``len(VALUES)``
  float32 + 3 int64 in growable arrays (80 B, up to twice that after a doubling), plus per cell
  its hash, adjacency and ops strings and a dict entry; ``python -m jaxnas.bench nb101`` measures
  bytes per record and per cell on a synthetic official-format file and extrapolates to
  ``nasbench_full`` (5.1 M records, 423,624 cells).

  Returns:
    ``hash str[N]``, ``matrix uint8[N,7,7]``, ``ops int8[N,7]``, ``trainable_parameters
    int64[N]``, ``values f32[N, B, S, K]`` (NaN-padded; K = len(VALUES), B = len(BUDGETS)),
    ``count int32[N, B]``, ``repeat_file int8[N, B, S]``.
  """
  paths = [pathlib.Path(p) for p in paths]
  if not paths:
    raise ValueError(f"no --tfrecord file given; {BUILD_HINT}")
  rows: dict[str, int] = {}
  hashes, adjs, opss, params = [], [], [], []
  cap = 1 << 12
  vals = np.empty((cap, len(VALUES)), np.float32)  # the table's precision
  where = np.empty((cap, 3), np.int64)  # row, budget index, file index
  n = 0
  bidx = {b: i for i, b in enumerate(BUDGETS)}
  for fi, path in enumerate(paths):
    for rec in read_nb101(path, chunk_bytes=chunk_bytes):
      if rec.epochs not in bidx:
        raise ValueError(f"{path}: record at byte {rec.offset} has budget {rec.epochs} epochs; "
                         f"NAS-Bench-101's are {', '.join(map(str, BUDGETS))}")
      r = rows.get(rec.module_hash)
      if r is None:
        r = rows[rec.module_hash] = len(hashes)
        hashes.append(rec.module_hash)
        adjs.append(rec.adjacency)
        opss.append(",".join(rec.ops))
        params.append(rec.metrics.get("trainable_parameters", -1))
      if n == cap:
        cap *= 2
        vals = np.resize(vals, (cap, len(VALUES)))
        where = np.resize(where, (cap, 3))
      vals[n] = _values(rec)
      where[n] = (r, bidx[rec.epochs], fi)
      n += 1
      if progress is not None and n % 100_000 == 0:
        progress(n, len(hashes))
  if not hashes:
    raise ValueError(f"{', '.join(map(str, paths))}: no records; {BUILD_HINT}")
  vals, where = vals[:n], where[:n]
  num = len(hashes)
  # the repeat slot of each record: its rank among the records of the same (row, budget)
  key = where[:, 0] * len(BUDGETS) + where[:, 1]
  order = np.argsort(key, kind="stable")
  ks = key[order]
  starts = np.r_[0, np.nonzero(ks[1:] != ks[:-1])[0] + 1]
  run = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
  slot = np.empty(n, np.int64)
  slot[order] = run
  s = int(slot.max()) + 1
  values = np.full((num, len(BUDGETS), s, len(VALUES)), np.nan, np.float32)
  values[where[:, 0], where[:, 1], slot] = vals
  count = np.zeros((num, len(BUDGETS)), np.int32)
  np.add.at(count, (where[:, 0], where[:, 1]), 1)
  repeat_file = np.full((num, len(BUDGETS), s), -1, np.int8)
  repeat_file[where[:, 0], where[:, 1], slot] = where[:, 2]
  mats, codes = pad_specs(adjs, opss)
  return {"hash": np.array(hashes), "matrix": mats, "ops": codes,
          "trainable_parameters": np.asarray(params, np.int64), "values": values, "count": count,
          "repeat_file": repeat_file}


def table_arrays(collected: dict, fingerprint: np.ndarray, *, source: str = SOURCE,
                 halfway: bool = False) -> dict[str, np.ndarray]:
  """The arrays of the fingerprint-indexed table file from :func:`collect`'s output and the
  ``int32[N, W]`` fingerprints of its rows (in the same order). ``halfway``: also the
  intermediate evaluation's tables (``halfway_*``: twice the file and its load time; off by
  default so a full 423,624-row table loads in about 2 s)."""
  fp = np.asarray(fingerprint).astype(np.int32)
  fp = fp[:, None] if fp.ndim == 1 else fp
  order = np.lexsort(fp.T[::-1])
  fp = fp[order]
  dup = np.nonzero(np.all(fp[1:] == fp[:-1], axis=1))[0]
  if dup.size:
    a, b = order[dup[0]], order[dup[0] + 1]
    raise ValueError(f"module hashes {collected['hash'][a]} and {collected['hash'][b]} have the "
                     "same fingerprint: the nasbench101 fingerprint must separate module hashes")
  c = {k: v[order] for k, v in collected.items()}
  values, count = c["values"], c["count"]
  out: dict[str, np.ndarray] = {}
  for b, epochs in enumerate(BUDGETS):
    if not count[:, b].any():
      continue  # a budget no file has (only108: 4/12/36) gets no table
    for k, name in enumerate(VALUES):
      if name.startswith("halfway_") and not halfway:
        continue
      v = values[:, b, :, k]
      if np.isnan(v).all():
        continue  # e.g. energy in the official files
      out[name if epochs == FINAL else f"{name}@{epochs}"] = v[None].astype(np.float32)
  tp = c["trainable_parameters"]
  out["params"] = np.where(tp >= 0, tp / 1e6, np.nan)[None].astype(np.float32)
  out.update({
      "name": np.array(NAME), "datasets": np.array(DATASETS), "source": np.array(source),
      "num_seeds": count.max(axis=1)[None].astype(np.int32),
      "index_kind": np.array("fingerprint"), "fingerprint_index": fp,
      "fingerprint_version": np.array(_fingerprint_version()),
      "declarations": declarations_json(METRICS, space=NAME),
      "hash": c["hash"], "matrix": c["matrix"], "ops": c["ops"],
      "trainable_parameters": tp, "repeat_file": c["repeat_file"],
      "budget_repeats": count.astype(np.int8),
  })
  return out


def _fingerprint_version() -> str:
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  return spaces.nb101.FINGERPRINT_VERSION


def fingerprints_of(matrix: np.ndarray, ops: np.ndarray, *, batch: int = 65536) -> np.ndarray:
  """``int32[N, W]``: the ``nasbench101`` space's jitted fingerprint of padded specs
  (``uint8[N,7,7]``, ``int8[N,7]``), in batches of ``batch`` (one compile)."""
  import jax  # pylint: disable=import-outside-toplevel

  from jaxnas import spaces  # pylint: disable=import-outside-toplevel

  from jaxnas.spaces import nb101  # pylint: disable=import-outside-toplevel

  space = spaces.get_space(NAME)
  # 512-bit vectors on CPU (nb101.compiler_options): ~1.9x faster, the same values
  fn = jax.jit(space.fingerprint, compiler_options=nb101.compiler_options())
  n = len(matrix)
  batch = min(batch, 1 << max(0, (n - 1).bit_length()))  # a small table: a small batch
  out = []
  for i in range(0, n, batch):
    m = np.zeros((batch, NUM_VERTICES, NUM_VERTICES), np.int32)
    o = np.zeros((batch, NUM_VERTICES), np.int32)
    k = min(batch, n - i)
    m[:k], o[:k] = matrix[i:i + k], ops[i:i + k]  # padded to one shape: one compile
    out.append(np.asarray(fn(space.arch_type(matrix=m, ops=o)))[:k])
  fp = np.concatenate(out).astype(np.int32)
  return fp[:, None] if fp.ndim == 1 else fp


def build(paths: Sequence, *, progress=None, halfway: bool = False) -> dict[str, np.ndarray]:
  """All arrays of the NAS-Bench-101 table built from the tfrecord files ``paths`` (``halfway``:
  with the intermediate evaluation's tables, see :func:`table_arrays`)."""
  c = collect(paths, progress=progress)
  names = ", ".join(pathlib.Path(p).name for p in paths)
  return table_arrays(c, fingerprints_of(c["matrix"], c["ops"]), source=f"{SOURCE}: {names}",
                      halfway=halfway)


def load_rows(path) -> dict[str, np.ndarray]:
  """The non-metric arrays of a built table, in row order: ``hash``, ``matrix``, ``ops``,
  ``trainable_parameters``, ``fingerprint_index``, ``repeat_file``, ``budget_repeats``."""
  from jaxnas.benchmarks import io  # pylint: disable=import-outside-toplevel

  a = io.load_arrays(path, BUILD_HINT)
  keys = ("hash", "matrix", "ops", "trainable_parameters", "fingerprint_index", "repeat_file",
          "budget_repeats")
  missing = [k for k in keys if k not in a]
  if missing:
    raise ValueError(f"{path} lacks {', '.join(missing)}: not a nasbench101 table; rebuild it "
                     f"with: {BUILD_HINT}")
  return {k: a[k] for k in keys}


def query(bench, arch, metric: str = "val_accuracy", *, epoch: int | None = None,
          repeat: int | None = None, dataset: str = "cifar10"):
  """A deterministic NAS-Bench-101 query (jittable in ``arch``): ``metric`` at budget ``epoch``
  (None = 108) averaged over the repeats the cell has (``repeat=None``), or the value of repeat
  ``repeat`` (a Python int; NaN where the cell has no such repeat at that budget), never a
  random repeat. NaN for a cell absent from the table.

  Raises:
    ValueError: ``repeat`` outside the table's repeat axis (names the valid range).
  """
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

  from jaxnas.benchmarks import benchmark as _b  # pylint: disable=import-outside-toplevel

  if repeat is None:
    return _b.query(bench, arch, metric, dataset, epoch=epoch)
  key, d = _b.resolve(bench, metric, dataset, epoch)
  table = bench.tables[key]
  if table.ndim != 3:
    return _b.query(bench, arch, metric, dataset, epoch=epoch)  # per-cell value (params)
  s = table.shape[-1]
  if not 0 <= int(repeat) < s:
    raise ValueError(f"repeat {repeat} is out of range for {key!r} of benchmark {bench.name}; "
                     f"valid: 0..{s - 1}")
  ids, present = _b.rows(bench, None, arch)
  return jnp.where(present, table[d][ids, int(repeat)], jnp.nan)
