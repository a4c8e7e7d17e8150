"""The NAS-Bench-101 cell search space (Ying et al., ICML 2019), as NASLib searches it.

A cell ("module") is a DAG on at most 7 vertices: a strictly upper-triangular 0/1 adjacency matrix
(row = source, column = destination) and one label per vertex. An architecture is the fixed-shape
pytree :class:`Arch` with ``matrix: int32[..., 7, 7]`` and ``ops: int32[..., 7]`` (a leading batch
axis is allowed everywhere). Conventions:

* **op labels** (``OPS``): ``0 input, 1 conv3x3-bn-relu, 2 conv1x1-bn-relu, 3 maxpool3x3,
  4 output``. Vertex 0 is always ``input``, vertex 6 always ``output``, vertices 1..5 interior.
* **raw vs pruned**: like NASLib, an architecture is a raw 7x7 spec; it may hold vertices that are
  not on any input->output path. Pruning (:func:`prune`) keeps the vertices reachable from the
  input *and* reaching the output. The spec is valid (:func:`is_valid`) iff the input reaches the
  output and the pruned graph has at most 9 edges (at most 7 vertices holds by shape).
* **padding** (:func:`pad`, NASLib's ``convert_to_cell``): a pruned spec on ``V < 7`` vertices is
  written into the 7x7 form by keeping vertices ``0..V-2`` in place, moving the output to vertex 6,
  and labelling the unused slots ``V-1..5`` ``conv3x3-bn-relu`` with no edges. The enumeration file
  and the table builder store cells in this form.
* **module hash** (:func:`module_hash`, host): NAS-Bench-101's ``hash_module`` text (MD5 of
  iterated in/out-neighbourhood hashes of the pruned graph), the key of the official tables.
* **fingerprint** (:func:`fingerprint`, jittable): ``int32[..., 2]``, the same iterated
  neighbourhood hashing with 2 x 32-bit integer mixing instead of MD5; equal iff the module hashes
  are equal (checked on all 423,624 cells by ``python -m jaxnas.benchmarks enumerate nasbench101``).
* **ids** (:func:`to_id`): a raw-spec code (21 edge bits, then the 5 interior ops in base 3):
  a bijection of raw specs into ``[0, 2**21 * 3**5)``, *not* a table row (``num_archs`` is None:
  the 423,624 cells are listed only by the enumeration file, :func:`load_enumeration`).
* **NASLib's 56-int tuple** (:func:`to_naslib` / :func:`from_naslib`): 49 matrix entries row-major,
  then 7 op codes over ``[input, output, maxpool3x3, conv1x1-bn-relu, conv3x3-bn-relu]``.
* **official spec** (:func:`to_spec` / :func:`from_spec`): ``(matrix, [op strings])``, pruned or
  not, square with side 2..7.

Sampling, mutation and the neighbourhood follow NASLib (which follows the NAS-Bench-101 notebook):
sample = 21 fair edge bits and uniform interior ops, rejected until valid; mutate = flip each edge
with probability 1/7 and resample each interior op (to one of the two others) with probability
1/3 (NASLib's ``1 / len(OPS)``; the NAS-Bench-101 notebook's 1/5 is not NASLib's), retried until
valid; neighbours = each other op of a vertex on
an input->output path, each edge on such a path removed, each absent edge added that would lie on
one; only valid ones (``neighbours_masked``: a fixed buffer of K = 31 and a mask).

References:
  Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture Search", ICML 2019.
  White et al., "BANANAS", AAAI 2021 (path encoding); NASLib (Ruchte et al. 2020).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import pathlib
from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng
from jaxnas.spaces.base import SearchSpace

NAME = "nasbench101"
NUM_VERTICES = 7
MAX_EDGES = 9
OP_SPOTS = NUM_VERTICES - 2  # interior vertices 1..5
OPS: tuple[str, ...] = ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")
INPUT, CONV3X3, CONV1X1, MAXPOOL3X3, OUTPUT = range(5)
INTERIOR_OPS = (CONV3X3, CONV1X1, MAXPOOL3X3)
# the 21 upper-triangular entries, row-major: (0,1), (0,2), ..., (5,6)
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(NUM_VERTICES)
                                           for j in range(i + 1, NUM_VERTICES))
NUM_EDGE_SLOTS = len(EDGES)  # 21
NUM_RAW = 2**NUM_EDGE_SLOTS * 3**OP_SPOTS  # raw spec codes (to_id range)
NUM_CELLS = 423_624  # unique valid cells (module-hash classes), Ying et al. 2019

# NASLib's op codes (56-int tuple): [input, output, maxpool3x3, conv1x1-bn-relu, conv3x3-bn-relu]
NASLIB_OPS: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
_TO_NASLIB = np.array([NASLIB_OPS.index(o) for o in OPS])
_FROM_NASLIB = np.array([OPS.index(o) for o in NASLIB_OPS])
# NAS-Bench-101's hash labels: canonical op order index, input -1, output -2
_HASH_LABEL = np.array([-1, 0, 1, 2, -2])

# Mutation rates of NASLib's NB101 ``mutate``: ``1 / NUM_VERTICES`` per edge, ``1 / len(OPS)`` per
# interior op with its 3 ops (the NAS-Bench-101 notebook uses ``1 / OP_SPOTS`` = 1/5 for ops)
EDGE_MUTATION_PROB = 1.0 / NUM_VERTICES
OP_MUTATION_PROB = 1.0 / len(INTERIOR_OPS)
NUM_NEIGHBOURS = 2 * OP_SPOTS + NUM_EDGE_SLOTS  # 31: 2 other ops per interior vertex, 21 edge flips

_ROWS = np.array([i for i, _ in EDGES])
_COLS = np.array([j for _, j in EDGES])


@flax.struct.dataclass
class Arch:
  """A NAS-Bench-101 cell: ``matrix: int32[..., 7, 7]`` (strictly upper-triangular 0/1, row =
  source) and ``ops: int32[..., 7]`` (labels in ``OPS`` order; 0 input first, 4 output last)."""

  matrix: jax.Array  # [..., 7, 7] int32
  ops: jax.Array  # [..., 7] int32

  @property
  def shape(self) -> tuple[int, ...]:
    """The batch shape."""
    return tuple(self.ops.shape[:-1])

  def __getitem__(self, idx):
    return Arch(matrix=self.matrix[idx], ops=self.ops[idx])


# ----------------------------------------------------------------------------- pruning, validity


def _as_arch(arch) -> Arch:
  if not isinstance(arch, Arch):
    t = type(arch)
    raise ValueError(f"a {t.__module__}.{t.__qualname__} is not an architecture of search space "
                     f"{NAME} (expected {__name__}.Arch with matrix: int32[..., 7, 7] and ops: "
                     f"int32[..., 7])")
  return arch


def _reach(m, xp=jnp):
  """``(fwd, bwd) bool[..., 7]``: reachable from the input / reaching the output (upper-triangular
  ``m``, so 6 relaxation steps suffice). ``xp``: jax.numpy (jittable) or numpy (host)."""
  n = m.shape[-1]
  fwd = xp.broadcast_to(xp.arange(n) == 0, m.shape[:-1])
  bwd = xp.broadcast_to(xp.arange(n) == n - 1, m.shape[:-1])
  for _ in range(n - 1):
    fwd = fwd | xp.any(fwd[..., :, None] & m, axis=-2)
    bwd = bwd | xp.any(m & bwd[..., None, :], axis=-1)
  return fwd, bwd


def prune(arch) -> tuple[jax.Array, jax.Array]:
  """``(matrix bool[..., 7, 7], keep bool[..., 7])``: the pruned adjacency (edges between kept
  vertices only; same 7 slots) and the kept vertices (on an input->output path). Jittable. When
  the input does not reach the output, ``keep`` is all False (the spec is invalid)."""
  a = _as_arch(arch)
  m = jnp.triu(jnp.asarray(a.matrix) != 0, 1)
  fwd, bwd = _reach(m)
  keep = fwd & bwd
  return m & keep[..., :, None] & keep[..., None, :], keep


def is_valid(arch) -> jax.Array:
  """``bool[...]``: 0/1 strictly upper-triangular matrix, ops ``input, 3 interior ops in 1..3,
  output`` (raw values, no modulo), the input reaches the output and the pruned cell has at most 9
  edges. Jittable; a wrong shape or dtype gives False, never an error."""
  a = _as_arch(arch)
  m, ops = jnp.asarray(a.matrix), jnp.asarray(a.ops)
  n = NUM_VERTICES
  if (m.ndim < 2 or m.shape[-2:] != (n, n) or ops.ndim < 1 or ops.shape[-1] != n
      or m.shape[:-2] != ops.shape[:-1] or not jnp.issubdtype(m.dtype, jnp.integer)
      or not jnp.issubdtype(ops.dtype, jnp.integer)):
    batch = ops.shape[:-1] if ops.ndim >= 1 else ()
    return jnp.zeros(batch, bool)
  return _is_valid_arrays(m, ops)


@jax.jit
def _is_valid_arrays(m, ops):
  """The traced part of :func:`is_valid`. Jitted as one function because host code calls
  ``is_valid`` eagerly on batches of every shape (checks, tests): op-by-op it costs ~60 primitive
  compiles (1.6 CPU-s) per new shape, as one function ~0.5 CPU-s; inside a caller's jit it is
  inlined like any function."""
  n = NUM_VERTICES
  binary = jnp.all((m == 0) | (m == 1), axis=(-2, -1))
  upper = jnp.all(jnp.where(np.triu(np.ones((n, n), bool), 1), True, m == 0), axis=(-2, -1))
  interior = ops[..., 1:-1]
  labels = ((ops[..., 0] == INPUT) & (ops[..., -1] == OUTPUT)
            & jnp.all((interior >= CONV3X3) & (interior <= MAXPOOL3X3), axis=-1))
  pm, keep = prune(Arch(matrix=jnp.where(binary[..., None, None] & upper[..., None, None], m, 0),
                        ops=ops))
  connected = keep[..., 0]
  few = jnp.sum(pm, axis=(-2, -1)) <= MAX_EDGES
  return binary & upper & labels & connected & few


def check(arch) -> tuple[np.ndarray, np.ndarray]:
  """Host-side validation: ``(matrix np.int32[..., 7, 7], ops np.int32[..., 7])`` or a one-line
  ValueError naming what is wrong and what is valid."""
  a = _as_arch(arch)
  m, ops = np.asarray(a.matrix), np.asarray(a.ops)
  if m.ndim < 2 or m.shape[-2:] != (7, 7) or ops.ndim < 1 or ops.shape[-1] != 7:
    raise ValueError(f"{NAME} architecture needs matrix [..., 7, 7] and ops [..., 7], got shapes "
                     f"{m.shape} and {ops.shape}")
  if m.shape[:-2] != ops.shape[:-1]:
    raise ValueError(f"{NAME} matrix batch {m.shape[:-2]} and ops batch {ops.shape[:-1]} differ")
  if not (np.issubdtype(m.dtype, np.integer) or m.dtype == bool) or not np.issubdtype(ops.dtype, np.integer):
    raise ValueError(f"{NAME} matrix and ops must be integers, got {m.dtype} and {ops.dtype}")
  bad = ops[(ops < 0) | (ops >= len(OPS))]
  if bad.size:
    raise ValueError(f"{NAME} op label {int(bad.flat[0])} out of range: valid are 0..4 = "
                     f"{', '.join(OPS)}")
  if not ((ops[..., 0] == INPUT).all() and (ops[..., -1] == OUTPUT).all()):
    raise ValueError(f"{NAME} ops must start with input (0) and end with output (4), got "
                     f"{ops.reshape(-1, 7)[0].tolist()}")
  interior = ops[..., 1:-1]
  if not ((interior >= CONV3X3) & (interior <= MAXPOOL3X3)).all():
    raise ValueError(f"{NAME} interior ops must be 1..3 (conv3x3-bn-relu, conv1x1-bn-relu, "
                     f"maxpool3x3), got {ops.reshape(-1, 7)[0].tolist()}")
  if not ((m == 0) | (m == 1)).all():
    raise ValueError(f"{NAME} adjacency entries must be 0 or 1")
  if np.tril(m).any():
    raise ValueError(f"{NAME} adjacency must be strictly upper-triangular (edges i -> j, i < j)")
  mb = np.triu(m != 0, 1)
  fwd, bwd = _reach(mb, np)
  keep = fwd & bwd
  pm = mb & keep[..., :, None] & keep[..., None, :]
  if not keep[..., 0].all():
    raise ValueError(f"{NAME} cell is invalid: the input does not reach the output")
  edges = pm.sum((-2, -1))
  if (edges > MAX_EDGES).any():
    raise ValueError(f"{NAME} cell is invalid: {int(edges.max())} edges after pruning, at most "
                     f"{MAX_EDGES} allowed")
  return m.astype(np.int32), ops.astype(np.int32)


# ----------------------------------------------------------------------------- fingerprint

# Stamped into every fingerprint-indexed NB101 table (``fingerprint_version``) and checked when one
# loads: a table whose rows were hashed by another version of :func:`fingerprint` would find no
# architecture at all (every query absent), silently. Change it whenever the values change.
# v1 ("nb101-multiset-sum-v1"): MurmurHash3-style word hashing over [..., 7] / [..., 7, 7] arrays
# (0.29 M fingerprints per CPU-s). v2: the same neighbourhood hashing on bit-packed successor
# masks, one uint32 array per vertex and lane, cheaper mixing (see :func:`_fingerprint`).
FINGERPRINT_VERSION = "nb101-bitmask-v2"

# two independent lanes (32 bits each: 64 bits per vertex and per cell); per lane: the seed of the
# initial label hash, the multipliers of the self/in/out terms, the neighbour-mix multiplier
_LANES = ((0x9747B28C, 0xCC9E2D51, 0x1B873593, 0xE6546B64, 0x85EBCA6B),
          (0x3C6EF372, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1))
# independent constants: the enumeration's collision check compares the two partitions
_ALT_LANES = ((0x2545F491, 0x9E3779B1, 0xD3A2646D, 0xFD7046C5, 0xB55A4F09),
              (0x7FEB352D, 0x846CA68B, 0x68E31DA5, 0xA0761D65, 0xE7037ED1))
_MIX1, _MIX2 = 0x85EBCA6B, 0xC2B2AE35  # MurmurHash3's fmix32


def _u32(x):
  return jnp.uint32(x)


def _fmix(h):
  """MurmurHash3's 32-bit finaliser (a bijection of uint32 with full avalanche)."""
  h = h ^ (h >> 16)
  h = h * _u32(_MIX1)
  h = h ^ (h >> 13)
  h = h * _u32(_MIX2)
  return h ^ (h >> 16)


