"""Tabular benchmarks as pytrees of dense arrays; a query is a gather.

A :class:`Benchmark` holds one ``f32`` table per metric, indexed ``[dataset, arch_id]`` or, for
per-seed metrics, ``[dataset, arch_id, seed]`` (missing seeds are NaN, ``num_seeds`` says how many
there are). ``query`` resolves the (static) metric and dataset names on the host, then gathers: it
works under ``jit`` and ``vmap``. Pass the benchmark into jitted functions as an argument (a
closed-over table would be baked into the program as a constant).
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

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
METRICS = ("val_accuracy", "test_accuracy", "train_time", "latency", "params")
PER_SEED = ("val_accuracy",)
MAX_EPOCH = 200
FIDELITIES = (12, 200)


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

  @property
  def num_archs(self) -> int:
    return int(self.iso_class.shape[0])

  def metric_keys(self) -> tuple[str, ...]:
    return tuple(sorted(self.tables))

  def has(self, metric: str, epoch: int | None = None) -> bool:
    """Whether the table has ``metric`` at ``epoch`` (None = final)."""
    return _key(metric, epoch) in self.tables

  def dataset_index(self, dataset: str) -> int:
    """Index of ``dataset`` (aliases accepted); ValueError naming the valid ones."""
    canon = DATASET_ALIASES.get(str(dataset).lower(), dataset)
    if canon not in self.datasets:
      raise ValueError(
          f"unknown dataset {dataset!r} for benchmark {self.name}; valid: {', '.join(self.datasets)}")
    return self.datasets.index(canon)

  def official_order(self) -> nb201.OfficialOrder | None:
    """The official NB201 index order, when the table was built with it."""
    if self.official_to_id is None:
      return None
    o2i = np.asarray(self.official_to_id)
    i2o = np.empty_like(o2i)
    i2o[o2i] = np.arange(o2i.shape[0], dtype=o2i.dtype)
    return nb201.OfficialOrder(official_to_id=o2i, id_to_official=i2o)


def _key(metric: str, epoch: int | None) -> str:
  if epoch is None or epoch == MAX_EPOCH:
    return metric
  return f"{metric}@{int(epoch)}"


def resolve(bench: Benchmark, metric: str, dataset: str, epoch: int | None = None) -> tuple[str, int]:
  """Checks a (metric, dataset, epoch) request on the host; returns (table key, dataset index).

  Raises a one-line ValueError that names the bad value and the valid ones, never substituting
  another metric (NASLib returned validation accuracy when asked for NB201 test accuracy).
  """
  if metric not in METRICS:
    raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
  d = bench.dataset_index(dataset)
  key = _key(metric, epoch)
  if key not in bench.tables:
    have = ", ".join(bench.metric_keys())
    if epoch not in (None, MAX_EPOCH) and metric in bench.tables:
      raise ValueError(
          f"benchmark {bench.name} has no {metric!r} at epoch {epoch}; tables present: {have}"
          " (build with --hp12-csv for the 12-epoch fidelity)")
    hint = " (build with --test-accuracy-csv to add it)" if metric == "test_accuracy" else ""
    raise ValueError(f"benchmark {bench.name} has no {metric!r}{hint}; tables present: {have}")
  return key, d


def _ids(arch) -> jax.Array:
  if isinstance(arch, nb201.Arch):
    return nb201.to_id(arch)
  return jnp.asarray(arch, jnp.int32)


def query(bench: Benchmark, arch, metric: str = "val_accuracy", dataset: str = "cifar10",
          seed=None, epoch: int | None = None) -> jax.Array:
  """Looks up ``metric`` for ``arch``: a gather, usable under ``jit`` and ``vmap``.

  Args:
    bench: the benchmark (a traced argument is fine).
    arch: an ``Arch`` (any batch shape) or dense ids ``int[...]``.
    metric: one of ``METRICS`` (static).
    dataset: dataset name (static; aliases such as ``cifar10-valid``, ``imagenet`` accepted).
    seed: None for the mean over the seeds that exist; else an int (array, may be traced) picking
      one training seed of per-seed metrics, taken modulo the number of seeds of that cell (NB201
      has 2 or 3 seeds per cell). Ignored by metrics that have no seed axis.
    epoch: None or 200 for the final value, 12 for NB201's 12-epoch schedule when present.

  Returns:
    ``f32[...]`` with the batch shape of ``arch``.
  """
  key, d = resolve(bench, metric, dataset, epoch)
  ids = _ids(arch)
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
  """Exhaustive search of the table (host): (best mean value, its dense id)."""
  key, d = resolve(bench, metric, dataset, epoch)
  t = np.asarray(bench.tables[key][d])
  if t.ndim == 2:
    t = np.nanmean(t, axis=-1)
  i = int(np.nanargmax(t))
  return float(t[i]), i


def from_arrays(arrays: Mapping[str, np.ndarray], source: str = "") -> Benchmark:
  """Builds a :class:`Benchmark` from the arrays of a saved table (see ``io.save``)."""
  datasets = tuple(str(x) for x in arrays["datasets"])
  tables = {}
  for k, v in arrays.items():
    base = k.split("@")[0]
    if base in METRICS:
      tables[k] = jnp.asarray(v, jnp.float32)
  official = arrays.get("official_to_id")
  seed_means = {k: jnp.asarray(np.nanmean(np.asarray(v, np.float32), axis=-1))
                for k, v in arrays.items() if k.split("@")[0] in PER_SEED and np.ndim(v) == 3}
  return Benchmark(
      tables=tables, seed_means=seed_means,
      num_seeds=jnp.asarray(arrays["num_seeds"], jnp.int32),
      iso_class=jnp.asarray(arrays["iso_class"], jnp.int32),
      official_to_id=None if official is None else jnp.asarray(official, jnp.int32),
      name=str(arrays["name"]),
      datasets=datasets,
      source=source or str(arrays.get("source", "")),
  )
