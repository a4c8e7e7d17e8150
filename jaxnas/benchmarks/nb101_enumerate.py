"""Enumerates every unique NAS-Bench-101 cell: ``python -m jaxnas.benchmarks enumerate nasbench101
--out FILE.npz``.

Vectorised, no Python loop over labelled graphs:

1. all ``2**E`` strictly upper-triangular matrices on ``n`` vertices (``E = n(n-1)/2``; 2,097,152 for
   ``n = 7``) are pruned at once in numpy (vertices on an input->output path), the connected ones
   with at most 9 pruned edges kept, and written in NASLib's padded form (pruned vertices in
   order, the output moved to the last slot); equal padded matrices are merged;
2. each distinct padded matrix on ``V`` vertices gets its ``3**(V-2)`` interior labellings (dead
   slots are never labelled: pruning removes them);
3. every labelled graph is fingerprinted in batches by the jitted
   :func:`jaxnas.spaces.nb101.fingerprint`, and one representative kept per fingerprint;
4. :func:`jaxnas.spaces.nb101.module_hash` (MD5, host) runs on the representatives only. The check
   "fingerprint classes == module-hash classes" is: the representatives' module hashes are all
   distinct (no module-hash class is split), and a second fingerprint with independent mixing
   constants gives the same partition (a collision merging two classes would have to happen in
   both 64-bit hashes at once).

The file holds ``matrix uint8[N, 7, 7]``, ``ops int8[N, 7]`` (``OPS`` order: input,
conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3, output; NASLib padding), ``hash`` (``str[N]``, the
module hashes) and ``fingerprint`` (``int32[N, 2]``, of ``fingerprint_version``: the space's
``FINGERPRINT_VERSION``); rows sorted by fingerprint. For ``n = 7``,
N = 423,624 (Ying et al. 2019).
"""

from __future__ import annotations

import functools
import resource
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.spaces import nb101

BATCH = 1 << 15  # fingerprints per jitted call
SMALL_BATCH = 1 << 12  # inputs up to this size are padded to it (one compile for all small calls)


def _log(msg: str, quiet: bool) -> None:
  if not quiet:
    print(msg, file=sys.stderr, flush=True)


def padded_matrices(num_vertices: int = 7, max_edges: int = nb101.MAX_EDGES):
  """``(matrix uint8[M, 7, 7], num_v int8[M])``: the distinct valid pruned cells of the space of
  specs on ``num_vertices`` vertices, in NASLib's padded 7x7 form, with their vertex counts."""
  n = num_vertices
  rows, cols = np.triu_indices(n, 1)
  e = len(rows)
  codes = np.arange(1 << e, dtype=np.int64)
  bits = ((codes[:, None] >> np.arange(e - 1, -1, -1)) & 1).astype(bool)  # [2**E, E]
  m = np.zeros((len(codes), n, n), bool)
  m[:, rows, cols] = bits
  del bits
  fwd, bwd = nb101._reach(m, np)  # pylint: disable=protected-access
  keep = fwd & bwd
  pm = m & keep[:, :, None] & keep[:, None, :]
  del m, fwd, bwd
  ok = keep[:, 0] & (pm.sum((1, 2)) <= max_edges)
  pm, keep = pm[ok], keep[ok]
  num_v = keep.sum(1)
  # padded slot of each kept vertex: kept interior vertices in order 1.., the output at slot 6
  slot = np.cumsum(keep, 1) - 1
  slot[:, n - 1] = nb101.NUM_VERTICES - 1
  out = np.zeros((len(pm), nb101.NUM_VERTICES, nb101.NUM_VERTICES), np.uint8)
  b, i, j = np.nonzero(pm)
  out[b, slot[b, i], slot[b, j]] = 1
  flat = np.packbits(out.reshape(len(out), -1), axis=1)
  _, first = np.unique(flat, axis=0, return_index=True)
  first = np.sort(first)
  return out[first], num_v[first].astype(np.int8)


def labelled_cells(matrices: np.ndarray, num_v: np.ndarray):
  """``(matrix uint8[L, 7, 7], ops int8[L, 7])``: every interior labelling of each padded matrix
  (slots ``1..V-2`` over the 3 interior ops; unused slots conv3x3 as NASLib pads)."""
  ms, os_ = [], []
  for v in np.unique(num_v):
    sel = matrices[num_v == v]
    k = int(v) - 2
    labels = np.array(np.meshgrid(*[np.arange(1, 4)] * k, indexing="ij")).reshape(k, -1).T \
        if k else np.zeros((1, 0), np.int64)
    ops = np.full((len(labels), nb101.NUM_VERTICES), nb101.CONV3X3, np.int8)
    ops[:, 0], ops[:, -1] = nb101.INPUT, nb101.OUTPUT
    ops[:, 1:1 + k] = labels
    ms.append(np.repeat(sel, len(labels), axis=0))
    os_.append(np.tile(ops, (len(sel), 1)))
  return np.concatenate(ms), np.concatenate(os_)