def _edge_code(matrix) -> jax.Array:
  """``uint32[...]``: the 21 strictly upper entries as bits (bit ``k``: ``EDGES[k]``; entries
  below the diagonal are ignored, like :func:`prune`'s ``triu``). One elementwise expression
  over the 21 entries: a ``[..., 7, 7] -> [..., 7]`` reduction is 5x slower on CPU."""
  m = jnp.asarray(matrix)
  m = m.reshape(m.shape[:-2] + (NUM_VERTICES * NUM_VERTICES,))
  return sum(((m[..., i * NUM_VERTICES + j] != 0).astype(jnp.uint32) << _u32(k)
              for k, (i, j) in enumerate(EDGES)), _u32(0))


def _succ_masks(code) -> list:
  """Vertex ``i``'s successors as a 7-bit mask (bit ``j``: edge ``i -> j``) from
  :func:`_edge_code`: a list of 7 ``uint32[...]``."""
  n, out, k = NUM_VERTICES, [], 0
  for i in range(n):
    w = n - 1 - i  # row i's entries j = i+1..6 are bits k..k+w-1 of the code
    out.append(((code >> _u32(k)) & _u32((1 << w) - 1)) << _u32(i + 1))
    k += w
  return out


def _keep_mask(s):
  """The kept vertices (on an input->output path) as a 7-bit ``uint32`` mask: one forward pass
  (reachable from the input) and one reverse-topological pass (reaching the output); the matrix is
  upper-triangular, so each vertex is final when visited. 0 when the input misses the output."""
  n = NUM_VERTICES
  fwd = jnp.ones_like(s[0])
  for i in range(n - 1):
    fwd = fwd | jnp.where((fwd >> _u32(i)) & _u32(1) != 0, s[i], _u32(0))
  bwd = jnp.full_like(s[0], 1 << (n - 1))
  for i in range(n - 2, -1, -1):
    bwd = bwd | ((s[i] & bwd) != 0).astype(jnp.uint32) << _u32(i)
  return fwd & bwd


