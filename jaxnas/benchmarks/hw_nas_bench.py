"""HW-NAS-Bench-360: measured latency and energy of every NB201 cell on 12 device/framework/task
combinations (``../shared/SPACES.md`` section 6).

The CSV (``hw_nas_bench_360.csv.gz``, 187,500 rows) has the columns ``arch_idx`` (the NB201
*official* index, the row of ``nats_bench.csv``), ``rep_arch_idx`` (smallest official index of the
cell's isomorphism class), ``device``, ``framework``, ``task``, ``lat_ms_median`` (ms),
``lat_ms_var`` (ms^2), ``energy_mj`` (mJ per inference; empty for the Pixel), ``accuracy`` (the
task's score) and ``status``.

Naming. A combination is ``device/framework/task``, e.g. ``pi5/litert/cifar100`` (:data:`COMBOS`,
12 of them). Its metrics (:data:`METRICS`) are ``lat_ms_median``, ``lat_ms_var``, ``energy_mj``
and ``accuracy``. Two views of the same numbers:

* **in the NB201 table** (``python -m jaxnas.benchmarks build nasbench201 --test-accuracy-csv
  nats_bench.csv --hw-nas-bench-360 hw_nas_bench_360.csv.gz --out PATH``): 48 metrics named
  ``<combination>/<metric>`` (``pi5/litert/cifar100/lat_ms_median``), ``f32[3, 15625]`` like every
  NB201 table; the value does **not** depend on the NB201 dataset argument (the three rows are
  equal: a combination fixes its own task).
* **the combination view** (:func:`combination_benchmark`, :func:`load`): a benchmark named
  ``hw_nas_bench_360`` over the NB201 space whose *datasets* are the 12 combinations
  (``dataset_kind`` ``"combination"``) and whose metrics are the four plain names, so
  ``query(hw, arch, "lat_ms_median", "pi5/litert/cifar100")`` and a constraint
  ``lat_ms_median <= 5`` read naturally. This is what the multi-objective code searches.

Directions: latency, its variance and energy are minimised; ``accuracy`` is maximised for every
task, **including darcy**, whose stored value the upstream README calls a relative L2 error but
which is higher for conv-rich cells (0.962) than for dead cells (0.747): higher is better for the
stored value, an explicit, documented choice.
"""

from __future__ import annotations

import csv
import gzip
import io as _io
import pathlib

import numpy as np

NUM_ARCHS = 15625  # NB201 cells (the CSV's arch_idx range)
DEVICES_FRAMEWORKS = (("pi5", "litert"), ("pi5", "onnx"), ("pi5", "torchmobile"),
                      ("pixel", "litert"))
TASKS = ("cifar100", "ninapro", "darcy")
COMBOS = tuple(f"{d}/{f}/{t}" for d, f in DEVICES_FRAMEWORKS for t in TASKS)
PI5_COMBOS = tuple(c for c in COMBOS if c.startswith("pi5/"))
METRICS = ("lat_ms_median", "lat_ms_var", "energy_mj", "accuracy")
COLUMNS = ("arch_idx", "rep_arch_idx", "device", "framework", "task") + METRICS + ("status",)
NAME = "hw_nas_bench_360"
FILE = "nb201/hw_nas_bench_360.csv.gz"  # under the shared data folder
BUILD_HINT = ("python -m jaxnas.benchmarks build nasbench201 --test-accuracy-csv nats_bench.csv "
              "--hw-nas-bench-360 hw_nas_bench_360.csv.gz --out PATH")
SOURCE = ("HW-NAS-Bench-360 (GitHub roldebijvank/HW-NAS-Bench-360 results/dataset.parquet, as CSV): "
          "latency (ms), its variance (ms^2), energy (mJ) and task accuracy of every NB201 cell on "
          "pi5 x {litert, onnx, torchmobile} and pixel x litert, tasks cifar100, ninapro, darcy")

