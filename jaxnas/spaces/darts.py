"""The DARTS cell search space (Liu et al., ICLR 2019), as NAS-Bench-301 and NASLib search it.

Conventions (``../shared/SPACES.md`` section 2):

* an architecture is the pytree :class:`Arch` with ``normal: int32[..., 8, 2]`` and
  ``reduce: int32[..., 8, 2]``: per cell 8 pairs ``(input, op)``, NASLib's **compact** form (the
  keys of ``nb301/naslib_labeled_725.json``). Pairs ``2j`` and ``2j + 1`` feed intermediate node
  ``j`` (j = 0..3); input 0 is ``c_{k-2}``, 1 is ``c_{k-1}``, ``n >= 2`` is intermediate node
  ``n - 2``, so pair ``p`` reads an input in ``0 .. p // 2 + 1``. Ops (``OPS``, no ``none``):
  0 max_pool_3x3, 1 avg_pool_3x3, 2 skip_connect, 3 sep_conv_3x3, 4 sep_conv_5x5, 5 dil_conv_3x3,
  6 dil_conv_5x5. A batch has leading axes on both leaves.
* **valid** (:func:`is_valid`, jittable): every input in range for its pair, every op in 0..6, and
  the two inputs of a node distinct (raw values, no modulo: the check can fail).
* **strings**: :func:`to_string` writes the compact form exactly as the 725-file keys
  (``[[(0, 3), (1, 3), ...], [(0, 0), ...]]``); :func:`from_string` reads it (lists or tuples) or
  DARTS's genotype text ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5],
  reduce=[...], reduce_concat=[2, 3, 4, 5])`` (``range(2, 6)`` accepted); :func:`to_genotype` /
  :func:`genotype_string` / :func:`from_genotype` convert to and from DARTS's ``Genotype``.
* **fingerprint** (jittable, exact, ``int32[..., 4]``): the compact with each node's two pairs
  sorted by input (:func:`canonical`), packed 6 bits per pair; equal iff the architectures are
  equal up to the order of a node's two pairs (which the network does not see: a node is the sum of
  its two op outputs). The 725 keys give 725 distinct fingerprints.
* **size**: ``NUM_ARCHS`` = 1,076,746,950,455,072,400 architectures (canonical: per cell
  ``prod_j C(j + 2, 2) * 7**2`` = 1 * 3 * 6 * 10 * 49**4 = 1,037,664,180, squared for two cells);
  ``NUM_COMPACT`` = 256 x that in compact form (each node's pairs ordered). The record's
  ``num_archs`` is None: the space has no ids (``to_id`` / ``from_id`` are None), as NAS-Bench-101.

Search operators follow NASLib (``SPACES.md`` section 2):

* :func:`sample`: per cell and node ``j``, 2 distinct inputs uniformly from ``0 .. j + 1`` (in
  random order) and 2 ops uniformly over 7.
* :func:`mutate`: **exactly one edit**. NASLib's 2021 mutate picks a cell, a pair and a field
  (input or op) uniformly, then an op uniformly over all 7 or an input uniformly over
  ``0 .. p // 2 + 1``, applied only if it differs from the sibling pair's input; the draw can be a
  no-op (the same op or input again, or the sibling's input). NASLib's 2022 version retries until
  the child differs but aliases parent and child lists, so its first draw is kept and a second edit
  forced (up to two edits). Here the child always differs by exactly one edit, with NASLib's
  per-field probabilities conditioned on the draw not being a no-op, i.e. the law of NASLib's
  draw repeated until it changes something, without the aliasing. That law is static: an effective
  op change of pair ``p`` has weight ``1/7`` (each of the 6 other ops), an effective input change
  ``1 / (p // 2 + 2)`` (each of the ``p // 2`` inputs that are neither the current one nor the
  sibling's, a count that holds for every valid architecture). So ``mutate`` draws one of the 120
  neighbours from this fixed categorical (one uniform word, a ``searchsorted``): jittable, no
  loop, no rejection.
* :func:`neighbours`: NASLib's ``get_nbhd``: every pair's 6 other ops (2 x 8 x 6 = 96), then every
  pair's other inputs not used by its sibling (``p // 2`` per pair: 12 per cell), 120 in all, all
  valid and distinct (also as fingerprints). ``neighbours_masked`` returns them with ``is_valid``
  (all True for a valid architecture), K = 120.

Encodings (:func:`encode`, jittable, ``f32[..., D]``):

* ``adjacency_one_hot`` (114): NASLib's ``encode_adj`` for DARTS, per cell the 7 x 7 matrix
  (inputs 0, 1, nodes 2..5, output 6; ``m[input, p // 2 + 2] = 1`` and nodes 2..5 -> output)
  row-major, then the 8 op *indices* (NASLib's DARTS encoding stores indices, not one-hots),
  normal cell then reduction cell.
* ``compact`` (32): the compact form flattened (normal then reduce, pairs, (input, op)).
* ``path`` (11,204): NASLib's ``encode_paths`` (BANANAS): one bit per input-to-output path per cell
  and cell input, labelled by its op sequence, ``4 * sum_{i<=4} 7**i`` slots. NASLib's
  ``get_paths`` loops over ``range(len(OPS))`` = 7 pairs and so drops every path through pair 7;
  here all 8 pairs count.
* ``path_indices`` (160): the same paths as a list: the distinct nonzero slots of ``path``
  (sorted, -1 padded; ``path`` is their one-hot maximum). An MLP reading it
  (``jaxnas.predictors.mlp(..., index_inputs=11204)``) computes the dense path MLP's first layer as
  a sum of at most 160 weight rows, instead of a product with an 11,204-wide input: BANANAS on
  DARTS uses it.
* ``graph`` (638): the GCN's op graph, NASLib's ``encode_gcn`` layout (per cell 11 nodes: the two
  inputs, one node per pair, the output; op nodes one-hot over the 7 ops; a pair's node receives
  from the cell input it reads or from both pair nodes of the intermediate node it reads; every
  pair node feeds the output), the two cells block-diagonal as in NASLib, plus the normal cell's
  output feeding the reduction cell's two inputs (the order of the cells in the network, which
  a mean-pooling GCN otherwise cannot tell apart). NASLib's 9 labels (with input and output)
  become 7 here: input and output nodes carry no label (``V*V + V*F`` with ``F = len(OPS)``, what
  :func:`jaxnas.predictors.gcn.graph_dims` reads): 22 * 22 + 22 * 7.

References:
  Liu, Simonyan, Yang, "DARTS: Differentiable Architecture Search", ICLR 2019.
  Siems et al., "NAS-Bench-301 and the Case for Surrogate Benchmarks for NAS", 2020.
  White et al., "BANANAS", AAAI 2021 (path encoding); NASLib (Ruchte et al. 2020).
"""