def _lane_words(code, ops, lane, rounds: int | None = None) -> jax.Array:
  """One 32-bit lane of NAS-Bench-101's ``hash_module`` with integer mixing (see
  :func:`fingerprint`), ``uint32[...]``, of the edges ``code`` (:func:`_edge_code`) and ``ops``;
  ``lane``: ``uint32[5]`` (seed, self, in, out and neighbour multipliers):

  * the pruned graph as successor masks ``p[i]`` (one ``uint32[...]`` per vertex);
  * each vertex starts from a hash of ``(out-degree, in-degree, label)``;
  * a round replaces each vertex's hash ``h`` by ``fmix(a h + b (sum of h_u over in-neighbours
    u) + c (sum of h_w over out-neighbours w))`` (sums mod 2**32: order-free like the original's
    sorted concatenation, no sort; ``a, b, c`` odd); a cell with ``V`` kept vertices runs ``V``
    rounds, as the original (``rounds``: a fixed count instead, for experiments);
  * the cell hash mixes ``V`` with the sum of ``g(h_v) = fmix(d h_v + k)`` over the kept
    vertices.

  Everything is elementwise on ``uint32[...]`` arrays (7 per vertex quantity): XLA fuses it into
  one vectorised loop over the batch, with no ``[..., 7]`` minor axes and no gathers.
  """
  n = NUM_VERTICES
  seed, c_self, c_in, c_out, c_g = (lane[k] for k in range(5))
  s = _succ_masks(code)
  keep = _keep_mask(s)
  kbit = [(keep >> _u32(i)) & _u32(1) for i in range(n)]
  p = [s[i] & keep & (_u32(0) - kbit[i]) for i in range(n)]  # pruned successors
  e = {(i, j): _u32(0) - ((p[i] >> _u32(j)) & _u32(1)) for i in range(n) for j in range(i + 1, n)}
  out_deg = [jax.lax.population_count(p[i]) for i in range(n)]
  in_deg = [sum((((p[i] >> _u32(j)) & _u32(1)) for i in range(j)), _u32(0)) for j in range(n)]
  num_v = jax.lax.population_count(keep)
  ops = jnp.clip(jnp.asarray(ops, jnp.int32), 0, len(OPS) - 1)
  # the OPS index is a label as good as the original's (-1, 0, 1, 2, -2): injective on the 5 ops
  label = [ops[..., i].astype(jnp.uint32) for i in range(n)]
  # initial vertex hashes: degrees < 8, label < 5: one injective word, then the finaliser
  h = [_fmix(seed ^ (out_deg[i] | in_deg[i] << _u32(4) | label[i] << _u32(8))) for i in range(n)]

  # a round: the in- and out-neighbour sums of the hashes (already fmix outputs), weighted by odd
  # multipliers, then the finaliser; one fmix per vertex and round
  for r in range(n if rounds is None else rounds):
    new = []
    for v in range(n):
      si = sum((h[u] & e[(u, v)] for u in range(v)), _u32(0))
      so = sum((h[w] & e[(v, w)] for w in range(v + 1, n)), _u32(0))
      x = _fmix(h[v] * c_self + si * c_in + so * c_out)
      new.append(x if rounds is not None else jnp.where(_u32(r) < num_v, x, h[v]))
    h = new

  def g(x):
    return _fmix(x * c_g + _u32(0x7F4A7C15))

  total = sum((g(h[v]) & (_u32(0) - kbit[v]) for v in range(n)), _u32(0))
  return _fmix(total * c_self + num_v * c_out)