_UNITS = {"lat_ms_median": "ms", "lat_ms_var": "ms^2", "energy_mj": "mJ"}
_ACC_UNITS = (("cifar100", "%"), ("ninapro", "%"), ("darcy", ""))
_DESCRIPTIONS = {
    "lat_ms_median": "median inference latency, measured on the isomorphism class representative "
                     "and copied to every member",
    "lat_ms_var": "variance of the inference latency over the measurement repeats",
    "energy_mj": "energy per inference (NaN for the Pixel, which has no energy measurement)",
    "accuracy": "task score: cifar100 = NB201 200-epoch test accuracy (%), ninapro = NB-360 test "
                "accuracy (%), darcy = the stored score, higher is better (documented choice: "
                "dead cells score 0.747, conv-rich ones 0.962)",
}


def higher_is_better(metric: str) -> bool:
  """The direction of a HW-NAS-Bench-360 metric (accuracy up, everything else down)."""
  check_metric(metric)
  return metric == "accuracy"


def check_combo(combo: str) -> str:
  """``combo`` if it is one of the 12 combinations; a one-line ValueError naming them otherwise."""
  if combo not in COMBOS:
    raise ValueError(f"unknown HW-NAS-Bench-360 combination {combo!r}; valid: {', '.join(COMBOS)}")
  return combo


def check_metric(metric: str) -> str:
  """``metric`` if HW-NAS-Bench-360 has it; a one-line ValueError naming the valid ones."""
  if metric not in METRICS:
    raise ValueError(f"unknown HW-NAS-Bench-360 metric {metric!r}; valid: {', '.join(METRICS)}")
  return metric


def metric_key(combo: str, metric: str) -> str:
  """The NB201 table's key of ``metric`` on ``combo``: ``pi5/litert/cifar100/lat_ms_median``."""
  return f"{check_combo(combo)}/{check_metric(metric)}"


def declarations(combos=COMBOS, prefixed: bool = False) -> list[dict]:
  """Metric declarations (``Metric`` JSON) of the hardware metrics: the four plain names
  (``prefixed`` False, the combination view) or ``<combination>/<metric>`` for each of ``combos``
  (the NB201 table)."""
  out = []
  for c in (combos if prefixed else (None,)):
    for m in METRICS:
      d = {"name": f"{c}/{m}" if c else m, "higher_is_better": m == "accuracy",
           "unit": _UNITS.get(m, "%"), "description": _DESCRIPTIONS[m],
           "hint": f"build with --hw-nas-bench-360: {BUILD_HINT}"}
      if m == "accuracy":
        if c:
          d["unit"] = dict(_ACC_UNITS)[c.split("/")[2]]
        else:
          d["units"] = {cc: dict(_ACC_UNITS)[cc.split("/")[2]] for cc in COMBOS}
      out.append(d)
  return out


def _first_bad_row(path, body: str) -> str:
  """The one-line error for the first row the fast path could not read (slow, only on error)."""
  for n, line in enumerate(body.split("\n")[:-1], start=2):
    f = line.split(",")
    if len(f) != len(COLUMNS):
      return f"HW-NAS-Bench-360 file {path} line {n} has {len(f)} fields, expected {len(COLUMNS)}"
    if "/".join(f[2:5]) not in COMBOS:
      return (f"HW-NAS-Bench-360 file {path} line {n} has unknown combination "
              f"{'/'.join(f[2:5])!r}; valid: {', '.join(COMBOS)}")
    if f[9] != "ok":
      return f"HW-NAS-Bench-360 file {path} line {n} has status {f[9]!r} (only 'ok' is read)"
    for v in f[:2] + f[5:9]:
      try:
        float(v or "nan")
      except ValueError:
        return f"HW-NAS-Bench-360 file {path} line {n} has a non-numeric value {v[:40]!r}"
  return f"HW-NAS-Bench-360 file {path} is malformed"


def _open_text(path: pathlib.Path) -> str:
  raw = path.read_bytes()
  if raw[:2] == b"\x1f\x8b":
    try:
      raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
      raise ValueError(f"HW-NAS-Bench-360 file {path} is a corrupt gzip ({e})") from None
  try:
    return raw.decode("utf-8")
  except UnicodeDecodeError:
    raise ValueError(f"HW-NAS-Bench-360 file {path} is not a text CSV") from None


