"""Partial tables: metric tables over only some architectures of a space, indexed by fingerprint.

A partial table is a :class:`~jaxnas.benchmarks.benchmark.Benchmark` with ``index_kind
"fingerprint"``: its file holds ``fingerprint_index: int32[N, W]``, the space's ``fingerprint`` of
each row, sorted lexicographically (signed int32 words) and unique, and its tables are
``f32[D, N]`` / ``f32[D, N, S]`` in that row order. A lookup inside jit compares the query with
the few rows of its bucket (:func:`~jaxnas.benchmarks.benchmark.bucket_index`, built at load from
the sorted index; 8 rows at most for 423,624 NB101 fingerprints), or binary-searches
(:func:`~jaxnas.benchmarks.benchmark.searchsorted_rows`) when the fingerprints are too skewed for
buckets; both find the same row. An architecture missing from the table
is absent (NaN, ``contains`` False), never another row. ``W`` is 1 for spaces whose
``fingerprint`` returns ``int32[...]``; a space with a wider hash (NB101's 128-bit MD5, cut to
e.g. 64 bits) returns ``int32[..., W]``.

>>> arrays = partial_from_dense(nb201_bench, space, ids[::7], name="nb201_every7th")
>>> io.save("sub.npz", arrays); bench = jaxnas.benchmarks.load("nb201_every7th", "sub.npz")
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax
import numpy as np

from jaxnas.benchmarks import benchmark as _b


def sort_rows(index: np.ndarray) -> np.ndarray:
  """The permutation sorting ``int32[N, W]`` rows lexicographically (first word first)."""
  index = np.asarray(index)
  return np.lexsort(index.T[::-1])


def fingerprints(space, archs) -> np.ndarray:
  """Host ``int32[N, W]`` fingerprints of a batch of architectures (``W = 1`` for an int32 one)."""
  if space.fingerprint is None:
    raise ValueError(f"search space {space.name} has no fingerprint; it cannot index a partial "
                     "table")
  fp = np.asarray(jax.jit(space.fingerprint)(archs)).astype(np.int32)
  return fp[:, None] if fp.ndim == 1 else fp


def partial_arrays(space, archs, tables: Mapping[str, np.ndarray], *, name: str,
                   datasets: Sequence[str], metrics: Sequence[_b.Metric], num_seeds=None,
                   dataset_kind: str = "dataset", dataset_aliases: Mapping[str, str] | None = None,
                   source: str = "") -> dict[str, np.ndarray]:
  """The arrays of a fingerprint-indexed table file (for ``io.save``).

  Args:
    space: the search space (its ``fingerprint`` indexes the rows).
    archs: ``Arch[N]``, the architectures the tables describe, in the tables' row order.
    tables: metric key -> ``f32[D, N]`` or ``f32[D, N, S]`` (rows in ``archs`` order).
    name, datasets, metrics, dataset_kind, dataset_aliases, source: what the file declares.
    num_seeds: ``int32[D, N]`` seeds per row for per-seed tables (None: 1 per row).

  Raises:
    ValueError: two architectures with the same fingerprint (one line, naming both rows).
  """
  fp = fingerprints(space, archs)
  n = fp.shape[0]
  order = sort_rows(fp)
  fp = fp[order]
  dup = np.nonzero(np.all(fp[1:] == fp[:-1], axis=1))[0]
  if dup.size:
    i = int(dup[0])
    raise ValueError(f"architectures {int(order[i])} and {int(order[i + 1])} have the same "
                     f"fingerprint in search space {space.name}: a partial table has one row each")
  out = {k: np.asarray(v, np.float32)[:, order] for k, v in tables.items()}
  for k, v in out.items():
    if v.shape[1] != n or v.shape[0] != len(datasets):
      raise ValueError(f"table {k!r} has shape {list(v.shape)}, expected [{len(datasets)}, {n}"
                       "(, seeds)]")
  seeds = (np.ones((len(datasets), n), np.int32) if num_seeds is None
           else np.asarray(num_seeds, np.int32)[:, order])
  out.update({
      "name": np.array(name), "datasets": np.array(list(datasets)), "source": np.array(source),
      "num_seeds": seeds, "index_kind": np.array("fingerprint"), "fingerprint_index": fp,
      "declarations": _b.declarations_json(metrics, space=space.name, dataset_kind=dataset_kind,
                                           dataset_aliases=dataset_aliases),
  })
  return out


def partial_from_dense(bench: _b.Benchmark, space, archs, *, name: str) -> dict[str, np.ndarray]:
  """The arrays of a partial table holding the rows of dense ``bench`` for ``archs`` (an
  ``Arch[N]`` or dense ids ``int[N]``): the same values, declarations and aliases."""
  if bench.partial:
    raise ValueError(f"benchmark {bench.name} is already partial")
  if isinstance(archs, space.arch_type):
    ids = np.asarray(space.to_id(archs))
  else:
    ids = np.asarray(archs, np.int64)
    archs = space.from_id(jax.numpy.asarray(ids, jax.numpy.int32))
  tables = {k: np.asarray(v)[:, ids] for k, v in bench.tables.items()}
  return partial_arrays(
      space, archs, tables, name=name, datasets=bench.datasets, metrics=bench.metrics,
      num_seeds=np.asarray(bench.num_seeds)[:, ids], dataset_kind=bench.dataset_kind,
      dataset_aliases=dict(bench.dataset_aliases), source=f"rows of {bench.name}: {bench.source}")