def _fingerprint(arch, lanes, rounds: int | None = None) -> jax.Array:
  """``int32[..., L]``: :func:`_lane_words` per lane.

  The lanes run one after the other (a ``fori_loop`` of L steps whose body is one vectorised loop
  fusion over the batch), and the ``[..., L]`` stack is a separate copy. Computed side by side in
  one expression, XLA fuses the stack into the hashing and emits one branchy scalar loop (3-7x
  slower on CPU); ``lax.map`` writes through a dynamic-update-slice that is not vectorised.
  """
  a = _as_arch(arch)
  code, ops = _edge_code(a.matrix), jnp.asarray(a.ops)
  consts = jnp.asarray(np.array([tuple(c) + (0,) for c in lanes], np.uint32))

  def body(i, words):
    c = consts[i]
    # OR-ed with a zero XLA cannot see through (the constants' 6th word): keeps the pruning in
    # the loop's one fusion, else it is hoisted out as ~50 small fusions (5x slower)
    w = _lane_words(code | c[5], ops, c, rounds)
    return words[1:] + (w,)  # after L steps: lane k at position k; one consumer, one fusion

  zeros = tuple(jnp.zeros(code.shape, jnp.uint32) for _ in lanes)
  words = jax.lax.fori_loop(0, len(lanes), body, zeros)
  return jax.lax.bitcast_convert_type(jnp.stack(words, -1), jnp.int32)


def fingerprint(arch) -> jax.Array:
  """``int32[..., 2]``: an isomorphism-invariant 64-bit hash of the pruned cell, equal iff the
  NAS-Bench-101 module hashes are equal (the same iterated in/out-neighbourhood hashing as
  :func:`module_hash`, with integer mixing instead of MD5; checked on all 423,624 cells by
  ``python -m jaxnas.benchmarks enumerate nasbench101``). Invalid specs get some value. Jittable.
  """
  return _fingerprint(arch, _LANES)


def fingerprint_alt(arch) -> jax.Array:
  """Like :func:`fingerprint` with independent mixing constants (collision checks only)."""
  return _fingerprint(arch, _ALT_LANES)


# XLA:CPU compile options under which :func:`fingerprint` runs ~1.9x faster with the same values:
# LLVM's preferred vector width 512 bits (zmm registers; XLA:CPU's default is 256). The
# fingerprint is one elementwise loop of ~270 32-bit multiplies and ~1,500 other integer ops per
# cell and lane, so it is bound by vector throughput: at 256 bits the loop runs 8 cells per
# instruction, at 512 bits 16 (measured on the 2-core Xeon with AVX-512: 13.4 -> 25.3 M
# fingerprints/s wall, 8.0 -> 13.5 M per CPU-s, at a batch of 2^18). A CPU without AVX-512 ignores
# the preference. The options are per compile (``jax.jit(f, compiler_options=...)``), never global.
CPU_COMPILER_OPTIONS: tuple[tuple[str, int], ...] = (("xla_cpu_prefer_vector_width", 512),)


def compiler_options(backend: str | None = None) -> dict:
  """``compiler_options`` for ``jax.jit`` of a function that computes fingerprints (or queries
  an NB101 table from architectures): :data:`CPU_COMPILER_OPTIONS` on the CPU backend, ``{}`` on
  any other (``backend`` None: JAX's default backend, so this initialises it: call it at run
  time, never at import). The fingerprint's values do not depend on them."""
  return dict(CPU_COMPILER_OPTIONS) if (backend or jax.default_backend()) == "cpu" else {}


# ----------------------------------------------------------------------------- module hash (host)


def _np_prune(matrix: np.ndarray) -> np.ndarray:
  """Kept vertices ``bool[V]`` of a square upper-triangular matrix (host)."""
  v = len(matrix)
  fwd = np.zeros(v, bool)
  fwd[0] = True
  for j in range(1, v):
    fwd[j] = bool((fwd[:j] & (matrix[:j, j] != 0)).any())
  bwd = np.zeros(v, bool)
  bwd[v - 1] = True
  for i in range(v - 2, -1, -1):
    bwd[i] = bool((bwd[i + 1:] & (matrix[i, i + 1:] != 0)).any())
  return fwd & bwd


def _labels(ops) -> list[int]:
  """Op labels (strings or ``OPS`` indices) -> ``OPS`` indices; one-line ValueError."""
  out = []
  for o in ops:
    if isinstance(o, str):
      if o not in OPS:
        raise ValueError(f"unknown {NAME} op {o!r}; valid: {', '.join(OPS)}")
      out.append(OPS.index(o))
    else:
      if not 0 <= int(o) < len(OPS):
        raise ValueError(f"{NAME} op label {int(o)} out of range: valid are 0..4 = {', '.join(OPS)}")
      out.append(int(o))
  return out


def prune_spec(matrix, ops) -> tuple[np.ndarray, list[int]]:
  """Host-side pruning of an official spec: ``(matrix np.int64[V', V'], labels)`` with only the
  vertices on an input->output path; ValueError (one line) if the input does not reach the
  output."""
  m = np.asarray(matrix).astype(np.int64)
  labels = _labels(ops)
  if m.ndim != 2 or m.shape[0] != m.shape[1] or len(labels) != len(m) or len(m) < 2:
    raise ValueError(f"{NAME} spec needs a square V x V matrix (V >= 2) and V ops, got "
                     f"{m.shape} and {len(labels)} ops")
  keep = _np_prune(m)
  if not keep[0]:
    raise ValueError(f"{NAME} spec is invalid: the input does not reach the output")
  idx = np.flatnonzero(keep)
  return m[np.ix_(idx, idx)], [labels[i] for i in idx]


