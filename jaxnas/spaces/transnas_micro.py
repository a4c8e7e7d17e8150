"""TransNAS-Bench-101 micro (Duan et al., CVPR 2021): the 4-node, 6-edge, 4-op cell, as an instance
of the generic edge-op cell (:mod:`jaxnas.spaces.cell`).

Conventions (``../shared/SPACES.md`` section 3):

* edges in **target-node order** ``0->1, 0->2, 1->2, 0->3, 1->3, 2->3`` (the ``a_bc_def`` digits);
* op codes are TNB's string codes: 0 = zero (``none``), 1 = skip connect, 2 = ReLU-conv1x1-BN
  (``nor_conv_1x1``), 3 = ReLU-conv3x3-BN (``nor_conv_3x3``); a node is the sum of its inputs and
  the cell's output is node 3;
* the string is TNB's ``64-41414-a_bc_def`` (base channels 64, fixed skeleton ``41414``);
* NASLib's tuple (the ``arch`` field of its ``transbench101_micro`` files) is exactly the 6 digits in
  string order and code, so the id is the tuple read as a base-4 number (4,096 cells, all in the
  table, dead cells included);
* encodings are the generic cell's: ``adjacency_one_hot`` (24) equals NASLib's
  ``encode_adjacency_one_hot_transbench_micro_op_indices`` of that tuple (one-hot of each digit in
  order); ``op_indices`` (6); ``path`` (84, BANANAS paths labelled by TNB op codes);
* fingerprint = id: no isomorphism reduction (cells that compute the same function, e.g. the 64
  dead ones, are distinct table rows).

Sampling follows NASLib's *intended* filter, written in this coding. NASLib's
``sample_random_architecture`` rejects ``op_indices[0] == op_indices[1] == op_indices[2] == 1`` or
``op_indices[2] == op_indices[4] == op_indices[5] == 1``: that is "all edges out of the input are
zero, or all edges into the output are zero" in its *graph* coding (op 1 = Zero, edges ordered by
source ``(1,2),(1,3),(1,4),(2,3),(2,4),(3,4)``), but the sampled tuple is then queried in string
coding, where 1 = skip and the positions are other edges. Here the filter is applied to what it
meant: reject ``a = b = d = 0`` (input unused) or ``d = e = f = 0`` (output dead), 124 of the 4,096
cells, so the sampler draws uniformly from 3,972. Every cell stays valid (``is_valid`` checks only
ranges: the table has all 4,096); mutation changes one edge to a different op and the neighbourhood
is all 6 x 3 = 18 single-edge changes, both without a filter, as NASLib's.
"""

from __future__ import annotations

import re

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.spaces import cell

NAME = "transnas101_micro"
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_OPS = 4
NUM_EDGES = 6
NUM_ARCHS = NUM_OPS**NUM_EDGES  # 4,096
NONE, SKIP, CONV1X1, CONV3X3 = range(4)
SKELETON = "64-41414"
_STRING_RE = re.compile(r"^64-41414-([0-3])_([0-3]{2})_([0-3]{3})$")


@flax.struct.dataclass
class Arch(cell.CellArch):
  """A TransNAS-Bench-101 micro cell: the TNB code (0-3) of each of the 6 edges (``EDGES`` order)."""

  ops: jax.Array  # [..., 6] int32


def naslib_filter(ops: jax.Array) -> jax.Array:
  """NASLib's intended sampling filter (see the module doc): False when the edges out of the input
  (a, b, d) or into the output (d, e, f) are all zero. ``ops: int32[6]`` -> ``bool[]``."""
  return jnp.any(ops[jnp.array([0, 1, 3])] != NONE) & jnp.any(ops[jnp.array([3, 4, 5])] != NONE)


def format_string(ops: np.ndarray) -> str:
  """``64-41414-a_bc_def`` of 6 op codes in edge order."""
  d = "".join(str(int(v)) for v in ops)
  return f"{SKELETON}-{d[0]}_{d[1:3]}_{d[3:6]}"


def parse_string(s: str) -> list[int]:
  """Inverse of :func:`format_string`; one-line ValueError for any other string."""
  m = _STRING_RE.match(s.strip())
  if m is None:
    raise ValueError(f"not a {NAME} architecture string: {s!r} (expected 64-41414-a_bc_def, digits "
                     f"0-3 = {', '.join(OPS)}, e.g. 64-41414-3_33_213)")
  return [int(c) for c in "".join(m.groups())]



def to_naslib(arch) -> tuple | list:
  """NASLib's ``transbench101_micro`` tuple (its files' ``arch`` field); a batch gives a list."""
  ops = SPACE.check(arch)
  if ops.ndim > 1:
    return [tuple(int(v) for v in row) for row in ops.reshape(-1, NUM_EDGES)]
  return tuple(int(v) for v in ops)


def from_naslib(op_indices) -> Arch:
  """Inverse of :func:`to_naslib`: a tuple, ``int[..., 6]``, or the files' string ``"(1, 3, ...)"``."""
  if isinstance(op_indices, str):
    body = op_indices.strip()
    if not (body.startswith("(") and body.endswith(")")):
      raise ValueError(f"not a NASLib {NAME} tuple: {op_indices!r} (expected e.g. '(3, 3, 2, 1, 3, 2)')")
    try:
      op_indices = [int(v) for v in body[1:-1].split(",") if v.strip()]
    except ValueError:
      raise ValueError(f"not a NASLib {NAME} tuple: {op_indices!r} (expected e.g. "
                       "'(3, 3, 2, 1, 3, 2)')") from None
  return Arch(ops=jnp.asarray(SPACE.check(np.asarray(op_indices)), jnp.int32))


SPACE = cell.cell_space(NAME, EDGES, OPS, sample_filter=naslib_filter, arch_type=Arch,
                        format_string=format_string, parse_string=parse_string,
                        from_naslib=from_naslib)

# module-level functions, as for every space (they all go through the generic cell)
sample, mutate, neighbours, neighbour = SPACE.sample, SPACE.mutate, SPACE.neighbours, SPACE.neighbour
neighbours_masked, is_valid, encode, check = (SPACE.neighbours_masked, SPACE.is_valid, SPACE.encode,
                                              SPACE.check)
to_id, from_id, fingerprint, all_archs = SPACE.to_id, SPACE.from_id, SPACE.fingerprint, SPACE.all_archs
to_string, from_string = SPACE.to_string, SPACE.from_string
ENCODING_DIMS = SPACE.encoding_dims


__all__ = ["Arch", "EDGES", "NAME", "NUM_ARCHS", "OPS", "SPACE", "from_naslib", "naslib_filter",
           "to_naslib"]