from __future__ import annotations

import ast
import collections
import functools
import itertools
import math
from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng
from jaxnas.spaces.base import SearchSpace

NAME = "darts"
OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
MAX_POOL_3X3, AVG_POOL_3X3, SKIP_CONNECT, SEP_CONV_3X3, SEP_CONV_5X5, DIL_CONV_3X3, DIL_CONV_5X5 = \
    range(7)
NUM_OPS = len(OPS)
NUM_NODES = 4  # intermediate nodes per cell
NUM_PAIRS = 2 * NUM_NODES  # 8 (input, op) pairs per cell
CELLS: tuple[str, ...] = ("normal", "reduce")
CONCAT: tuple[int, ...] = (2, 3, 4, 5)  # the cell output concatenates every intermediate node
# the 14 candidate edges of a cell (node j reads 0 .. j+1), by target then source: the DARTS
# supernet's mixed edges and the nasbench301 ConfigSpace's ``edge_{cell}_{e}``
EDGES: tuple[tuple[int, int], ...] = tuple((i, j + 2) for j in range(NUM_NODES) for i in range(j + 2))
MAX_INPUT = np.array([p // 2 + 1 for p in range(NUM_PAIRS)], np.int32)  # [8]: pair p reads 0..this
NUM_NEIGHBOURS = 2 * NUM_PAIRS * (NUM_OPS - 1) + 2 * sum(p // 2 for p in range(NUM_PAIRS))  # 120
# canonical cells (a node's two pairs unordered, distinct inputs): prod_j C(j+2, 2) * 7**2
NUM_CELL = math.prod(math.comb(j + 2, 2) * NUM_OPS**2 for j in range(NUM_NODES))  # 1,037,664,180
NUM_ARCHS = NUM_CELL**2  # 1,076,746,950,455,072,400
NUM_COMPACT = math.prod((j + 2) * (j + 1) * NUM_OPS**2 for j in range(NUM_NODES))**2  # 256x

Genotype = collections.namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
Genotype.__doc__ = ("DARTS's genotype (``genotypes.py``): per cell a list of 8 ``(op name, input)`` "
                    "and the concatenated nodes ``[2, 3, 4, 5]``.")


@flax.struct.dataclass
class Arch:
  """A DARTS architecture: ``normal`` and ``reduce`` cells, each ``int32[..., 8, 2]`` of
  ``(input, op)`` pairs in NASLib's compact order (pairs 2j, 2j+1 feed node j)."""

  normal: jax.Array  # [..., 8, 2] int32
  reduce: jax.Array  # [..., 8, 2] int32

  @property
  def shape(self) -> tuple[int, ...]:
    """The batch shape."""
    return tuple(np.shape(self.normal)[:-2])

  def __getitem__(self, idx):
    return Arch(normal=self.normal[idx], reduce=self.reduce[idx])


def _pairs(cell: Sequence[tuple[str, int]]) -> np.ndarray:
  return np.array([(i, OPS.index(o)) for o, i in cell], np.int32)


# The DARTS-V2 cell of the DARTS paper's CIFAR-10 result (``genotypes.DARTS_V2``); numpy leaves so
# that importing this module does no JAX work.
DARTS_V2 = Arch(
    normal=_pairs([("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
                   ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0),
                   ("skip_connect", 0), ("dil_conv_3x3", 2)]),
    reduce=_pairs([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                   ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                   ("skip_connect", 2), ("max_pool_3x3", 1)]))


# ----------------------------------------------------------------------------- validity


def _as_arch(arch) -> Arch:
  if not isinstance(arch, Arch):
    t = type(arch)
    raise ValueError(f"a {t.__module__}.{t.__qualname__} is not an architecture of search space "
                     f"{NAME} (expected {__name__}.Arch with normal and reduce: int32[..., 8, 2])")
  return arch


def _stack(arch) -> jax.Array:
  """``int32[..., 2, 8, 2]``: (cell, pair, field) with field 0 the input, 1 the op."""
  a = _as_arch(arch)
  return jnp.stack([jnp.asarray(a.normal, jnp.int32), jnp.asarray(a.reduce, jnp.int32)], -3)


def _unstack(x) -> Arch:
  return Arch(normal=x[..., 0, :, :], reduce=x[..., 1, :, :])


def _shapes_ok(a: Arch) -> bool:
  n, r = np.shape(a.normal), np.shape(a.reduce)
  dt = (jnp.result_type(a.normal), jnp.result_type(a.reduce))
  return (len(n) >= 2 and n[-2:] == (NUM_PAIRS, 2) and n == r
          and all(jnp.issubdtype(d, jnp.integer) for d in dt))


@jax.jit
def _valid_arrays(x) -> jax.Array:
  """``bool[...]`` of a stacked ``[..., 2, 8, 2]`` architecture. Jitted as one function (here and
  for the other kernels below) because host code calls these eagerly on batches of every shape
  (checks, tests): op by op each new shape costs dozens of primitive compiles; inside a caller's
  jit it is inlined like any function."""
  inp, op = x[..., 0], x[..., 1]
  in_range = (inp >= 0) & (inp <= jnp.asarray(MAX_INPUT)) & (op >= 0) & (op < NUM_OPS)
  distinct = inp[..., 0::2] != inp[..., 1::2]
  return jnp.all(in_range, axis=(-2, -1)) & jnp.all(distinct, axis=(-2, -1))


def is_valid(arch) -> jax.Array:
  """``bool[...]``: every pair's input in ``0 .. p // 2 + 1`` and op in ``0 .. 6``, and the two
  inputs of each node distinct (raw values). Jittable; a wrong shape or dtype gives False."""
  a = _as_arch(arch)
  if not _shapes_ok(a):
    n = np.shape(a.normal)
    return jnp.zeros(n[:-2] if len(n) >= 2 else (), bool)
  return _valid_arrays(_stack(a))


def check(arch) -> tuple[np.ndarray, np.ndarray]:
  """Host-side validation: ``(normal np.int32[..., 8, 2], reduce np.int32[..., 8, 2])`` or a
  one-line ValueError naming what is wrong and what is valid."""
  a = _as_arch(arch)
  cells = [np.asarray(a.normal), np.asarray(a.reduce)]
  for name, c in zip(CELLS, cells):
    if c.ndim < 2 or c.shape[-2:] != (NUM_PAIRS, 2):
      raise ValueError(f"{NAME} {name} cell needs shape [..., 8, 2] of (input, op) pairs, got "
                       f"{c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
      raise ValueError(f"{NAME} {name} cell must hold integers, got {c.dtype}")
  if cells[0].shape != cells[1].shape:
    raise ValueError(f"{NAME} normal and reduce cells differ in shape: {cells[0].shape} and "
                     f"{cells[1].shape}")
  for name, c in zip(CELLS, cells):
    op = c[..., 1]
    if ((op < 0) | (op >= NUM_OPS)).any():
      bad = int(op[(op < 0) | (op >= NUM_OPS)].flat[0])
      raise ValueError(f"{NAME} {name} op index {bad} out of range: valid are 0..6 = "
                       f"{', '.join(OPS)}")
    inp = c[..., 0]
    bad = (inp < 0) | (inp > MAX_INPUT)
    if bad.any():
      p = int(np.argwhere(bad)[0][-1])
      raise ValueError(f"{NAME} {name} pair {p} input {int(inp[bad].flat[0])} out of range: pair "
                       f"{p} (node {p // 2}) reads 0..{p // 2 + 1}")
    same = inp[..., 0::2] == inp[..., 1::2]
    if same.any():
      j = int(np.argwhere(same)[0][-1])
      raise ValueError(f"{NAME} {name} node {j} reads input {int(inp[..., 0::2][same].flat[0])} "
                       f"twice: the two inputs of a node (pairs {2 * j}, {2 * j + 1}) must differ")
  return cells[0].astype(np.int32), cells[1].astype(np.int32)


# ----------------------------------------------------------------------------- canonical form


def canonical(arch) -> Arch:
  """The same architecture with each node's two pairs ordered by input (the network is
  unchanged: a node sums its two op outputs). Jittable."""
  return _unstack(_canonical_arrays(_stack(arch)))


@jax.jit
def _canonical_arrays(x) -> jax.Array:
  first, second = x[..., 0::2, :], x[..., 1::2, :]
  swap = (first[..., 0] > second[..., 0])[..., None]
  lo, hi = jnp.where(swap, second, first), jnp.where(swap, first, second)
  return jnp.stack([lo, hi], -2).reshape(x.shape)


def fingerprint(arch) -> jax.Array:
  """``int32[..., 4]``: the :func:`canonical` compact packed exactly (6 bits per pair, 4 pairs per
  word: words 0-1 the normal cell, 2-3 the reduction cell); equal iff the architectures are equal
  up to the order of a node's two pairs. Jittable."""
  return _fingerprint_arrays(_canonical_arrays(_stack(arch)))


@jax.jit
def _fingerprint_arrays(x) -> jax.Array:
  code = jnp.clip(x[..., 0], 0, 7) * 8 + jnp.clip(x[..., 1], 0, 7)  # [..., 2, 8] in 0..63
  code = code.reshape(code.shape[:-2] + (4, 4))
  place = jnp.asarray([1, 64, 64**2, 64**3], jnp.int32)
  return jnp.sum(code * place, -1).astype(jnp.int32)


# ----------------------------------------------------------------------------- strings, genotypes


def _from_nested(values, text=None) -> Arch:
  """An :class:`Arch` from nested lists/tuples of shape (2, 8, 2) or 32 flat ints; checked."""
  shown = text if text is not None else values
  try:
    arr = np.asarray(values)
  except (ValueError, TypeError):
    arr = None
  if arr is None or arr.dtype.kind not in "iu" or arr.size != 2 * NUM_PAIRS * 2:
    raise ValueError(f"not a {NAME} architecture: {shown!r} (expected NASLib's compact form "
                     "[[(input, op) x 8], [(input, op) x 8]], e.g. "
                     f"{to_string(DARTS_V2)!r}, or a DARTS Genotype(...) text)")
  arr = arr.reshape(2, NUM_PAIRS, 2).astype(np.int32)
  a = Arch(normal=arr[0], reduce=arr[1])
  check(a)
  return Arch(normal=jnp.asarray(arr[0]), reduce=jnp.asarray(arr[1]))


def from_naslib(values) -> Arch:
  """NASLib's compact (``((input, op) x 8, (input, op) x 8)``, nested lists or tuples, or the 32
  ints flat) -> :class:`Arch`, checked (one-line ValueError)."""
  return _from_nested(values)


def to_naslib(arch) -> tuple:
  """NASLib's compact: a tuple of two tuples of 8 ``(input, op)`` tuples (one architecture)."""
  n, r = check(arch)
  if n.ndim != 2:
    raise ValueError(f"to_naslib takes one {NAME} architecture, got batch shape {n.shape[:-2]}")
  return tuple(tuple((int(i), int(o)) for i, o in c) for c in (n, r))


def to_string(arch) -> str | list:
  """NASLib's compact form as the 725-file keys write it: ``'[[(0, 3), (1, 3), ...], [...]]'``;
  a batch gives a list."""
  n, r = check(arch)
  if n.ndim > 2:
    return [to_string(Arch(normal=a, reduce=b)) for a, b in
            zip(n.reshape(-1, NUM_PAIRS, 2), r.reshape(-1, NUM_PAIRS, 2))]
  return str([[(int(i), int(o)) for i, o in c] for c in (n, r)])


def to_genotype(arch) -> Genotype:
  """DARTS's :data:`Genotype` of one architecture: ``(op name, input)`` per pair, concat 2..5."""
  n, r = check(arch)
  if n.ndim != 2:
    raise ValueError(f"to_genotype takes one {NAME} architecture, got batch shape {n.shape[:-2]}")
  return Genotype(normal=[(OPS[int(o)], int(i)) for i, o in n], normal_concat=list(CONCAT),
                  reduce=[(OPS[int(o)], int(i)) for i, o in r], reduce_concat=list(CONCAT))


def genotype_string(arch) -> str | list:
  """DARTS's genotype text, ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4,
  5], reduce=[...], reduce_concat=[2, 3, 4, 5])``; a batch gives a list."""
  n, r = check(arch)
  if n.ndim > 2:
    return [genotype_string(Arch(normal=a, reduce=b)) for a, b in
            zip(n.reshape(-1, NUM_PAIRS, 2), r.reshape(-1, NUM_PAIRS, 2))]
  return repr(to_genotype(Arch(normal=n, reduce=r)))


_GENO_FORM = ("Genotype(normal=[('sep_conv_3x3', 0), ... 8 pairs], normal_concat=[2, 3, 4, 5], "
              "reduce=[... 8 pairs], reduce_concat=[2, 3, 4, 5])")


def _concat_value(node, text):
  if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
      and not node.keywords):
    return list(range(*[ast.literal_eval(a) for a in node.args]))
  return list(ast.literal_eval(node))


def from_genotype(genotype) -> Arch:
  """A :data:`Genotype` (or any object with ``normal`` / ``reduce`` lists of ``(op name, input)``
  and concat ``[2, 3, 4, 5]``), or its text, -> :class:`Arch`; one-line ValueError otherwise."""
  if isinstance(genotype, str):
    return _parse_genotype(genotype)
  try:
    cells = [list(genotype.normal), list(genotype.reduce)]
    concats = [list(genotype.normal_concat), list(genotype.reduce_concat)]
  except (AttributeError, TypeError):
    raise ValueError(f"not a DARTS genotype: {genotype!r} (expected {_GENO_FORM})") from None
  return _from_cells(cells, concats, genotype)


def _from_cells(cells, concats, shown) -> Arch:
  out = []
  for name, cell, concat in zip(CELLS, cells, concats):
    if list(concat) != list(CONCAT):
      raise ValueError(f"{NAME} genotype {name}_concat must be [2, 3, 4, 5] (every node), got "
                       f"{list(concat)}")
    if len(cell) != NUM_PAIRS:
      raise ValueError(f"{NAME} genotype {name} cell needs 8 (op, input) pairs, got {len(cell)}")
    pairs = []
    for item in cell:
      if (not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str)
          or not isinstance(item[1], (int, np.integer))):
        raise ValueError(f"not a DARTS genotype pair: {item!r} in {shown!r} (expected "
                         "('sep_conv_3x3', 0))")
      if item[0] not in OPS:
        raise ValueError(f"unknown {NAME} op {item[0]!r}; valid ops: {', '.join(OPS)}")
      pairs.append((int(item[1]), OPS.index(item[0])))
    out.append(pairs)
  return _from_nested(out, shown)


def _parse_genotype(text: str) -> Arch:
  try:
    tree = ast.parse(text.strip(), mode="eval").body
  except SyntaxError:
    tree = None
  if (not isinstance(tree, ast.Call) or getattr(tree.func, "id", getattr(tree.func, "attr", ""))
      != "Genotype"):
    raise ValueError(f"not a DARTS genotype text: {text!r} (expected {_GENO_FORM})")
  fields = dict(zip(Genotype._fields, tree.args))
  fields.update({k.arg: k.value for k in tree.keywords})
  if set(fields) != set(Genotype._fields):
    raise ValueError(f"DARTS genotype text needs normal, normal_concat, reduce, reduce_concat; "
                     f"got {', '.join(sorted(map(str, fields)))}")
  try:
    cells = [ast.literal_eval(fields["normal"]), ast.literal_eval(fields["reduce"])]
    concats = [_concat_value(fields["normal_concat"], text),
               _concat_value(fields["reduce_concat"], text)]
  except (ValueError, TypeError, SyntaxError):
    raise ValueError(f"not a DARTS genotype text: {text!r} (expected {_GENO_FORM})") from None
  return _from_cells(cells, concats, text)


def from_string(s: str) -> Arch:
  """Reads NASLib's compact text (lists or tuples, as the 725-file keys) or DARTS's genotype text.
  One-line ValueError naming both forms."""
  if not isinstance(s, str):
    raise ValueError(f"{NAME} architecture string expected, got {type(s).__name__} {s!r}")
  text = s.strip()
  if "Genotype" in text:
    return _parse_genotype(text)
  try:
    values = ast.literal_eval(text)
  except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
    values = None
  if values is None:
    raise ValueError(f"not a {NAME} architecture string: {s!r} (expected NASLib's compact form, "
                     f"e.g. {to_string(DARTS_V2)!r}, or a DARTS {_GENO_FORM} text)")
  return _from_nested(values, s)


# ----------------------------------------------------------------------------- sampling


def _sample_one(key) -> Arch:
  w = rng.words(key, 2 * NUM_NODES * 4).reshape(2, NUM_NODES, 4)  # [cell, node, 4]
  n = jnp.arange(NUM_NODES, dtype=jnp.uint32) + 2  # choices of node j's inputs
  first = (w[..., 0] % n).astype(jnp.int32)
  second = ((first.astype(jnp.uint32) + 1 + w[..., 1] % (n - 1)) % n).astype(jnp.int32)
  ops = (w[..., 2:] % NUM_OPS).astype(jnp.int32)  # [cell, node, 2]
  inp = jnp.stack([first, second], -1)  # [cell, node, 2]
  x = jnp.stack([inp, ops], -1).reshape(2, NUM_PAIRS, 2)
  return _unstack(x)


def sample(key: jax.Array, shape: tuple[int, ...] = ()) -> Arch:
  """NASLib's ``sample_random_architecture``: per cell and node ``j`` two distinct inputs uniformly
  from ``0 .. j + 1`` (random order) and two ops uniformly over the 7. Jittable;
  ``Arch[*shape]``."""
  return _sample(key, tuple(shape))


@functools.partial(jax.jit, static_argnames="shape")
def _sample(key, shape) -> Arch:
  n = int(np.prod(shape)) if shape else 1
  keys = rng.split(key, max(n, 1))[:n]
  a = jax.vmap(_sample_one)(keys)
  return jax.tree.map(lambda x: x.reshape(shape + x.shape[1:]), a)


# ----------------------------------------------------------------------------- neighbourhood


def _neighbour_tables():
  """Static ``[120]`` cell, pair, field (0 input, 1 op) and step of each neighbour: op changes
  (step 1..6: op + step mod 7) by cell, pair; then input changes (step t: the t-th input, in
  increasing order, that is neither the current one nor the sibling's) by cell, pair."""
  rows = [(c, p, 1, s) for c in range(2) for p in range(NUM_PAIRS) for s in range(1, NUM_OPS)]
  rows += [(c, p, 0, t) for c in range(2) for p in range(NUM_PAIRS) for t in range(p // 2)]
  return tuple(np.array(col, np.int32) for col in zip(*rows))


_NB_CELL, _NB_PAIR, _NB_FIELD, _NB_STEP = _neighbour_tables()
assert len(_NB_CELL) == NUM_NEIGHBOURS
# NASLib's draw law restricted to effective edits (see the module docstring): op change 1/7 each,
# input change of pair p 1/(p//2 + 2) each; every (cell, pair, field) is picked with 1/32 first.
_MUTATE_WEIGHTS = np.where(_NB_FIELD == 1, 1.0 / NUM_OPS, 1.0 / (_NB_PAIR // 2 + 2))
MUTATE_PROBS = _MUTATE_WEIGHTS / _MUTATE_WEIGHTS.sum()  # [120]: law of mutate over neighbours
_MUTATE_CDF = np.cumsum(MUTATE_PROBS).astype(np.float32)


@jax.jit
def _change(x, c, p, field, step) -> jax.Array:
  """The stacked architecture ``x [..., 2, 8, 2]`` with one edit; ``c, p, field, step`` are
  scalars or arrays broadcasting against the batch ``[...]`` (masks, no gather or scatter)."""
  c, p, field, step = (jnp.asarray(v, jnp.int32) for v in (c, p, field, step))
  cell = jnp.arange(2) == c[..., None]  # [..., 2]
  sel = cell[..., :, None] & (jnp.arange(NUM_PAIRS) == p[..., None])[..., None, :]  # [..., 2, 8]
  sib = cell[..., :, None] & (jnp.arange(NUM_PAIRS) == (p ^ 1)[..., None])[..., None, :]
  cur_in = jnp.sum(jnp.where(sel, x[..., 0], 0), (-2, -1))
  sib_in = jnp.sum(jnp.where(sib, x[..., 0], 0), (-2, -1))
  cur_op = jnp.sum(jnp.where(sel, x[..., 1], 0), (-2, -1))
  lo, hi = jnp.minimum(cur_in, sib_in), jnp.maximum(cur_in, sib_in)
  v = step + (step >= lo)
  v = v + (v >= hi)
  new = jnp.where(field == 0, v, (cur_op + step) % NUM_OPS)
  where = sel[..., None] & (jnp.arange(2) == field[..., None])[..., None, None, :]
  return jnp.where(where, new[..., None, None, None], x).astype(jnp.int32)


def neighbour(arch, k) -> Arch:
  """The ``k``-th of :func:`neighbours` (``k`` may be traced). Jittable."""
  return _unstack(_neighbour_arrays(_stack(arch), jnp.asarray(k, jnp.int32)))


@jax.jit
def _neighbour_arrays(x, k) -> jax.Array:
  return _change(x, jnp.asarray(_NB_CELL)[k], jnp.asarray(_NB_PAIR)[k], jnp.asarray(_NB_FIELD)[k],
                 jnp.asarray(_NB_STEP)[k])


def neighbours(arch) -> Arch:
  """NASLib's ``get_nbhd``: the K = 120 one-edit changes in a fixed order (every pair's 6 other
  ops, then every pair's other inputs not used by its sibling). Jittable;
  ``Arch[..., 120]``."""
  return _unstack(_neighbours_arrays(_stack(arch)))


@jax.jit
def _neighbours_arrays(x) -> jax.Array:
  batch = x.shape[:-3]
  xk = jnp.broadcast_to(x[..., None, :, :, :], batch + (NUM_NEIGHBOURS,) + x.shape[-3:])
  return _change(xk, jnp.asarray(_NB_CELL), jnp.asarray(_NB_PAIR), jnp.asarray(_NB_FIELD),
                 jnp.asarray(_NB_STEP))


def neighbours_masked(arch) -> tuple[Arch, jax.Array]:
  """``(Arch[..., 120], bool[..., 120])``: :func:`neighbours` and their validity (all True for a
  valid architecture). Jittable."""
  nbrs = neighbours(arch)
  return nbrs, is_valid(nbrs)


def mutate(key: jax.Array, arch) -> Arch:
  """One edit, NASLib's 2021 ``mutate`` law conditioned on changing something (module docstring):
  one of the 120 neighbours drawn with :data:`MUTATE_PROBS`. Jittable; one architecture (``vmap``
  for a batch). The child of a valid parent is valid and differs in exactly one entry."""
  return _unstack(_mutate_arrays(key, _stack(arch)))


@jax.jit
def _mutate_arrays(key, x) -> jax.Array:
  u = (rng.words(key, 1)[0] >> 8).astype(jnp.float32) / float(1 << 24)
  k = jnp.minimum(jnp.searchsorted(jnp.asarray(_MUTATE_CDF), u, side="right"), NUM_NEIGHBOURS - 1)
  return _neighbour_arrays(x, k)


# ----------------------------------------------------------------------------- encodings

ADJ_DIM = 2 * (7 * 7 + NUM_PAIRS)  # 114
COMPACT_DIM = 2 * NUM_PAIRS * 2  # 32
MAX_PATHS = sum(NUM_OPS**i for i in range(NUM_NODES + 1))  # 2,801 per cell input
PATH_DIM = 4 * MAX_PATHS  # 11,204
GRAPH_NODES = 2 * (NUM_PAIRS + 3)  # 22
GRAPH_DIM = GRAPH_NODES * GRAPH_NODES + GRAPH_NODES * NUM_OPS  # 638
# the path encoding's nonzero slots as a list: at most one per chain of pairs (160)
PATH_INDICES_DIM = 2 * 80
ENCODING_DIMS = (("adjacency_one_hot", ADJ_DIM), ("compact", COMPACT_DIM), ("path", PATH_DIM),
                 ("graph", GRAPH_DIM), ("path_indices", PATH_INDICES_DIM))

# adjacency: pair p's destination one-hot over the 7 vertices; nodes 2..5 -> output 6
_DEST = np.zeros((NUM_PAIRS, 7), np.float32)
_DEST[np.arange(NUM_PAIRS), np.arange(NUM_PAIRS) // 2 + 2] = 1
_TO_OUTPUT = np.zeros((7, 7), np.float32)
_TO_OUTPUT[2:6, 6] = 1


def _chains():
  """Static chains of pairs with strictly increasing nodes (80 per cell): ``[160, 4]`` pairs
  (padded with -1), their cell, their length."""
  out = []
  for c in range(2):
    for length in range(1, NUM_NODES + 1):
      for nodes in itertools.combinations(range(NUM_NODES), length):
        for picks in itertools.product((0, 1), repeat=length):
          pairs = [2 * j + b for j, b in zip(nodes, picks)]
          out.append((c, pairs + [-1] * (NUM_NODES - length)))
  cell = np.array([c for c, _ in out], np.int32)
  pairs = np.array([p for _, p in out], np.int32)
  return cell, pairs


_CH_CELL, _CH_PAIRS = _chains()
_CH_LIVE = _CH_PAIRS >= 0  # [160, 4]
_CH_P = np.maximum(_CH_PAIRS, 0)
# the node whose output step i reads (step 0 reads a cell input): node of the previous pair + 2
_CH_PREV = np.concatenate([np.full((len(_CH_P), 1), -1), _CH_P[:, :-1] // 2 + 2], 1)
_CH_PLACE = np.where(_CH_LIVE, NUM_OPS ** np.arange(NUM_NODES), 0).astype(np.int32)

# graph: source vertex s's "value" as a pair input (0, 1 the cell inputs, 2 + q: the node of pair
# q), -1 for the output vertex; per cell 11 vertices (inputs, 8 pairs, output)
_SRC_VALUE = np.array([0, 1] + [q // 2 + 2 for q in range(NUM_PAIRS)] + [-1], np.int32)


def _path_slots(x):
  """Every chain's path-encoding slot and whether it is a live input-to-output path:
  ``(int32[..., 160], bool[..., 160])``."""
  inp, op = x[..., 0], x[..., 1]  # [..., 2, 8]
  cell = jnp.asarray(_CH_CELL)
  ci = inp[..., cell[:, None], jnp.asarray(_CH_P)]  # [..., 160, 4]
  co = op[..., cell[:, None], jnp.asarray(_CH_P)]
  first = ci[..., 0]
  ok = (first <= 1) & jnp.all(~jnp.asarray(_CH_LIVE[:, 1:]) | (ci[..., 1:] == jnp.asarray(
      _CH_PREV[:, 1:])), -1)
  idx = (cell * 2 * MAX_PATHS + jnp.clip(first, 0, 1) * MAX_PATHS
         + jnp.sum(jnp.asarray(_CH_PLACE) * (jnp.clip(co, 0, NUM_OPS - 1) + 1), -1))
  return idx, ok


def _encode_path(x) -> jax.Array:
  idx, ok = _path_slots(x)
  batch = idx.shape[:-1]
  flat_idx = idx.reshape(-1, idx.shape[-1])
  flat_ok = ok.reshape(-1, ok.shape[-1]).astype(jnp.float32)
  enc = jax.vmap(lambda i, v: jnp.zeros(PATH_DIM, jnp.float32).at[i].max(v))(flat_idx, flat_ok)
  return enc.reshape(batch + (PATH_DIM,))


def _encode_path_indices(x) -> jax.Array:
  # the distinct nonzero slots of ``path`` (two chains with the same op labels share one), sorted,
  # -1 padded: ``path`` == one_hot(path_indices, PATH_DIM).max(-2), exactly
  idx, ok = _path_slots(x)
  s = jnp.sort(jnp.where(ok, idx, -1), axis=-1)
  dup = jnp.concatenate([jnp.zeros_like(s[..., :1], bool), s[..., 1:] == s[..., :-1]], -1)
  return jnp.where(dup, -1, s).astype(jnp.float32)


def _encode_graph(x) -> jax.Array:
  inp, op = x[..., 0], x[..., 1]  # [..., 2, 8]
  batch = inp.shape[:-2]
  v = NUM_PAIRS + 3
  # [..., 2, 11, 8]: source vertex s feeds pair p's vertex
  into_pairs = (inp[..., None, :] == jnp.asarray(_SRC_VALUE)[:, None]).astype(jnp.float32)
  cell_adj = jnp.zeros(batch + (2, v, v), jnp.float32)
  cell_adj = cell_adj.at[..., :, 2:2 + NUM_PAIRS].set(into_pairs)
  cell_adj = cell_adj.at[..., 2:2 + NUM_PAIRS, v - 1].set(1.0)
  adj = jnp.zeros(batch + (2 * v, 2 * v), jnp.float32)
  adj = adj.at[..., :v, :v].set(cell_adj[..., 0, :, :]).at[..., v:, v:].set(cell_adj[..., 1, :, :])
  adj = adj.at[..., v - 1, v].set(1.0).at[..., v - 1, v + 1].set(1.0)  # normal out -> reduce in
  feats = jax.nn.one_hot(op, NUM_OPS)  # [..., 2, 8, 7]
  zero2 = jnp.zeros(batch + (2, 2, NUM_OPS), jnp.float32)
  zero1 = jnp.zeros(batch + (2, 1, NUM_OPS), jnp.float32)
  h = jnp.concatenate([zero2, feats, zero1], -2).reshape(batch + (2 * v, NUM_OPS))
  return jnp.concatenate([adj.reshape(batch + (-1,)), h.reshape(batch + (-1,))], -1)


def encode(arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """Predictor features (module docstring). Jittable.

  Args:
    arch: ``Arch[...]``.
    kind: ``adjacency_one_hot`` (114, NASLib's ``encode_adj``), ``compact`` (32), ``path``
      (11,204, NASLib's ``encode_paths`` over all 8 pairs) or ``graph`` (638, the GCN's).

  Returns:
    ``f32[..., D]``.
  """
  if kind not in dict(ENCODING_DIMS):
    raise ValueError(f"unknown encoding {kind!r} for search space {NAME}; valid: "
                     f"{', '.join(k for k, _ in ENCODING_DIMS)}")
  return _encode_arrays(_stack(arch), kind)


@functools.partial(jax.jit, static_argnames="kind")
def _encode_arrays(x, kind: str) -> jax.Array:
  batch = x.shape[:-3]
  if kind == "compact":
    return x.reshape(batch + (COMPACT_DIM,)).astype(jnp.float32)
  if kind == "adjacency_one_hot":
    inp = jax.nn.one_hot(jnp.clip(x[..., 0], 0, 6), 7)  # [..., 2, 8, 7]
    m = jnp.minimum(jnp.einsum("...pi,pd->...id", inp, jnp.asarray(_DEST)), 1.0)
    m = m + jnp.asarray(_TO_OUTPUT)
    ops = x[..., 1].astype(jnp.float32)  # [..., 2, 8]
    return jnp.concatenate([m.reshape(batch + (2, 49)), ops], -1).reshape(batch + (ADJ_DIM,))
  if kind == "path":
    return _encode_path(x)
  if kind == "path_indices":
    return _encode_path_indices(x)
  return _encode_graph(x)


# ----------------------------------------------------------------------------- categorical view

# per cell and pair: the input (p // 2 + 2 choices), then the op (7)
CATEGORICAL = tuple(v for _ in range(2) for p in range(NUM_PAIRS) for v in (p // 2 + 2, NUM_OPS))


def to_categorical(arch) -> jax.Array:
  """``int32[..., 32]``: per cell and pair, the input then the op (the compact flattened)."""
  x = _stack(arch)
  return x.reshape(x.shape[:-3] + (COMPACT_DIM,))


def from_categorical(x) -> Arch:
  """Inverse of :func:`to_categorical` (a node may read one input twice: invalid)."""
  x = jnp.asarray(x, jnp.int32)
  return _unstack(x.reshape(x.shape[:-1] + (2, NUM_PAIRS, 2)))


def all_archs() -> Arch:
  """Not enumerable: a one-line ValueError (``NUM_ARCHS`` ~1.08e18)."""
  raise ValueError(f"search space {NAME} has {NUM_ARCHS:,} architectures and cannot be enumerated;"
                   " sample it (space.sample) or read architectures from a file")


# ----------------------------------------------------------------------------- the record


def _with_options(**options) -> SearchSpace:
  bad = [k for k in options if k != "naslib_valid"]
  if bad:
    raise ValueError(f"unknown option {bad[0]!r} for search space {NAME}; valid: naslib_valid")
  return _record(bool(options.get("naslib_valid", True)))


@functools.lru_cache(maxsize=None)
def _record(naslib_valid: bool = True) -> SearchSpace:
  """The :class:`SearchSpace` record (``naslib_valid`` is accepted for interface parity: NASLib's
  DARTS sampler draws valid architectures only, so it changes nothing)."""
  return SearchSpace(
      name=NAME, arch_type=Arch, num_archs=None, num_neighbours=NUM_NEIGHBOURS,
      sample=sample, mutate=mutate, neighbours=neighbours, neighbour=neighbour,
      is_valid=is_valid, encode=encode, to_id=None, from_id=None, to_string=to_string,
      from_string=from_string, encodings=tuple(k for k, _ in ENCODING_DIMS),
      fingerprint=fingerprint, neighbours_masked=neighbours_masked, encoding_dims=ENCODING_DIMS,
      categorical=CATEGORICAL, to_categorical=to_categorical, from_categorical=from_categorical,
      edges=EDGES, ops=OPS, all_archs=all_archs, check=check, from_naslib=from_naslib,
      options=(("naslib_valid", naslib_valid),), with_options=_with_options)


SPACE = _record(True)

__all__ = ["ADJ_DIM", "Arch", "CATEGORICAL", "CELLS", "CONCAT", "DARTS_V2", "EDGES", "ENCODING_DIMS",
           "Genotype", "MAX_INPUT", "MUTATE_PROBS", "NAME", "NUM_ARCHS", "NUM_CELL", "NUM_COMPACT",
           "NUM_NEIGHBOURS", "NUM_NODES", "NUM_OPS", "NUM_PAIRS", "OPS", "SPACE", "all_archs",
           "canonical", "check", "encode", "fingerprint", "from_categorical", "from_genotype",
           "from_naslib", "from_string", "genotype_string", "is_valid", "mutate", "neighbour",
           "neighbours", "neighbours_masked", "sample", "to_categorical", "to_genotype",
           "to_naslib", "to_string"]