def module_hash(matrix, ops) -> str:
  """NAS-Bench-101's module hash (``graph_util.hash_module``) of a spec, on the host.

  The spec is pruned first (as ``ModelSpec`` does), so a raw 7x7 spec and its pruned or padded
  forms hash alike.

  Args:
    matrix: ``V x V`` 0/1 upper-triangular adjacency (array-like).
    ops: ``V`` labels, strings (``'conv3x3-bn-relu'``) or ``OPS`` indices.

  Returns:
    The 32-character hex MD5 text stored as ``module_hash`` in the official tfrecords.
  """
  m, labels = prune_spec(matrix, ops)
  v = len(m)
  rows = m.tolist()  # plain ints: the degrees print as "(2, 0, -1)", as in the original
  ins = [[j for j in range(v) if rows[j][i]] for i in range(v)]
  outs = [[j for j in range(v) if rows[i][j]] for i in range(v)]
  md5 = hashlib.md5
  hashes = [md5(str((len(outs[i]), len(ins[i]), int(_HASH_LABEL[labels[i]]))).encode()).hexdigest()
            for i in range(v)]
  for _ in range(v):
    hashes = [md5(("".join(sorted(hashes[j] for j in ins[i])) + "|"
                   + "".join(sorted(hashes[j] for j in outs[i])) + "|" + hashes[i]).encode()).hexdigest()
              for i in range(v)]
  return md5(str(sorted(hashes)).encode()).hexdigest()


def arch_module_hash(arch) -> str | list:
  """:func:`module_hash` of an :class:`Arch` (a batch gives a list)."""
  m, ops = check(arch)
  if ops.ndim > 1:
    return [arch_module_hash(Arch(matrix=mm, ops=oo)) for mm, oo in
            zip(m.reshape(-1, 7, 7), ops.reshape(-1, 7))]
  return module_hash(m, ops)


# ----------------------------------------------------------------------------- conversions


def pad(matrix, ops) -> Arch:
  """A pruned spec on ``V <= 7`` vertices in the 7x7 form of NASLib's ``convert_to_cell`` (host):
  vertices ``0..V-2`` in place, the output moved to 6, unused slots ``conv3x3-bn-relu`` without
  edges. (An unpruned spec is pruned first.)"""
  m, labels = prune_spec(matrix, ops)
  v = len(m)
  if v > NUM_VERTICES:
    raise ValueError(f"{NAME} spec has {v} vertices after pruning, at most 7 allowed")
  pos = list(range(v - 1)) + [NUM_VERTICES - 1]
  out = np.zeros((NUM_VERTICES, NUM_VERTICES), np.int32)
  out[np.ix_(pos, pos)] = m
  new_ops = np.full(NUM_VERTICES, CONV3X3, np.int32)
  new_ops[pos] = labels
  return Arch(matrix=jnp.asarray(out), ops=jnp.asarray(new_ops))


def from_spec(matrix, ops) -> Arch:
  """The official ``(matrix, ops)`` spec (square, side 2..7; op strings or ``OPS`` indices) ->
  :class:`Arch`: a 7x7 spec is kept as is (raw, unpruned, like NASLib's), a smaller one is padded
  as NASLib's ``convert_to_cell`` (:func:`pad`). One-line ValueError if invalid."""
  m = np.asarray(matrix)
  if m.ndim == 2 and m.shape == (NUM_VERTICES, NUM_VERTICES) and len(ops) == NUM_VERTICES:
    a = Arch(matrix=jnp.asarray(m.astype(np.int32)), ops=jnp.asarray(_labels(ops), jnp.int32))
  else:
    a = pad(m, ops)
  check(a)
  return a


def to_spec(arch, prune_first: bool = True) -> tuple[np.ndarray, list[str]]:
  """:class:`Arch` -> official ``(matrix np.int32[V, V], [op strings])``, pruned by default (the
  form stored in the official tables)."""
  m, ops = check(arch)
  if ops.ndim != 1:
    raise ValueError(f"to_spec takes one {NAME} architecture, got batch shape {ops.shape[:-1]}")
  if prune_first:
    m, labels = prune_spec(m, ops)
    return m.astype(np.int32), [OPS[o] for o in labels]
  return m, [OPS[int(o)] for o in ops]


def to_naslib(arch) -> tuple[int, ...]:
  """NASLib's 56-int tuple: 49 matrix entries (row-major), then 7 op codes over
  ``[input, output, maxpool3x3, conv1x1-bn-relu, conv3x3-bn-relu]``."""
  m, ops = check(arch)
  if ops.ndim != 1:
    raise ValueError(f"to_naslib takes one {NAME} architecture, got batch shape {ops.shape[:-1]}")
  return tuple(int(x) for x in m.reshape(-1)) + tuple(int(_TO_NASLIB[o]) for o in ops)


def from_naslib(values: Sequence[int]) -> Arch:
  """NASLib's 56-int tuple (49 matrix entries row-major + 7 NASLib op codes) -> :class:`Arch`,
  checked (one-line ValueError)."""
  vals = [int(v) for v in values]
  if len(vals) != 56:
    raise ValueError(f"a NASLib {NAME} tuple has 56 ints (49 matrix entries, 7 op codes), got "
                     f"{len(vals)}")
  codes = vals[49:]
  if any(not 0 <= c < 5 for c in codes):
    raise ValueError(f"NASLib {NAME} op codes are 0..4 = {', '.join(NASLIB_OPS)}, got {codes}")
  a = Arch(matrix=jnp.asarray(np.array(vals[:49], np.int32).reshape(7, 7)),
           ops=jnp.asarray(_FROM_NASLIB[codes].astype(np.int32)))
  check(a)
  return a


def to_string(arch) -> str | list:
  """``'<49 matrix bits, row-major>:<7 op names joined by ','>'`` (the fields of an official
  tfrecord row); a batch gives a list."""
  m, ops = check(arch)
  if ops.ndim > 1:
    return [to_string(Arch(matrix=mm, ops=oo)) for mm, oo in
            zip(m.reshape(-1, 7, 7), ops.reshape(-1, 7))]
  return "".join(str(int(x)) for x in m.reshape(-1)) + ":" + ",".join(OPS[int(o)] for o in ops)


def from_string(s: str) -> Arch:
  """Parses :func:`to_string`'s form; also a pruned ``V*V`` bit string with ``V`` ops (padded as
  NASLib). One-line ValueError naming the form."""
  form = "'<V*V adjacency bits>:<V op names joined by ','>', e.g. '0100001000000:input,...'"
  if not isinstance(s, str):
    raise ValueError(f"{NAME} architecture string expected, got {type(s).__name__} {s!r}")
  bits, sep, names = s.strip().partition(":")
  ops = names.split(",")
  v = len(ops)
  if not sep or len(bits) != v * v or set(bits) - {"0", "1"} or not 2 <= v <= 7:
    raise ValueError(f"not a {NAME} architecture string: {s!r} (expected {form})")
  m = np.array([int(c) for c in bits], np.int32).reshape(v, v)
  return from_spec(m, ops)