def read_csv(path) -> dict[str, np.ndarray]:
  """Reads the CSV into arrays over the *official* NB201 index (the CSV's ``arch_idx``).

  Returns:
    ``{metric: f32[12, 15625]}`` for the four :data:`METRICS` (combinations in :data:`COMBOS`
    order; energy NaN where the CSV leaves it empty) and ``rep_arch_idx: int32[15625]``.

  Raises:
    FileNotFoundError: no file at ``path``.
    ValueError (one line, naming the file): not gzip/CSV, missing columns, an unknown combination,
      a row count other than 187,500, a duplicate or missing (arch_idx, combination), an
      ``arch_idx`` out of range, a non-numeric value, a status other than ``ok``, or a
      ``rep_arch_idx`` that differs between combinations.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"HW-NAS-Bench-360 file {path} not found (expected the "
                            f"{FILE} of the shared data)")
  text = _open_text(path)
  header, _, body = text.partition("\n")
  header = header.strip().split(",")
  if header != list(COLUMNS):
    raise ValueError(f"HW-NAS-Bench-360 file {path} has columns {','.join(header)[:200]}; expected "
                     f"{','.join(COLUMNS)}")
  # Fast path: the 12 combinations and the status become numbers in C-speed replaces, so one
  # loadtxt reads every column (a per-row Python parse took 5 s for the 187,500 rows).
  body = body.replace("\r\n", "\n")
  if not body.endswith("\n"):
    body += "\n"
  coded = body
  for k, name in enumerate(COMBOS):
    coded = coded.replace("," + name.replace("/", ",") + ",", f",{k},")
  coded = coded.replace(",ok\n", ",0\n")
  for _ in range(2):  # empty fields (energy on the Pixel) are NaN; ",,," needs two passes
    coded = coded.replace(",,", ",nan,")
  try:
    num = np.loadtxt(_io.StringIO(coded), delimiter=",", dtype=np.float64, ndmin=2)
  except ValueError:
    raise ValueError(_first_bad_row(path, body)) from None
  want = NUM_ARCHS * len(COMBOS)
  if num.shape != (want, 8):
    raise ValueError(f"HW-NAS-Bench-360 file {path} has {num.shape[0]} rows, expected {want} "
                     f"({NUM_ARCHS} cells x {len(COMBOS)} combinations)")
  idx, rep, c = (num[:, j].astype(np.int64) for j in (0, 1, 2))
  vals = {m: num[:, 3 + j] for j, m in enumerate(METRICS)}
  if idx.min() < 0 or idx.max() >= NUM_ARCHS or rep.min() < 0 or rep.max() >= NUM_ARCHS:
    raise ValueError(f"HW-NAS-Bench-360 file {path}: arch_idx/rep_arch_idx outside 0..{NUM_ARCHS - 1}")
  seen = np.zeros((len(COMBOS), NUM_ARCHS), np.int32)
  np.add.at(seen, (c, idx), 1)
  if (seen != 1).any():
    k, i = np.argwhere(seen != 1)[0]
    what = "missing" if seen[k, i] == 0 else "duplicated"
    raise ValueError(f"HW-NAS-Bench-360 file {path}: (arch_idx {i}, {COMBOS[k]}) is {what}")
  out = {}
  for m in METRICS:
    t = np.full((len(COMBOS), NUM_ARCHS), np.nan, np.float32)
    t[c, idx] = vals[m]
    out[m] = t
  reps = np.full((len(COMBOS), NUM_ARCHS), -1, np.int64)
  reps[c, idx] = rep
  if (reps != reps[:1]).any():
    raise ValueError(f"HW-NAS-Bench-360 file {path}: rep_arch_idx differs between combinations")
  out["rep_arch_idx"] = reps[0].astype(np.int32)
  return out


def to_dense(official: dict[str, np.ndarray], official_to_id) -> dict[str, np.ndarray]:
  """:func:`read_csv`'s arrays re-indexed by dense NB201 id: ``dense[..., official_to_id[i]] =
  official[..., i]`` (``rep_arch_idx`` stays an official index, as the CSV has it)."""
  o2i = np.asarray(official_to_id)
  if o2i.shape != (NUM_ARCHS,) or np.unique(o2i).size != NUM_ARCHS:
    raise ValueError(f"official_to_id must be a permutation of {NUM_ARCHS} ids")
  out = {}
  for k, v in official.items():
    d = np.empty_like(v)
    d[..., o2i] = v
    out[k] = d
  return out


def nb201_tables(csv_path, official_to_id, num_datasets: int) -> dict[str, np.ndarray]:
  """The 48 NB201-table metrics ``<combination>/<metric>``: ``f32[num_datasets, 15625]`` by dense
  id, the same row for every NB201 dataset (a combination fixes its own task)."""
  dense = to_dense(read_csv(csv_path), official_to_id)
  return {metric_key(c, m): np.repeat(dense[m][k][None], num_datasets, axis=0)
          for k, c in enumerate(COMBOS) for m in METRICS}


def combination_arrays(tables: dict[str, np.ndarray], iso_class, combos=COMBOS) -> dict:
  """The arrays of the combination view: ``{metric: f32[len(combos), 15625]}`` by dense id, plus
  the table-file members (name, datasets = the combinations, declarations, iso_class)."""
  import json  # pylint: disable=import-outside-toplevel
  for c in combos:
    check_combo(c)
  ids = [COMBOS.index(c) for c in combos]
  arrays = {m: np.asarray(tables[m], np.float32)[ids] for m in METRICS}
  decl = {"metrics": declarations(), "space": "nasbench201", "dataset_kind": "combination"}
  return dict(arrays, name=np.array(NAME), datasets=np.array(list(combos)),
              source=np.array(SOURCE), declarations=np.array(json.dumps(decl, sort_keys=True)),
              iso_class=np.asarray(iso_class, np.int32),
              num_seeds=np.zeros((len(combos), NUM_ARCHS), np.int32))


def combination_benchmark(nb201_bench, combos=COMBOS):
  """The combination view of an NB201 table built with ``--hw-nas-bench-360``: a benchmark whose
  datasets are the combinations and whose metrics are :data:`METRICS` (one-line ValueError naming
  the build command when the table lacks them)."""
  from jaxnas.benchmarks import benchmark  # pylint: disable=import-outside-toplevel
  keys = set(nb201_bench.metric_keys())
  if metric_key(COMBOS[0], METRICS[0]) not in keys:
    raise ValueError(f"benchmark {nb201_bench.name} has no HW-NAS-Bench-360 metrics; build it "
                     f"with: {BUILD_HINT}")
  tables = {m: np.stack([np.asarray(nb201_bench.tables[metric_key(c, m)])[0] for c in COMBOS])
            for m in METRICS}
  return benchmark.from_arrays(combination_arrays(tables, np.asarray(nb201_bench.iso_class),
                                                  combos))


def load(csv_path=None, nats_csv=None, combos=COMBOS):
  """The combination view straight from the CSVs (no NB201 build needed): ``csv_path`` defaults to
  the shared data's :data:`FILE`, ``nats_csv`` (the official index order) to its
  ``nb201/nats_bench.csv``; the isomorphism classes come from the embedded NB201 table."""
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel
  from jaxnas.benchmarks import benchmark  # pylint: disable=import-outside-toplevel
  from jaxnas.paths import shared_data_dir  # pylint: disable=import-outside-toplevel
  csv_path = pathlib.Path(csv_path) if csv_path else shared_data_dir() / FILE
  nats_csv = pathlib.Path(nats_csv) if nats_csv else shared_data_dir() / "nb201" / "nats_bench.csv"
  order = official_order(nats_csv)
  nb = bm.load("nasbench201")
  dense = to_dense(read_csv(csv_path), order.official_to_id)
  return benchmark.from_arrays(combination_arrays(dense, np.asarray(nb.iso_class), combos))


def official_order(nats_csv):
  """NB201's official index order from a ``nats_bench.csv`` (its ``ArchitectureString`` column),
  through the benchmark registry's order class (one-line errors for a missing or wrong file)."""
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel
  nats_csv = pathlib.Path(nats_csv)
  if not nats_csv.is_file():
    raise FileNotFoundError(f"CSV file {nats_csv} not found (the nats_bench.csv giving NB201's "
                            "official index order)")
  with open(nats_csv, newline="") as f:
    rows = list(csv.DictReader(f))
  if len(rows) != NUM_ARCHS or "ArchitectureString" not in rows[0]:
    raise ValueError(f"{nats_csv}: expected {NUM_ARCHS} rows with an ArchitectureString column "
                     "(the nats_bench.csv format)")
  return bm.BENCHMARKS["nasbench201"]["official_order"].from_strings(
      [r["ArchitectureString"] for r in rows])
