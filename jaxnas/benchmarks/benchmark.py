"""Benchmarks as pytrees of arrays; a query is a gather (or, for a surrogate, a jitted predictor).

Three kinds share one interface (:func:`lookup` / :func:`query`, declared :class:`Metric` s):

* **dense** (``index_kind "id"``): a :class:`Benchmark` with one ``f32`` table per metric, indexed
  ``[dataset, arch_id]`` or, for per-seed metrics, ``[dataset, arch_id, seed]`` (missing seeds are
  NaN, ``num_seeds`` says how many there are); row = the space's enumeration id (``space.to_id``).
* **partial** (``index_kind "fingerprint"``): a :class:`Benchmark` over only some architectures of
  its space (NB101/NB301 labelled subsets). Its rows are sorted by ``index: int32[N, W]``, the
  space's ``fingerprint`` of each row (``W`` int32 words compared lexicographically as signed
  ints, so a 64-bit-ish hash is ``W = 2``; ``W = 1`` for a space whose ``fingerprint`` returns
  ``int32[...]``, wider spaces return ``int32[..., W]``). A lookup inside jit compares the query
  with the few rows of its bucket (:func:`bucket_index`, built at load), or binary-searches;
  an architecture missing from the table is **absent**: NaN for every metric, False from
  :func:`contains`, never another row.
* **surrogate** (:class:`jaxnas.benchmarks.surrogate.SurrogateBenchmark`): a query is a jittable
  function ``apply(params, space.encode(arch, encoding), metric_key, dataset_index)``.

``query`` / ``lookup`` resolve the (static) metric and dataset names on the host, then gather or
predict: they work under ``jit`` and ``vmap``. Pass the benchmark into jitted functions as an
argument (a closed-over table would be baked into the program as a constant).

Metrics are declared by the table file (:class:`Metric`: direction, unit, per seed or not, final
epoch and fidelities, provenance), so every floating table in a file survives loading (latency,
energy, FLOPs, ...). Files written before declarations existed (the NB201 tables) get the
declarations registered for their benchmark name in ``jaxnas.benchmarks.BENCHMARKS``; so do their
dataset aliases (``cifar10-valid`` -> ``cifar10``) and their official index order
(:meth:`Benchmark.official_order`), which a file can also declare itself.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any, Mapping, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import spaces

# NB201's metric vocabulary, kept for code that imported it; tables are no longer filtered by it.
METRICS = ("val_accuracy", "test_accuracy", "train_time", "latency", "params")
PER_SEED = ("val_accuracy",)
# Final epoch of tables built without any declaration (NB201's 200-epoch schedule, kept for code
# that imported them); a declared metric carries its own ``final_epoch`` and fidelities.
MAX_EPOCH = 200
FIDELITIES = (12, 200)
# Array members of a table file that are not metric tables.
RESERVED = ("name", "datasets", "source", "num_seeds", "iso_class", "official_to_id",
            "format_version", "declarations", "index_kind", "fingerprint_index")
# How a table's rows are found: "id" = the space's enumeration id (dense), "fingerprint" = a
# sorted fingerprint index (partial tables).
INDEX_KINDS = ("id", "fingerprint")


def __getattr__(name):  # PEP 562: NB201's aliases are declared by the registry, kept here by name
  if name == "DATASET_ALIASES":
    from jaxnas import benchmarks as registry  # pylint: disable=import-outside-toplevel
    return registry.DATASET_ALIASES
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def declarations_json(metrics, *, space: str, dataset_kind: str = "dataset",
                      dataset_aliases: Mapping[str, str] | None = None) -> np.ndarray:
  """The ``declarations`` member of a table file: its metrics, space, what a dataset axis is and,
  optionally, accepted dataset aliases (``{lower-case alias: dataset}``)."""
  d = {"metrics": [m.to_json() for m in metrics], "space": space, "dataset_kind": dataset_kind}
  if dataset_aliases:
    d["dataset_aliases"] = dict(dataset_aliases)
  return np.array(json.dumps(d, sort_keys=True))


@dataclasses.dataclass(frozen=True)
class OfficialOrder:
  """A source's official row order of an enumerable space's architectures, generic form (the
  registry may give a space-specific class, e.g. NB201's with ``to_index``/``from_index``).

  ``official_to_id[i]`` is the dense id of the source's row ``i``; ``id_to_official`` the inverse.
  """

  official_to_id: np.ndarray  # [N] int32
  id_to_official: np.ndarray  # [N] int32


class _Declared:
  """What every benchmark kind answers from its declarations (mixed into the pytree classes):
  metric lookup, directions, fidelities, datasets and aliases. Needs ``metric_keys()``, ``name``,
  ``metrics``, ``datasets``, ``dataset_kind``, ``dataset_aliases``, ``space``."""

  @property
  def space_name(self) -> str:
    """The registered search space of the architectures this benchmark answers for."""
    return self.space or self.name

  def metric_names(self) -> tuple[str, ...]:
    """Metrics with a table in this file, in declaration order."""
    keys = set(self.metric_keys())
    return tuple(m.name for m in self.metrics if m.name in keys)

  def metric(self, name: str) -> Metric:
    """The declaration of a metric present in the file; one-line ValueError otherwise, naming the
    metrics present (and how to add a declared but absent one)."""
    keys = self.metric_keys()
    for m in self.metrics:
      if m.name == name:
        if name in keys or any(k.startswith(name + "@") for k in keys):
          return m
        hint = f" ({m.hint})" if m.hint else ""
        raise ValueError(f"benchmark {self.name} has no {name!r}{hint}; tables present: "
                         f"{', '.join(keys)}")
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
    """Whether the benchmark has ``metric`` at ``epoch`` (None = final)."""
    return _key(metric, epoch, self.final_epoch(metric)) in self.metric_keys()

  def final_epoch(self, metric: str) -> int | None:
    """The epoch of ``metric``'s un-suffixed table as declared (None: the source's final epoch,
    unnamed); :data:`MAX_EPOCH` for a benchmark built without any declaration."""
    for m in self.metrics:
      if m.name == metric:
        return m.final_epoch
    return MAX_EPOCH

  _final_epoch = final_epoch  # the name older code called

  def fidelities(self, metric: str) -> tuple[int, ...]:
    """Every epoch ``metric`` is present at, ascending (from the declaration, else the keys)."""
    if self.metrics:
      return self.metric(metric).fidelities
    keys = self.metric_keys()
    return tuple(sorted({int(k.split("@")[1]) for k in keys if k.startswith(metric + "@")}
                        | ({MAX_EPOCH} if metric in keys else set())))

  def dataset_index(self, dataset: str) -> int:
    """Index of ``dataset`` (declared aliases accepted); ValueError naming the valid ones."""
    canon = dict(self.dataset_aliases).get(str(dataset).lower(), dataset)
    if canon not in self.datasets:
      raise ValueError(
          f"unknown {self.dataset_kind} {dataset!r} for benchmark {self.name}; valid: "
          f"{', '.join(self.datasets)}")
    return self.datasets.index(canon)


@flax.struct.dataclass
class Benchmark(_Declared):
  """A tabular benchmark: metric tables over the architectures of one search space, dense (every
  architecture, rows = ids) or partial (some architectures, rows found by fingerprint).

  Attributes:
    tables: metric key -> ``f32[D, N]`` or ``f32[D, N, S]`` (per-seed, NaN-padded). Keys are
      metric names (final epoch) and ``"<metric>@<epoch>"`` for lower fidelities
      (``val_accuracy@12``).
    num_seeds: ``int32[D, N]``, seeds present per (dataset, row) for per-seed tables.
    iso_class: ``int32[N]``, the smallest id in each architecture's isomorphism class (dense
      tables; a partial table's rows are already one per fingerprint: ``arange(N)``).
    index: None (dense), or ``int32[N, W]``: the fingerprint of each row, sorted lexicographically
      (partial tables).
    index_starts, index_window: the bucket index of ``index`` built at load
      (:func:`bucket_index`; None and 0 when the fingerprints are too skewed for one: binary
      search then).
    name: the benchmark name, static.
    datasets: dataset names in table order, static.
    source: provenance text, static.
    index_kind: ``"id"`` (dense) or ``"fingerprint"`` (partial), static.
    dataset_aliases: ``((lower-case alias, dataset), ...)``, static.
  """

  tables: dict[str, jax.Array]
  num_seeds: jax.Array  # [D, N] int32
  iso_class: jax.Array  # [N] int32
  official_to_id: Any = None  # [N] int32 or None: a source's official index -> dense id
  # per-seed metric key -> f32[D, N] mean over the seeds present (derived at load: a search
  # step then gathers one value instead of S values and a NaN-aware mean)
  seed_means: dict = flax.struct.field(default_factory=dict)
  index: Any = None  # [N, W] int32 sorted fingerprints (partial tables) or None (dense)
  # [2**k + 1] int32 or None: the bucket index of a partial table (:func:`bucket_index`), derived
  # at load; None: rows are found by binary search
  index_starts: Any = None
  name: str = flax.struct.field(pytree_node=False, default="nasbench201")
  datasets: tuple[str, ...] = flax.struct.field(pytree_node=False, default=())
  source: str = flax.struct.field(pytree_node=False, default="")
  # declared metrics (present tables first, in declaration order, then declared-but-absent ones)
  metrics: tuple[Metric, ...] = flax.struct.field(pytree_node=False, default=())
  space: str = flax.struct.field(pytree_node=False, default="")  # registry name ("" = name)
  dataset_kind: str = flax.struct.field(pytree_node=False, default="dataset")  # or "task"
  index_kind: str = flax.struct.field(pytree_node=False, default="id")
  # rows a bucket of ``index_starts`` holds at most (static: the window every lookup compares)
  index_window: int = flax.struct.field(pytree_node=False, default=0)
  dataset_aliases: tuple[tuple[str, str], ...] = flax.struct.field(pytree_node=False, default=())

  kind = "table"

  @property
  def num_archs(self) -> int:
    """Rows of the table (every architecture of the space for a dense table)."""
    return int(self.iso_class.shape[0])

  @property
  def num_rows(self) -> int:
    return self.num_archs

  @property
  def partial(self) -> bool:
    """Whether rows are found by fingerprint (some architectures may be absent)."""
    return self.index_kind == "fingerprint"

  def metric_keys(self) -> tuple[str, ...]:
    return tuple(sorted(self.tables))

  def official_order(self):
    """The source's official index order, when the table was built with it: the registry's
    ``official_order`` class for this benchmark (NB201's ``OfficialOrder``), else the
    generic :class:`OfficialOrder`; None without one."""
    if self.official_to_id is None:
      return None
    o2i = np.asarray(self.official_to_id)
    i2o = np.empty_like(o2i)
    i2o[o2i] = np.arange(o2i.shape[0], dtype=o2i.dtype)
    from jaxnas import benchmarks as registry  # pylint: disable=import-outside-toplevel
    cls = registry.BENCHMARKS.get(self.name, {}).get("official_order", OfficialOrder)
    return cls(official_to_id=o2i, id_to_official=i2o)


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
  if key not in bench.metric_keys():
    have = ", ".join(bench.metric_keys())
    fids = ", ".join(map(str, m.fidelities)) or "the final epoch only"
    hint = f" ({m.fidelity_hint})" if m.fidelity_hint else ""
    raise ValueError(f"benchmark {bench.name} has no {metric!r} at epoch {epoch} (fidelities "
                     f"present: {fids}); tables present: {have}{hint}")
  return key, d


def _check_arch(bench, space, arch) -> None:
  """Static check that ``arch`` is an architecture of ``space`` (a one-line ValueError)."""
  if not isinstance(arch, space.arch_type):
    t = type(arch)
    raise ValueError(f"a {t.__module__}.{t.__qualname__} is not an architecture of search space "
                     f"{space.name} (benchmark {bench.name} takes a {space.arch_type.__module__}."
                     f"{space.arch_type.__qualname__} or integer ids)")


def _is_ids(arch) -> bool:
  return isinstance(arch, (int, np.integer, np.ndarray, jax.Array, list, tuple))


def _space_of(bench, space=None):
  return space if space is not None else spaces.get_space(bench.space_name)


def _ids(bench: Benchmark, arch) -> jax.Array:
  """Dense row ids of ``arch``: ids pass through; an architecture goes through its space's
  ``to_id`` after a static check that it belongs to the benchmark's space."""
  if _is_ids(arch):
    return jnp.asarray(arch, jnp.int32)
  space = spaces.get_space(bench.space_name)
  _check_arch(bench, space, arch)
  return space.to_id(arch)


def _as_arch(bench, space, arch):
  """An architecture of ``space`` from ``arch`` (dense ids go through ``space.from_id``)."""
  if _is_ids(arch):
    if space.num_archs is None:
      raise ValueError(f"search space {space.name} has no enumeration: query benchmark "
                       f"{bench.name} with architectures, not integer ids")
    return space.from_id(jnp.asarray(arch, jnp.int32))
  _check_arch(bench, space, arch)
  return arch


def searchsorted_rows(index: jax.Array, query: jax.Array) -> jax.Array:
  """First row of the lexicographically sorted ``index: int32[N, W]`` that is >= ``query:
  int32[..., W]`` (``N`` if none): a fixed-length binary search, jittable and vmappable.
  Comparison is lexicographic over the ``W`` words as signed int32."""
  n, w = index.shape
  if w == 1:
    return jnp.searchsorted(index[:, 0], query[..., 0], side="left").astype(jnp.int32)
  lo = jnp.zeros(query.shape[:-1], jnp.int32)
  hi = jnp.full(query.shape[:-1], n, jnp.int32)
  for _ in range(max(1, int(n).bit_length())):  # ceil(log2(n + 1)) halvings
    mid = (lo + hi) // 2
    row = index[jnp.minimum(mid, n - 1)]  # [..., W]
    # row < query lexicographically: at the first differing word, row's is smaller
    diff = row != query
    first = jnp.argmax(diff, axis=-1)
    r = jnp.take_along_axis(row, first[..., None], -1)[..., 0]
    q = jnp.take_along_axis(query, first[..., None], -1)[..., 0]
    less = jnp.any(diff, -1) & (r < q) & (mid < hi)
    lo = jnp.where(less, mid + 1, lo)
    hi = jnp.where(less, hi, mid)
  return lo


# a bucket index is used when no bucket holds more rows than this (else: binary search)
MAX_WINDOW = 32


def bucket_index(index, max_window: int = MAX_WINDOW):
  """``(starts int32[2**k + 1], window)`` of a sorted fingerprint index ``int32[N, W]``, or None.

  Bucket ``b`` is the top ``k = N.bit_length()`` bits of the first word read as an unsigned
  number after flipping its sign bit (an order-preserving map of signed int32, so the sorted rows
  are grouped by bucket): its rows are ``starts[b] .. starts[b + 1] - 1``. Fingerprints are hashes
  (uniform words), so a bucket holds about one row and ``window`` (the largest bucket) is small:
  8 for 423,624 random NB101 fingerprints. A lookup (:func:`fingerprint_rows`) then compares the
  query with ``window`` consecutive rows from its bucket's start: one contiguous gather instead of
  ``log2 N`` dependent ones. Deterministic (a function of the sorted index alone), computed on
  the host with numpy (a few ms for 423,624 rows). None when ``window > max_window``
  (fingerprints that are not uniform, e.g. small integers): lookups then binary-search.
  """
  index = np.asarray(index)
  n = int(index.shape[0])
  k = max(1, n.bit_length())
  if k > 26:  # 2**k buckets: beyond 64 M rows use the binary search
    return None
  first = index[:, 0].astype(np.int32).view(np.uint32) ^ np.uint32(0x80000000)
  bucket = first >> np.uint32(32 - k)
  starts = np.searchsorted(bucket, np.arange(2**k + 1, dtype=np.uint32)).astype(np.int32)
  window = int(np.diff(starts).max()) if n else 0
  if window > max_window:
    return None
  return starts, window


def _bucket_rows(index, starts, window: int, query):
  """``(row, present)`` of ``query int32[..., W]`` by the bucket index (see :func:`bucket_index`)."""
  n, w = index.shape
  k = int(starts.shape[0] - 1).bit_length() - 1
  batch = query.shape[:-1]
  q = query.reshape(-1, w)
  word = jax.lax.bitcast_convert_type(q[:, 0], jnp.uint32) ^ jnp.uint32(0x80000000)
  b = (word >> jnp.uint32(32 - k)).astype(jnp.int32)
  # the window from the bucket's start, moved back to fit: rows outside the bucket cannot match
  start = jnp.minimum(starts[b], n - window)
  win = jax.vmap(lambda s: jax.lax.dynamic_slice(index, (s, 0), (window, w)))(start)  # [B, K, W]
  eq = jnp.all(win == q[:, None, :], -1)  # [B, K]; rows are unique: at most one True
  present = jnp.any(eq, -1)
  row = jnp.where(present, start + jnp.argmax(eq, -1).astype(jnp.int32), 0)
  return row.reshape(batch), present.reshape(batch)


def fingerprint_rows(bench: Benchmark, fp: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``(row int32[...], present bool[...])`` of fingerprints ``int32[..., W]`` in a partial table
  (absent: row 0, present False): the bucket index when the table has one, else a binary search;
  both give the same answer. Jittable."""
  if bench.index_starts is not None:
    return _bucket_rows(bench.index, bench.index_starts, bench.index_window, fp)
  r = searchsorted_rows(bench.index, fp)
  safe = jnp.minimum(r, bench.index.shape[0] - 1)
  present = (r < bench.index.shape[0]) & jnp.all(bench.index[safe] == fp, axis=-1)
  return jnp.where(present, safe, 0), present


def fingerprint_words(space, arch, width: int) -> jax.Array:
  """``space.fingerprint(arch)`` as ``int32[..., width]`` (a space whose fingerprint is one int32
  per architecture gets a trailing axis of 1)."""
  if space.fingerprint is None:
    raise ValueError(f"search space {space.name} has no fingerprint; a fingerprint-indexed table "
                     "needs one")
  fp = jnp.asarray(space.fingerprint(arch)).astype(jnp.int32)
  return fp[..., None] if width == 1 else fp


def rows(bench: Benchmark, space, arch) -> tuple[jax.Array, jax.Array]:
  """``(row int32[...], present bool[...])`` of ``arch`` in a table: the dense id (always present)
  or the fingerprint's row in a partial table (an absent architecture gets row 0, present False:
  use ``present``, never the row alone). Jittable."""
  if bench.index_kind == "id":
    if space is None or _is_ids(arch):
      ids = _ids(bench, arch)
    else:
      _check_arch(bench, space, arch)
      ids = space.to_id(arch)
    return ids, jnp.ones(ids.shape, bool)
  space = _space_of(bench, space)
  a = _as_arch(bench, space, arch)
  return fingerprint_rows(bench, fingerprint_words(space, a, bench.index.shape[1]))


def contains(bench, space, arch) -> jax.Array:
  """``bool[...]``: whether the benchmark answers for ``arch`` (``space`` None = the benchmark's
  registered space): a partial table's rows only; always True for a dense table or a surrogate.
  Jittable."""
  if bench.kind == "surrogate":
    space = _space_of(bench, space)
    x = jax.eval_shape(lambda a: space.encode(a, bench.encoding), _as_arch(bench, space, arch))
    return jnp.ones(x.shape[:-1], bool)
  return rows(bench, space, arch)[1]


def lookup(bench, space, arch, metric: str | Sequence[str] = "val_accuracy",
           dataset: str = "cifar10", *, seed=None, epoch: int | None = None):
  """``metric`` of ``arch`` (an architecture of ``space``, any batch shape) in any benchmark kind:
  the one function a search loop looks benchmarks up with. Jittable and vmappable.

  * dense table: a gather at ``space.to_id(arch)``;
  * partial table: ``space.fingerprint(arch)`` found in the sorted index (its bucket's rows, or a
    binary search: :func:`fingerprint_rows`), then a
    gather; an absent architecture gives NaN (see :func:`contains`);
  * surrogate: ``apply(params, space.encode(arch, encoding), key, dataset_index)``.

  Args: as :func:`query`; ``space`` None = the benchmark's registered space.
  """
  if isinstance(metric, (tuple, list)):
    for m in metric:
      resolve(bench, m, dataset, epoch)
    return {m: lookup(bench, space, arch, m, dataset, seed=seed, epoch=epoch) for m in metric}
  key, d = resolve(bench, metric, dataset, epoch)
  if bench.kind == "surrogate":
    space = _space_of(bench, space)
    return bench.predict(space, _as_arch(bench, space, arch), key, d)
  ids, present = rows(bench, space, arch)
  table = bench.tables[key][d]
  if table.ndim == 1:
    v = table[ids]
  elif seed is None:
    if key in bench.seed_means:
      v = bench.seed_means[key][d][ids]
    else:
      v = jnp.nanmean(table[ids], axis=-1)
  else:
    n = bench.num_seeds[d][ids]
    s = jnp.mod(jnp.asarray(seed, jnp.int32), jnp.maximum(n, 1))
    v = jnp.take_along_axis(table[ids], s[..., None], axis=-1)[..., 0]
  if bench.partial:
    v = jnp.where(present, v, jnp.nan)
  return v


def query(bench: Benchmark, arch, metric: str | Sequence[str] = "val_accuracy",
          dataset: str = "cifar10", seed=None, epoch: int | None = None):
  """Looks up ``metric`` for ``arch``: a gather (or a surrogate's prediction), usable under
  ``jit`` and ``vmap``. :func:`lookup` with the benchmark's registered space.

  Args:
    bench: the benchmark (a traced argument is fine): dense, partial or surrogate.
    arch: an ``Arch`` (any batch shape) or dense ids ``int[...]`` of the space's enumeration (a
      partial table or a surrogate converts them with ``space.from_id``).
    metric: a metric the file declares and has (static; ``bench.metric_names()``), or a tuple or
      list of them: the result is then a dict ``{metric: f32[...]}`` (all resolved on the host
      before any gather, so one bad name fails the whole call).
    dataset: dataset or task name (static; declared aliases such as ``cifar10-valid``,
      ``imagenet`` accepted).
    seed: None for the mean over the seeds that exist; else an int (array, may be traced) picking
      one training seed of per-seed metrics, taken modulo the number of seeds of that cell (NB201
      has 2 or 3 seeds per cell). Ignored by metrics that have no seed axis and by surrogates.
    epoch: None or the final epoch for the final value, 12 for NB201's 12-epoch schedule when
      present.

  Returns:
    ``f32[...]`` with the batch shape of ``arch`` (a dict of them for several metrics); NaN for an
    architecture a partial table does not have.
  """
  return lookup(bench, None, arch, metric, dataset, seed=seed, epoch=epoch)


def best(bench: Benchmark, metric: str = "val_accuracy", dataset: str = "cifar10",
         epoch: int | None = None) -> tuple[float, int]:
  """Exhaustive search (host): (best mean value, its dense id; for a partial table its row), in
  the metric's declared direction (the largest accuracy, the smallest latency). A surrogate is
  searched over its space's enumeration (``all_archs``)."""
  if bench.kind == "surrogate":
    space = _space_of(bench)
    if space.all_archs is None:
      raise ValueError(f"search space {space.name} cannot be enumerated: no exhaustive best for "
                       f"surrogate benchmark {bench.name}")
    t = np.asarray(lookup(bench, space, space.all_archs(), metric, dataset, epoch=epoch))
  else:
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
  ``Metric(name, higher_is_better=None)``. The ``index_kind`` member (absent: ``"id"``) says how
  rows are found; a ``"fingerprint"`` table has ``fingerprint_index: int32[N, W]`` sorted
  lexicographically and unique (checked here, one-line ValueError).
  """
  name = str(arrays["name"])
  index_kind = str(arrays.get("index_kind", "id"))
  if index_kind not in INDEX_KINDS:
    raise ValueError(f"benchmark {name} declares index kind {index_kind!r}; valid: "
                     f"{', '.join(INDEX_KINDS)}")
  index = None
  if index_kind == "fingerprint":
    if "fingerprint_index" not in arrays:
      raise ValueError(f"benchmark {name} is fingerprint-indexed but has no fingerprint_index")
    index = check_index(arrays["fingerprint_index"], name)
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
  with warnings.catch_warnings():  # a row without any seed (partial tables) is NaN, as intended
    warnings.simplefilter("ignore", RuntimeWarning)
    seed_means = {k: jnp.asarray(np.nanmean(np.asarray(v, np.float32), axis=-1))
                  for k, v in arrays.items() if k in tables and np.ndim(v) == 3}
  buckets = None if index is None else bucket_index(index)
  iso = arrays.get("iso_class")
  if iso is None:  # a partial table: one row per fingerprint, each its own class
    iso = np.arange(np.asarray(arrays["num_seeds"]).shape[-1], dtype=np.int32)
  return Benchmark(
      tables=tables, seed_means=seed_means,
      num_seeds=jnp.asarray(arrays["num_seeds"], jnp.int32),
      iso_class=jnp.asarray(iso, jnp.int32),
      official_to_id=None if official is None else jnp.asarray(official, jnp.int32),
      name=name,
      datasets=datasets,
      source=source or str(arrays.get("source", "")),
      metrics=tuple(metrics),
      space=str(decl.get("space", "")) if decl.get("space", "") != name else "",
      dataset_kind=str(decl.get("dataset_kind", "dataset")),
      index=None if index is None else jnp.asarray(index),
      index_starts=None if buckets is None else jnp.asarray(buckets[0]),
      index_window=0 if buckets is None else buckets[1],
      index_kind=index_kind,
      dataset_aliases=_aliases(decl, name),
  )


def _aliases(decl: Mapping, name: str) -> tuple[tuple[str, str], ...]:
  """The file's declared dataset aliases, else the registry's for ``name``; every dataset is
  its own alias, in lower case."""
  aliases = decl.get("dataset_aliases")
  if aliases is None:
    from jaxnas import benchmarks as registry  # pylint: disable=import-outside-toplevel
    aliases = registry.BENCHMARKS.get(name, {}).get("dataset_aliases", {})
  return tuple(sorted((str(k).lower(), str(v)) for k, v in dict(aliases).items()))


def check_index(index, name: str = "") -> np.ndarray:
  """A fingerprint index as ``int32[N, W]`` (a 1-D one gets ``W = 1``), checked sorted
  lexicographically (signed int32 words) and without duplicates; one-line ValueError otherwise."""
  index = np.asarray(index)
  if index.ndim == 1:
    index = index[:, None]
  if index.ndim != 2 or index.shape[0] < 1 or not np.issubdtype(index.dtype, np.integer):
    raise ValueError(f"benchmark {name}: fingerprint_index must be int32[N, W] with N >= 1, got "
                     f"{index.dtype}{list(index.shape)}")
  index = index.astype(np.int32)
  if index.shape[0] > 1:
    a, b = index[:-1], index[1:]
    neq = a != b
    first = np.argmax(neq, axis=1)
    rr = np.arange(len(a))
    ok = neq.any(1) & (a[rr, first] < b[rr, first])
    if not ok.all():
      i = int(np.argmin(ok))
      what = "duplicate" if not neq[i].any() else "unsorted"
      raise ValueError(f"benchmark {name}: fingerprint_index rows {i} and {i + 1} are {what}; "
                       "rows must be sorted lexicographically and unique (use "
                       "jaxnas.benchmarks.partial.partial_arrays)")
  return index