# ----------------------------------------------------------------------------- ids, categorical

_EDGE_PLACE = (2 ** np.arange(NUM_EDGE_SLOTS - 1, -1, -1)).astype(np.int64)
_OP_PLACE = (3 ** np.arange(OP_SPOTS - 1, -1, -1)).astype(np.int64)


def to_id(arch) -> jax.Array:
  """``int32[...]`` raw-spec code: the 21 edge bits (edge (0,1) most significant) times 3**5 plus
  the interior ops (``op - 1``) in base 3. A bijection of raw specs, not a table row. Jittable."""
  a = _as_arch(arch)
  m, ops = jnp.asarray(a.matrix, jnp.int32), jnp.asarray(a.ops, jnp.int32)
  bits = m[..., _ROWS, _COLS]
  e = jnp.sum(bits * jnp.asarray(_EDGE_PLACE, jnp.int32), -1)
  o = jnp.sum((ops[..., 1:-1] - 1) * jnp.asarray(_OP_PLACE, jnp.int32), -1)
  return e * (3**OP_SPOTS) + o


def from_id(idx) -> Arch:
  """Inverse of :func:`to_id` (``idx`` may be batched). Jittable (no range check)."""
  idx = jnp.asarray(idx, jnp.int32)
  e, o = idx // (3**OP_SPOTS), idx % (3**OP_SPOTS)
  bits = (e[..., None] // jnp.asarray(_EDGE_PLACE, jnp.int32)) % 2
  interior = (o[..., None] // jnp.asarray(_OP_PLACE, jnp.int32)) % 3 + 1
  m = jnp.zeros(idx.shape + (7, 7), jnp.int32).at[..., _ROWS, _COLS].set(bits)
  ops = jnp.concatenate([jnp.zeros(idx.shape + (1,), jnp.int32), interior,
                         jnp.full(idx.shape + (1,), OUTPUT, jnp.int32)], -1)
  return Arch(matrix=m, ops=ops.astype(jnp.int32))


# categorical view: 21 edge bits, then one 3-way variable per interior op. (It was 2 bits per op,
# code 3 read as maxpool: a TPE drawing each bit from its smoothed frequencies proposed maxpool for
# codes 2 and 3, half of all draws before any data, and the bits could not model an op on its own.)
CATEGORICAL = (2,) * NUM_EDGE_SLOTS + (len(INTERIOR_OPS),) * OP_SPOTS


def to_categorical(arch) -> jax.Array:
  """``int32[..., 26]``: the 21 upper-triangular edge bits (row-major), then ``op - 1`` of each
  interior vertex (0 conv3x3-bn-relu, 1 conv1x1-bn-relu, 2 maxpool3x3): ``CATEGORICAL`` gives the
  choices per variable (2 or 3)."""
  a = _as_arch(arch)
  m, ops = jnp.asarray(a.matrix, jnp.int32), jnp.asarray(a.ops, jnp.int32)
  return jnp.concatenate([m[..., _ROWS, _COLS], ops[..., 1:-1] - 1], -1).astype(jnp.int32)


def from_categorical(x) -> Arch:
  """Inverse of :func:`to_categorical` (every vector in range is a spec; it may still be invalid:
  disconnected or too many edges)."""
  x = jnp.asarray(x, jnp.int32)
  bits = x[..., :NUM_EDGE_SLOTS]
  c = jnp.clip(x[..., NUM_EDGE_SLOTS:], 0, len(INTERIOR_OPS) - 1)
  m = jnp.zeros(x.shape[:-1] + (7, 7), jnp.int32).at[..., _ROWS, _COLS].set(bits)
  ops = jnp.concatenate([jnp.zeros(x.shape[:-1] + (1,), jnp.int32), c + 1,
                         jnp.full(x.shape[:-1] + (1,), OUTPUT, jnp.int32)], -1)
  return Arch(matrix=m, ops=ops)


# ----------------------------------------------------------------------------- search operators


# [21, 7, 7] one-hot of each upper-triangular slot: bits -> matrix without a scatter
_EDGE_BASIS = np.zeros((NUM_EDGE_SLOTS, NUM_VERTICES, NUM_VERTICES), np.int32)
_EDGE_BASIS[np.arange(NUM_EDGE_SLOTS), _ROWS, _COLS] = 1
# an invalid spec (no edge: the input does not reach the output), the start of redraw loops
_NO_EDGES = np.zeros((NUM_VERTICES, NUM_VERTICES), np.int32)


def _bits_to_matrix(bits):
  """``int32[..., 21]`` upper-triangular bits -> ``int32[..., 7, 7]``."""
  return jnp.sum(bits[..., :, None, None] * jnp.asarray(_EDGE_BASIS), axis=-3)


def _draw_raw(key) -> Arch:
  """One raw spec: 21 fair edge bits, uniform interior ops."""
  w = rng.words(key, NUM_EDGE_SLOTS + OP_SPOTS)
  bits = ((w[:NUM_EDGE_SLOTS] >> 7) & 1).astype(jnp.int32)
  interior = (w[NUM_EDGE_SLOTS:] % 3).astype(jnp.int32) + 1
  ops = jnp.concatenate([jnp.array([INPUT], jnp.int32), interior, jnp.array([OUTPUT], jnp.int32)])
  return Arch(matrix=_bits_to_matrix(bits), ops=ops)


def _redraw(key, draw, start: Arch, max_tries: int | None = None):
  """``draw(fold_in(key, t))`` for t = 0, 1, ... until valid (or ``max_tries``):
  ``(arch, ok)``. One copy of ``draw`` and ``is_valid`` in the loop body (compile time)."""
  def cond(c):
    t, _, ok = c
    return ~ok if max_tries is None else ~ok & (t < max_tries)

  def body(c):
    t, _, _ = c
    a = draw(rng.fold_in(key, t))
    return t + 1, a, is_valid(a)

  _, a, ok = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), start, jnp.array(False)))
  return a, ok


def _sample_one(key) -> Arch:
  start = Arch(matrix=jnp.asarray(_NO_EDGES), ops=jnp.array([0, 1, 1, 1, 1, 1, 4], jnp.int32))
  return _redraw(key, _draw_raw, start)[0]


def sample(key: jax.Array, shape: tuple[int, ...] = ()) -> Arch:
  """NASLib's ``sample_random_architecture``: 21 fair edge bits and uniform interior ops, redrawn
  until valid (a raw, unpruned spec). Jittable; returns ``Arch[*shape]``."""
  shape = tuple(shape)
  n = int(np.prod(shape)) if shape else 1
  keys = rng.split(key, max(n, 1))[:n]
  a = jax.vmap(_sample_one)(keys)
  return jax.tree.map(lambda x: x.reshape(shape + x.shape[1:]), a)