@functools.lru_cache(maxsize=None)
def _jitted(alt: bool):
  """The fingerprint jitted with :func:`nb101.compiler_options` (512-bit vectors on CPU: ~1.9x
  faster, same values); built on first use, as the options depend on the backend."""
  return jax.jit(nb101.fingerprint_alt if alt else nb101.fingerprint,
                 compiler_options=nb101.compiler_options())


def fingerprints(matrix: np.ndarray, ops: np.ndarray, quiet: bool = True, alt: bool = False) -> np.ndarray:
  """``int32[L, 2]`` fingerprints of cells given as arrays, in jitted batches (of at most
  ``BATCH``; a smaller input is padded, so calls share a
  compile: sizes up to ``SMALL_BATCH`` share one). ``alt``: :func:`jaxnas.spaces.nb101.fingerprint_alt`."""
  fn = _jitted(bool(alt))
  return _fingerprints(fn, np.asarray(matrix), np.asarray(ops), quiet,
                       "second fingerprint" if alt else "fingerprint")


def _fingerprints(fn, matrix: np.ndarray, ops: np.ndarray, quiet: bool, what: str) -> np.ndarray:
  out = np.empty((len(ops), 2), np.int32)
  t0 = time.time()
  batch = SMALL_BATCH if len(ops) <= SMALL_BATCH else BATCH
  for s in range(0, len(ops), batch):
    e = min(s + batch, len(ops))
    mb = np.zeros((batch, 7, 7), np.int32)
    ob = np.zeros((batch, 7), np.int32)
    mb[:e - s], ob[:e - s] = matrix[s:e], ops[s:e]
    out[s:e] = np.asarray(fn(nb101.Arch(matrix=jnp.asarray(mb), ops=jnp.asarray(ob))))[:e - s]
    if (s // batch) % 8 == 0 or e == len(ops):
      _log(f"  {what}: {e:,}/{len(ops):,} ({time.time() - t0:.0f} s)", quiet)
  return out


def enumerate_cells(num_vertices: int = 7, quiet: bool = False, check_collisions: bool = True) -> dict:
  """Every unique cell of the NAS-Bench-101 space on at most ``num_vertices`` vertices (7: the
  full space, 423,624 cells; smaller values for tests). Returns the arrays of the file (see the
  module doc) plus ``stats`` (a dict: counts, seconds, the collision check)."""
  t0 = time.time()
  mats, num_v = padded_matrices(num_vertices)
  _log(f"{len(mats):,} distinct pruned matrices ({time.time() - t0:.1f} s)", quiet)
  matrix, ops = labelled_cells(mats, num_v)
  _log(f"{len(ops):,} labelled cells ({time.time() - t0:.1f} s)", quiet)
  fp = fingerprints(matrix, ops, quiet)
  uniq, first, inverse = np.unique(fp, axis=0, return_index=True, return_inverse=True)
  inverse = inverse.reshape(-1)
  _log(f"{len(uniq):,} fingerprint classes ({time.time() - t0:.1f} s)", quiet)
  stats = {"labelled_cells": int(len(ops)), "pruned_matrices": int(len(mats)),
           "fingerprint_classes": int(len(uniq))}
  if check_collisions:
    fp2 = fingerprints(matrix, ops, quiet, alt=True)
    u2, inv2 = np.unique(fp2, axis=0, return_inverse=True)
    inv2 = inv2.reshape(-1)
    pairs = np.unique(inverse.astype(np.int64) * len(u2) + inv2)
    stats["second_fingerprint_classes"] = int(len(u2))
    stats["same_partition"] = bool(len(pairs) == len(uniq) == len(u2))
  rep_m, rep_o = matrix[first], ops[first]
  hashes = np.array([nb101.module_hash(m, o) for m, o in zip(rep_m, rep_o)])
  stats["distinct_module_hashes"] = int(len(np.unique(hashes)))
  stats["hash_classes_equal"] = bool(stats["distinct_module_hashes"] == len(uniq)
                                     and stats.get("same_partition", True))
  stats["seconds"] = round(time.time() - t0, 1)
  stats["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
  _log(f"module hashes: {stats['distinct_module_hashes']:,} distinct "
       f"({time.time() - t0:.1f} s)", quiet)
  return {"matrix": rep_m.astype(np.uint8), "ops": rep_o.astype(np.int8), "hash": hashes,
          "fingerprint": uniq.astype(np.int32),
          "fingerprint_version": np.array(nb101.FINGERPRINT_VERSION), "stats": stats}


def main(out: str, num_vertices: int = 7, quiet: bool = False) -> int:
  """The CLI body: enumerate, check, write ``out`` (.npz); returns the exit status."""
  r = enumerate_cells(num_vertices, quiet)
  stats = r.pop("stats")
  ok = stats["hash_classes_equal"] and (num_vertices != 7 or stats["fingerprint_classes"] == nb101.NUM_CELLS)
  np.savez(out, **r)
  print(f"wrote {out}: {stats['fingerprint_classes']:,} unique cells from "
        f"{stats['labelled_cells']:,} labelled pruned cells; fingerprint classes == module-hash "
        f"classes: {stats['hash_classes_equal']}; {stats['seconds']} s, peak RSS "
        f"{stats['peak_rss_mb']} MB")
  return 0 if ok else 1
