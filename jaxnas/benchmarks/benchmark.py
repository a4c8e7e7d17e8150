"""Tabular benchmarks as pytrees of dense arrays; a query is a gather.

A :class:`Benchmark` holds one ``f32`` table per metric, indexed ``[dataset, arch_id]`` or, for
per-seed metrics, ``[dataset, arch_id, seed]`` (missing seeds are NaN, ``num_seeds`` says how many
there are). ``query`` resolves the (static) metric and dataset names on the host, then gathers: it
works under ``jit`` and ``vmap``. Pass the benchmark into jitted functions as an argument (a
closed-over table would be baked into the program as a constant).

Metrics are declared by the table file (:class:`Metric`: direction, unit, per seed or not, final
epoch and fidelities, provenance), so every floating table in a file survives loading (latency,
energy, FLOPs, ...). Files written before declarations existed (the NB201 tables) get the
declarations registered for their benchmark name in ``jaxnas.benchmarks.BENCHMARKS``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import spaces
from jaxnas.spaces import nb201

# Canonical dataset names and accepted aliases.
DATASET_ALIASES = {
    "cifar10": "cifar10",
    "cifar10-valid": "cifar10",
    "cifar100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
}
# NB201's metric vocabulary, kept for code that imported it; tables are no longer filtered by it.
METRICS = ("val_accuracy", "test_accuracy", "train_time", "latency", "params")
PER_SEED = ("val_accuracy",)
# Final epoch of tables without a declaration of their own (NB201's 200-epoch schedule); a
# declared metric carries its own ``final_epoch``.
MAX_EPOCH = 200
FIDELITIES = (12, 200)
# Array members of a table file that are not metric tables.
RESERVED = ("name", "datasets", "source", "num_seeds", "iso_class", "official_to_id",
            "format_version", "declarations")


@dataclasses.dataclass(frozen=True)
class Metric:
  """What one metric table means, declared by its file (static, hashable).

  Attributes:
    name: the table key (``val_accuracy``); lower fidelities are stored as ``"<name>@<epoch>"``.
    higher_is_better: the direction: True to maximise (accuracy, SSIM, a negative loss), False to
      minimise (error, loss, latency, params); None when a file does not say (``best`` refuses).
    unit: default unit (``%``, ``s``, ``M``, ``""`` for dimensionless).
    units: ``((dataset, unit), ...)`` where the unit differs per dataset or task.
    per_seed: the table has a training-seed axis (derived from the table's shape at load).
    final_epoch: the epoch of the un-suffixed table (None: the source's final epoch, unnamed).
    fidelities: every epoch the file has a table for, ascending (``()`` when only the final one,
      of unnamed epoch, exists). Derived at load.
    description: provenance (the source's key per dataset, the split).
    hint: how to add this metric when a file lacks it (shown in the error).
    fidelity_hint: how to add a missing fidelity (shown in the error).
  """

  name: str
  higher_is_better: bool | None = True
  unit: str = ""
  units: tuple[tuple[str, str], ...] = ()
  per_seed: bool = False
  final_epoch: int | None = None
  fidelities: tuple[int, ...] = ()
  description: str = ""
  hint: str = ""
  fidelity_hint: str = ""

  def key(self, epoch: int | None) -> str:
    """The table key at ``epoch`` (None or the final epoch: the un-suffixed table)."""
    if epoch is None or epoch == self.final_epoch:
      return self.name
    return f"{self.name}@{int(epoch)}"

  def unit_for(self, dataset: str) -> str:
    """The unit of this metric on ``dataset``."""
    return dict(self.units).get(dataset, self.unit)

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d["units"] = dict(self.units)
    d.pop("fidelities")
    d.pop("per_seed")
    return d

  @classmethod
  def from_json(cls, d: Mapping[str, Any]) -> "Metric":
    d = dict(d)
    d["units"] = tuple(sorted(dict(d.get("units", {})).items()))
    d.pop("fidelities", None)
    d.pop("per_seed", None)
    return cls(**d)


def declarations_json(metrics, *, space: str, dataset_kind: str = "dataset") -> np.ndarray:
  """The ``declarations`` member of a table file: its metrics, space and what a dataset axis is."""
  return np.array(json.dumps({"metrics": [m.to_json() for m in metrics], "space": space,
                              "dataset_kind": dataset_kind}, sort_keys=True))


@flax.struct.dataclass
class Benchmark:
  """A tabular benchmark: dense metric tables over all architectures of one search space.

  Attributes:
    tables: metric key -> ``f32[D, N]`` or ``f32[D, N, S]`` (per-seed, NaN-padded). Keys are
      metric names (200 epochs) and ``"<metric>@<epoch>"`` for lower fidelities
      (``val_accuracy@12``).
    num_seeds: ``int32[D, N]``, seeds present per (dataset, arch) for per-seed tables.
    iso_class: ``int32[N]``, the smallest id in each architecture's isomorphism class.
    name: the benchmark (search space) name, static.
    datasets: dataset names in table order, static.
    source: provenance text, static.
  """

  tables: dict[str, jax.Array]
  num_seeds: jax.Array  # [D, N] int32
  iso_class: jax.Array  # [N] int32
  official_to_id: Any = None  # [N] int32 or None: official NB201 index -> dense id
  # per-seed metric key -> f32[D, N] mean over the seeds present (derived at load: a search
  # step then gathers one value instead of S values and a NaN-aware mean)
  seed_means: dict = flax.struct.field(default_factory=dict)
  name: str = flax.struct.field(pytree_node=False, default="nasbench201")
  datasets: tuple[str, ...] = flax.struct.field(pytree_node=False, default=())
  source: str = flax.struct.field(pytree_node=False, default="")
  # declared metrics (present tables first, in declaration order, then declared-but-absent ones)
  metrics: tuple[Metric, ...] = flax.struct.field(pytree_node=False, default=())
  space: str = flax.struct.field(pytree_node=False, default="")  # registry name ("" = name)
  dataset_kind: str = flax.struct.field(pytree_node=False, default="dataset")  # or "task"

  @property
  def num_archs(self) -> int:
    return int(self.iso_class.shape[0])

  @property
  def space_name(self) -> str:
    """The registered search space whose ids index the rows."""
    return self.space or self.name

  def metric_keys(self) -> tuple[str, ...]:
    return tuple(sorted(self.tables))

  def metric_names(self) -> tuple[str, ...]:
    """Metrics with a table in this file, in declaration order."""
    return tuple(m.name for m in self.metrics if m.name in self.tables)

  def metric(self, name: str) -> Metric:
    """The declaration of a metric present in the file; one-line ValueError otherwise, naming the
    metrics present (and how to add a declared but absent one)."""
    for m in self.metrics:
      if m.name == name:
        if name in self.tables or any(k.startswith(name + "@") for k in self.tables):
          return m
        hint = f" ({m.hint})" if m.hint else ""
        raise ValueError(f"benchmark {self.name} has no {name!r}{hint}; tables present: "
                         f"{', '.join(self.metric_keys())}")
    raise ValueError(f"unknown metric {name!r}; valid: {', '.join(self.metric_names())} "
                     f"(benchmark {self.name})")

  def higher_is_better(self, metric: str) -> bool:
    """The declared direction of ``metric``; ValueError when the file does not declare one."""
    m = self.metric(metric)
    if m.higher_is_better is None:
      raise ValueError(f"benchmark {self.name} does not declare whether {metric!r} is better "
                       "higher or lower; rebuild the table with a declaration")
    return m.higher_is_better

  def sign(self, metric: str) -> float:
    """+1.0 for a metric to maximise, -1.0 for one to minimise (``sign * value`` is maximised)."""
    return 1.0 if self.higher_is_better(metric) else -1.0

  def has(self, metric: str, epoch: int | None = None) -> bool:
    """Whether the table has ``metric`` at ``epoch`` (None = final)."""
    return _key(metric, epoch, self._final_epoch(metric)) in self.tables

  def _final_epoch(self, metric: str) -> int | None:
    for m in self.metrics:
      if m.name == metric:
        return m.final_epoch
    return MAX_EPOCH

  def dataset_index(self, dataset: str) -> int:
    """Index of ``dataset`` (aliases accepted); ValueError naming the valid ones."""
    canon = DATASET_ALIASES.get(str(dataset).lower(), dataset)
    if canon not in self.datasets:
      raise ValueError(
          f"unknown {self.dataset_kind} {dataset!r} for benchmark {self.name}; valid: "
          f"{', '.join(self.datasets)}")
    return self.datasets.index(canon)

  def official_order(self) -> nb201.OfficialOrder | None:
    """The official NB201 index order, when the table was built with it."""
    if self.official_to_id is None:
      return None
    o2i = np.asarray(self.official_to_id)
    i2o = np.empty_like(o2i)
    i2o[o2i] = np.arange(o2i.shape[0], dtype=o2i.dtype)
    return nb201.OfficialOrder(official_to_id=o2i, id_to_official=i2o)


def _key(metric: str, epoch: int | None, final_epoch: int | None = MAX_EPOCH) -> str:
  if epoch is None or epoch == final_epoch:
    return metric
  return f"{metric}@{int(epoch)}"


def resolve(bench: Benchmark, metric: str, dataset: str, epoch: int | None = None) -> tuple[str, int]:
  """Checks a (metric, dataset, epoch) request on the host; returns (table key, dataset index).

  Raises a one-line ValueError that names the bad value and the valid ones, never substituting
  another metric (NASLib returned validation accuracy when asked for NB201 test accuracy).
  """
  m = bench.metric(metric)
  d = bench.dataset_index(dataset)
  key = m.key(epoch)
  if key not in bench.tables:
    have = ", ".join(bench.metric_keys())
    fids = ", ".join(map(str, m.fidelities)) or "the final epoch only"
    hint = f" ({m.fidelity_hint})" if m.fidelity_hint else ""
    raise ValueError(f"benchmark {bench.name} has no {metric!r} at epoch {epoch} (fidelities "
                     f"present: {fids}); tables present: {have}{hint}")
  return key, d


def _ids(bench: Benchmark, arch) -> jax.Array:
  """Dense row ids of ``arch``: ids pass through; an architecture goes through its space's
  ``to_id`` after a static check that it belongs to the benchmark's space."""
  if isinstance(arch, (int, np.integer, np.ndarray, jax.Array, list, tuple)):
    return jnp.asarray(arch, jnp.int32)
  space = spaces.get_space(bench.space_name)
  if not isinstance(arch, space.arch_type):
    t = type(arch)
    raise ValueError(f"a {t.__module__}.{t.__qualname__} is not an architecture of search space "
                     f"{space.name} (benchmark {bench.name} takes a {space.arch_type.__module__}."
                     f"{space.arch_type.__qualname__} or integer ids)")
  return space.to_id(arch)


def query(bench: Benchmark, arch, metric: str | Sequence[str] = "val_accuracy",
          dataset: str = "cifar10", seed=None, epoch: int | None = None):
  """Looks up ``metric`` for ``arch``: a gather, usable under ``jit`` and ``vmap``.

  Args:
    bench: the benchmark (a traced argument is fine).
    arch: an ``Arch`` (any batch shape) or dense ids ``int[...]``.
    metric: a metric the file declares and has (static; ``bench.metric_names()``), or a tuple or
      list of them: the result is then a dict ``{metric: f32[...]}`` (all resolved on the host
      before any gather, so one bad name fails the whole call).
    dataset: dataset or task name (static; aliases such as ``cifar10-valid``, ``imagenet``
      accepted).
    seed: None for the mean over the seeds that exist; else an int (array, may be traced) picking
      one training seed of per-seed metrics, taken modulo the number of seeds of that cell (NB201
      has 2 or 3 seeds per cell). Ignored by metrics that have no seed axis.
    epoch: None or 200 for the final value, 12 for NB201's 12-epoch schedule when present.

  Returns:
    ``f32[...]`` with the batch shape of ``arch`` (a dict of them for several metrics).
  """
  if isinstance(metric, (tuple, list)):
    for m in metric:
      resolve(bench, m, dataset, epoch)
    return {m: query(bench, arch, m, dataset, seed, epoch) for m in metric}
  key, d = resolve(bench, metric, dataset, epoch)
  ids = _ids(bench, arch)
  table = bench.tables[key][d]
  if table.ndim == 1:
    return table[ids]
  if seed is None:
    if key in bench.seed_means:
      return bench.seed_means[key][d][ids]
    return jnp.nanmean(table[ids], axis=-1)
  n = bench.num_seeds[d][ids]
  s = jnp.mod(jnp.asarray(seed, jnp.int32), jnp.maximum(n, 1))
  return jnp.take_along_axis(table[ids], s[..., None], axis=-1)[..., 0]


def best(bench: Benchmark, metric: str = "val_accuracy", dataset: str = "cifar10",
         epoch: int | None = None) -> tuple[float, int]:
  """Exhaustive search of the table (host): (best mean value, its dense id), in the metric's
  declared direction (the largest accuracy, the smallest latency)."""
  key, d = resolve(bench, metric, dataset, epoch)
  t = np.asarray(bench.tables[key][d])
  if t.ndim == 2:
    t = np.nanmean(t, axis=-1)
  i = int(np.nanargmax(t) if bench.higher_is_better(metric) else np.nanargmin(t))
  return float(t[i]), i


def _declared(arrays: Mapping[str, np.ndarray], name: str) -> dict:
  """The file's declarations, else those registered for ``name`` (files from before declarations),
  else none (every table then gets an undeclared direction)."""
  if "declarations" in arrays:
    return json.loads(str(arrays["declarations"]))
  from jaxnas import benchmarks as registry  # pylint: disable=import-outside-toplevel

  info = registry.BENCHMARKS.get(name, {})
  legacy = info.get("declarations")
  if legacy is None:
    return {"metrics": [], "space": name, "dataset_kind": "dataset"}
  return legacy


def from_arrays(arrays: Mapping[str, np.ndarray], source: str = "") -> Benchmark:
  """Builds a :class:`Benchmark` from the arrays of a saved table (see ``io.save``).

  Every floating array that is not a reserved member is a metric table (``"<metric>"`` or
  ``"<metric>@<epoch>"``); nothing is dropped. Declarations come from the file's
  ``declarations`` member (see :func:`declarations_json`); a table without one gets
  ``Metric(name, higher_is_better=None)``.
  """
  name = str(arrays["name"])
  datasets = tuple(str(x) for x in arrays["datasets"])
  tables = {k: jnp.asarray(v, jnp.float32) for k, v in arrays.items()
            if k not in RESERVED and np.issubdtype(np.asarray(v).dtype, np.floating)}
  decl = _declared(arrays, name)
  declared = [Metric.from_json(m) for m in decl.get("metrics", [])]
  bases = sorted({k.split("@")[0] for k in tables})
  declared += [Metric(b, higher_is_better=None) for b in bases if b not in {m.name for m in declared}]
  metrics = []
  for m in declared:
    lower = {int(k.split("@")[1]) for k in tables if k.startswith(m.name + "@")}
    final = {m.final_epoch} if m.name in tables and m.final_epoch is not None else set()
    per_seed = m.name in tables and np.ndim(arrays[m.name]) == 3
    metrics.append(dataclasses.replace(m, fidelities=tuple(sorted(lower | final)), per_seed=per_seed))
  present = {k.split("@")[0] for k in tables}
  metrics.sort(key=lambda m: m.name not in present)  # present first, stable declaration order
  official = arrays.get("official_to_id")
  seed_means = {k: jnp.asarray(np.nanmean(np.asarray(v, np.float32), axis=-1))
                for k, v in arrays.items() if k in tables and np.ndim(v) == 3}
  return Benchmark(
      tables=tables, seed_means=seed_means,
      num_seeds=jnp.asarray(arrays["num_seeds"], jnp.int32),
      iso_class=jnp.asarray(arrays["iso_class"], jnp.int32),
      official_to_id=None if official is None else jnp.asarray(official, jnp.int32),
      name=name,
      datasets=datasets,
      source=source or str(arrays.get("source", "")),
      metrics=tuple(metrics),
      space=str(decl.get("space", "")) if decl.get("space", "") != name else "",
      dataset_kind=str(decl.get("dataset_kind", "dataset")),
  )