def _mutate_draw(key, parent: Arch) -> Arch:
  w = rng.words(key, NUM_EDGE_SLOTS + 2 * OP_SPOTS)
  u = (w >> 8).astype(jnp.float32) / float(1 << 24)  # uniform [0, 1)
  flip = (u[:NUM_EDGE_SLOTS] < EDGE_MUTATION_PROB).astype(jnp.int32)
  m = parent.matrix ^ _bits_to_matrix(flip)
  change = u[NUM_EDGE_SLOTS:NUM_EDGE_SLOTS + OP_SPOTS] < OP_MUTATION_PROB
  shift = (w[NUM_EDGE_SLOTS + OP_SPOTS:] % 2).astype(jnp.int32) + 1  # one of the two others
  old = parent.ops[1:-1]
  new = jnp.where(change, (old - 1 + shift) % 3 + 1, old)
  return Arch(matrix=m, ops=jnp.concatenate([parent.ops[:1], new, parent.ops[-1:]]))


MUTATE_TRIES = 1000  # redraws before mutate gives up and returns the parent (never seen)


def mutate(key: jax.Array, arch) -> Arch:
  """NASLib's NB101 ``mutate`` (``edits=1``): flip each of the
  21 edges with probability 1/7 and change each interior op to one of the two others with
  probability 1/3; redrawn until valid (the child may equal the parent). Jittable; one
  architecture (``vmap`` for a batch)."""
  a = _as_arch(arch)
  parent = Arch(matrix=jnp.asarray(a.matrix, jnp.int32), ops=jnp.asarray(a.ops, jnp.int32))
  child, ok = _redraw(key, lambda k: _mutate_draw(k, parent), parent, MUTATE_TRIES)
  return jax.tree.map(lambda c, p: jnp.where(ok, c, p), child, parent)


# neighbour k: k < 10 -> vertex 1 + k // 2 gets op shift 1 + k % 2; else edge EDGES[k - 10] flips
_NB_VERTEX = np.array([1 + k // 2 for k in range(2 * OP_SPOTS)])
_NB_SHIFT = np.array([1 + k % 2 for k in range(2 * OP_SPOTS)])


def _neighbour_tables():
  """Static ``[31, 7]`` op shifts and ``[31, 7, 7]`` edge flips of the K = 31 neighbours."""
  k_ops = np.zeros((NUM_NEIGHBOURS, 7), np.int32)
  k_ops[np.arange(2 * OP_SPOTS), _NB_VERTEX] = _NB_SHIFT
  flip = np.zeros((NUM_NEIGHBOURS, 7, 7), bool)
  flip[2 * OP_SPOTS + np.arange(NUM_EDGE_SLOTS), _ROWS, _COLS] = True
  return k_ops, flip


_NB_OPS, _NB_FLIP = _neighbour_tables()


def _apply_change(m, ops, k_ops, flip) -> Arch:
  new_ops = jnp.where(k_ops != 0, (ops - 1 + k_ops) % 3 + 1, ops)
  return Arch(matrix=jnp.where(flip, 1 - m, m).astype(jnp.int32), ops=new_ops.astype(jnp.int32))


def neighbour(arch, k) -> Arch:
  """The ``k``-th of :func:`neighbours` (``k`` may be traced). Jittable."""
  a = _as_arch(arch)
  m, ops = jnp.asarray(a.matrix, jnp.int32), jnp.asarray(a.ops, jnp.int32)
  k = jnp.asarray(k, jnp.int32)
  return _apply_change(m, ops, jnp.asarray(_NB_OPS)[k], jnp.asarray(_NB_FLIP)[k])


def neighbours(arch) -> Arch:
  """All K = 31 one-step changes, in a fixed order: for interior vertex 1..5 its two other ops
  (shift 1, 2), then each of the 21 edges flipped. Jittable; ``Arch[..., 31]`` (see
  :func:`neighbours_masked` for which are NASLib neighbours)."""
  a = _as_arch(arch)
  m, ops = jnp.asarray(a.matrix, jnp.int32), jnp.asarray(a.ops, jnp.int32)
  return _apply_change(m[..., None, :, :], ops[..., None, :], jnp.asarray(_NB_OPS),
                       jnp.asarray(_NB_FLIP))


def neighbours_masked(arch) -> tuple[Arch, jax.Array]:
  """``(Arch[..., 31], bool[..., 31])``: :func:`neighbours` and which are NASLib's neighbours
  (``get_nbhd``): an op change of a vertex on an input->output path, the removal of an edge on
  such a path, the addition of an edge that would lie on one; and valid. Jittable."""
  a = _as_arch(arch)
  m = jnp.triu(jnp.asarray(a.matrix) != 0, 1)
  fwd, bwd = _reach(m)
  live = fwd & bwd
  op_ok = live[..., 1:-1].repeat(2, axis=-1)  # [..., 10] in neighbour order
  # an edge s -> d lies on an input->output path iff s is reachable and d reaches the output
  # (upper-triangular: neither reachability uses the edge itself)
  edge_ok = fwd[..., _ROWS] & bwd[..., _COLS]
  nbrs = neighbours(a)
  ok = jnp.concatenate([op_ok, edge_ok], -1) & is_valid(nbrs)
  return nbrs, ok


# ----------------------------------------------------------------------------- encodings

# every input->output path through the complete DAG: subsets of the interior vertices, in order
_PATHS = tuple(c for r in range(OP_SPOTS + 1) for c in itertools.combinations(range(1, 6), r))
PATH_DIM = sum(3**i for i in range(OP_SPOTS + 1))  # 364


def _path_tables():
  """Static ``[32, 6]`` edge sources/targets of each path (padded with the first edge), ``[32, 5]``
  vertices and their base-3 place values (0 on padding)."""
  src = np.zeros((len(_PATHS), 6), np.int32)
  dst = np.zeros((len(_PATHS), 6), np.int32)
  vert = np.zeros((len(_PATHS), OP_SPOTS), np.int32)
  place = np.zeros((len(_PATHS), OP_SPOTS), np.int32)
  for p, path in enumerate(_PATHS):
    verts = (0,) + path + (6,)
    pairs = list(zip(verts[:-1], verts[1:]))
    pairs += [pairs[0]] * (6 - len(pairs))
    src[p], dst[p] = [s for s, _ in pairs], [d for _, d in pairs]
    vert[p, :len(path)] = path
    place[p, :len(path)] = [3**i for i in range(len(path))]
  return src, dst, vert, place


_PATH_SRC, _PATH_DST, _PATH_VERT, _PATH_PLACE = _path_tables()
_PATH_PAD_ALL = np.zeros(len(_PATHS), bool)
ADJ_DIM = NUM_EDGE_SLOTS + 3 * OP_SPOTS  # 36
GRAPH_DIM = NUM_VERTICES * NUM_VERTICES + NUM_VERTICES * len(OPS)  # 84
# NASLib's adjacency one-hot op order per interior vertex: conv1x1 [0,0,1], conv3x3 [0,1,0],
# maxpool [1,0,0]
_ADJ_OP = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]], np.float32)
ENCODING_DIMS = (("adjacency_one_hot", ADJ_DIM), ("path", PATH_DIM), ("graph", GRAPH_DIM))


def encode(arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """Predictor features, as NASLib encodes NB101 (on the raw spec). Jittable.

  Args:
    arch: ``Arch[...]``.
    kind: ``adjacency_one_hot`` (36: the 21 upper-triangular entries row-major, then per interior
      vertex ``conv1x1 [0,0,1] / conv3x3 [0,1,0] / maxpool [1,0,0]``: NASLib's ``encode_adj``),
      ``path`` (364: one bit per input->output path labelled by its op sequence, index
      ``sum_i 3**i * (op_i + 1)`` in canonical op order: NASLib's ``encode_paths``), ``graph`` (84:
      the node-op graph for the GCN: the 7x7 adjacency row-major, then a one-hot of each vertex's
      label over ``OPS``; unused vertices have no edges).

  Returns:
    ``f32[..., D]``.
  """
  a = _as_arch(arch)
  m = jnp.asarray(a.matrix, jnp.float32)
  ops = jnp.clip(jnp.asarray(a.ops, jnp.int32), 0, len(OPS) - 1)
  batch = ops.shape[:-1]
  if kind == "adjacency_one_hot":
    return jnp.concatenate([m[..., _ROWS, _COLS],
                            jnp.asarray(_ADJ_OP)[ops[..., 1:-1]].reshape(*batch, 3 * OP_SPOTS)], -1)
  if kind == "path":
    # [..., 32]: each path present (all its edges) and its index, then a one-hot max over paths
    present = jnp.all(m[..., _PATH_SRC, _PATH_DST] > 0, -1) | jnp.asarray(_PATH_PAD_ALL)
    index = jnp.sum(jnp.asarray(_PATH_PLACE) * ops[..., _PATH_VERT], -1)
    return jnp.max(jax.nn.one_hot(index, PATH_DIM) * present[..., None], axis=-2)
  if kind == "graph":
    return jnp.concatenate([m.reshape(*batch, 49),
                            jax.nn.one_hot(ops, len(OPS)).reshape(*batch, 7 * len(OPS))], -1)
  raise ValueError(f"unknown encoding {kind!r} for search space {NAME}; valid: "
                   f"{', '.join(k for k, _ in ENCODING_DIMS)}")


# ----------------------------------------------------------------------------- enumeration file

ENUMERATE_HINT = "python -m jaxnas.benchmarks enumerate nasbench101 --out FILE.npz"


def load_enumeration(path) -> tuple[Arch, np.ndarray]:
  """``(Arch[N], hashes str[N])`` from the file written by ``enumerate nasbench101`` (padded
  cells). FileNotFoundError / ValueError in one line naming the file and the command."""
  p = pathlib.Path(path)
  if not p.is_file():
    raise FileNotFoundError(f"no NAS-Bench-101 enumeration at {p}; write it with: {ENUMERATE_HINT}")
  try:
    with np.load(p, allow_pickle=False) as z:
      m, ops, hashes = z["matrix"], z["ops"], z["hash"]
  except (OSError, ValueError, KeyError) as e:
    raise ValueError(f"{p} is not a NAS-Bench-101 enumeration (needs matrix, ops, hash): "
                     f"{type(e).__name__}; rewrite it with: {ENUMERATE_HINT}") from None
  return Arch(matrix=jnp.asarray(m, jnp.int32), ops=jnp.asarray(ops, jnp.int32)), hashes


def all_archs() -> Arch:
  """Every unique cell, from the enumeration file named by ``JAXNAS_NB101_CELLS``; a one-line
  error naming the command that writes it otherwise."""
  path = os.environ.get("JAXNAS_NB101_CELLS")
  if not path:
    raise ValueError(f"{NAME} is enumerable only through its enumeration file: write it with "
                     f"{ENUMERATE_HINT} and set JAXNAS_NB101_CELLS to it")
  return load_enumeration(path)[0]


# ----------------------------------------------------------------------------- the record


def _with_options(**options) -> SearchSpace:
  bad = [k for k in options if k != "naslib_valid"]
  if bad:
    raise ValueError(f"unknown option {bad[0]!r} for search space {NAME}; valid: naslib_valid")
  return _record(bool(options.get("naslib_valid", True)))


@functools.lru_cache(maxsize=None)
def _record(naslib_valid: bool = True) -> SearchSpace:
  """The :class:`SearchSpace` record (``naslib_valid`` is accepted for interface parity: NASLib's
  NB101 sampler is already the valid-only sampler, so it changes nothing)."""
  return SearchSpace(
      name=NAME, arch_type=Arch, num_archs=None, num_neighbours=NUM_NEIGHBOURS,
      sample=sample, mutate=mutate, neighbours=neighbours, neighbour=neighbour,
      is_valid=is_valid, encode=encode, to_id=to_id, from_id=from_id, to_string=to_string,
      from_string=from_string, encodings=tuple(k for k, _ in ENCODING_DIMS),
      fingerprint=fingerprint, neighbours_masked=neighbours_masked, encoding_dims=ENCODING_DIMS,
      categorical=CATEGORICAL, to_categorical=to_categorical, from_categorical=from_categorical,
      edges=EDGES, ops=OPS, all_archs=all_archs, check=check, from_naslib=from_naslib,
      options=(("naslib_valid", naslib_valid),), with_options=_with_options)


SPACE = _record(True)

__all__ = ["Arch", "CATEGORICAL", "EDGES", "ENCODING_DIMS", "NAME", "NASLIB_OPS", "NUM_CELLS",
           "NUM_NEIGHBOURS", "OPS", "SPACE", "all_archs", "arch_module_hash", "check",
           "compiler_options", "encode",
           "fingerprint", "from_categorical", "from_id", "from_naslib", "from_spec", "from_string",
           "is_valid", "load_enumeration", "module_hash", "mutate", "neighbour", "neighbours",
           "neighbours_masked", "pad", "prune", "prune_spec", "sample", "to_categorical", "to_id",
           "to_naslib", "to_spec", "to_string"]
