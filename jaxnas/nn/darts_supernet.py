"""The DARTS search supernet (Liu et al., ICLR 2019; NAS-Bench-301's space) and its
:class:`~jaxnas.nn.cell.SupernetSpec`, so that every one-shot optimizer of
:mod:`jaxnas.optimizers.oneshot` searches the DARTS space (``../shared/SPACES.md`` section 2).

Network (DARTS ``model_search.Network``): stem Conv 3x3 3 -> 3C + BN (affine); ``layers`` cells
(default 8, reductions at ``layers // 3`` and ``2 * layers // 3``, channels x2 there); each cell
preprocesses its two inputs ``c_{k-2}``, ``c_{k-1}`` to C channels (ReLU-conv1x1-BN, or
FactorizedReduce for ``c_{k-2}`` after a reduction cell), has 4 intermediate nodes, node ``j``
(2..5) summing a :class:`~jaxnas.nn.cell.MixedOp` on each of its ``j`` inputs (14 mixed edges; the
edges reading the cell inputs have stride 2 in a reduction cell) and outputs the concat of the 4
nodes (4C channels); global average pooling and a linear classifier. Cell ops are the 8 DARTS
search primitives, ``none`` included, in DARTS's ``PRIMITIVES`` order (:data:`OPS`): BN inside
ops and preprocessing non-affine (``cell_bn``), a non-affine BN after each pool.

Alphas: one ``op_weights: f32[28, 8]`` per step: rows 0-13 are the normal cell's 14 edges, rows
14-27 the reduction cell's, each block in DARTS's edge order (node 2: inputs 0, 1; node 3: 0, 1,
2; node 4: 0..3; node 5: 0..4; the order of nasbench301's ``edge_{normal|reduce}_{0..13}``).
Every normal cell reads the first block, every reduction cell the second (DARTS's
``alphas_normal`` / ``alphas_reduce``). Columns: :data:`OPS` (column ``o + 1`` is the compact op
``o`` of the ``darts`` space, column 0 is ``none``).

An architecture of the ``darts`` space (``normal``, ``reduce``: ``int32[8, 2]`` of (input, op))
is a path through the supernet: its two chosen edges per node carry their op, every other edge
``none`` (:func:`arch_to_ops`, ``int32[28]`` in ``0..7``). :class:`DartsSupernetSpec` gives the
one-shot optimizers that view: one-hot op weights of an Arch, the path sampler (the space's
uniform sampler), the PC-DARTS edge groups (the edges of one node of one cell type) and
``discretize``, DARTS's genotype rule: for each node keep the two incoming edges whose strongest
non-``none`` op weight is largest (ties: the lower input first), each with that op.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.nn import cell as ncell
from jaxnas.nn import darts_ops
from jaxnas.nn.layers import DEFAULT_BN, BatchNorm, BNConfig, Conv, Dense
from jaxnas.nn.materialize import materialize
from jaxnas.spaces import darts as space

Array = jax.Array

# DARTS's search PRIMITIVES (``genotypes.PRIMITIVES``): ``none`` then the space's 7 ops in the
# compact order, so supernet column = compact op + 1.
OPS = darts_ops.PRIMITIVES
NONE = 0
NUM_NODES = 4  # intermediate nodes per cell
CELL_EDGES = tuple((i, j) for j in range(2, 2 + NUM_NODES) for i in range(j))  # 14, DARTS order
NUM_CELL_EDGES = len(CELL_EDGES)  # 14
NODE_OFFSET = (0, 2, 5, 9)  # first edge of each intermediate node
# The alpha rows: 14 normal edges then 14 reduce edges. Reduction-cell rows are written with their
# nodes shifted by 6 (their inputs 0..5 -> 6..11) so that every row is a distinct (source, target)
# pair and the PC-DARTS edge groups (the rows sharing a target) stay within one cell type.
SHIFT = 2 + NUM_NODES
EDGES = CELL_EDGES + tuple((i + SHIFT, j + SHIFT) for i, j in CELL_EDGES)  # 28
DEFAULT_CELL_BN = BNConfig(affine=False)  # DARTS search: non-affine BN in ops and preprocessing


# ----------------------------------------------------------------------------- ops (search style)


def _op(name: str):
  """A cell-library factory of ``jaxnas.nn.darts_ops``'s op ``name``, search style (non-affine BN
  after the pools), BN affine as ``bn.affine`` (DARTS's ops always keep running statistics). The
  module is made unbound (``parent=None``) because :class:`jaxnas.nn.cell.MixedOp` names it."""
  def make(c_in: int, c_out: int, stride: int, bn: BNConfig) -> nn.Module:
    del c_in
    a, kw = bn.affine, {"parent": None}
    # fast_grad: loop depthwise convs with custom VJPs and 1x1 convs as matmuls (the one-cell
    # gradient at C=16, 32x32, batch 16: 31-38 -> 1.7-1.9 CPU-s; docs/darts_supernet.md)
    if name.startswith("sep_conv"):
      return darts_ops.SepConv(c_out, darts_ops.KERNEL[name], stride, a, True, **kw)
    if name.startswith("dil_conv"):
      return darts_ops.DilConv(c_out, darts_ops.KERNEL[name], stride, 2, a, True, **kw)
    if name.endswith("pool_3x3"):
      return darts_ops.Pool(c_out, name[:3], stride, True, **kw)
    if name == "skip_connect":
      return (darts_ops.Identity(**kw) if stride == 1
              else darts_ops.FactorizedReduce(c_out, c_out, a, **kw))
    return darts_ops.Zero(stride, **kw)
  return make


# op name -> factory (c_in, c_out, stride, bn) -> module called (x, train) (see jaxnas.nn.cell)
LIBRARY = ncell.as_library({o: _op(o) for o in OPS}, OPS)


# ----------------------------------------------------------------------------- arch <-> ops


def _cell_to_ops(cell: Array) -> Array:
  """``int[..., 8, 2]`` (input, op) pairs -> ``int32[..., 14]`` supernet ops (``none`` off-path)."""
  cell = jnp.asarray(cell)
  node = jnp.arange(8) // 2
  edge = jnp.asarray(NODE_OFFSET)[node] + cell[..., 0]  # [..., 8]
  hot = jax.nn.one_hot(edge, NUM_CELL_EDGES, dtype=jnp.int32)  # [..., 8, 14]
  return jnp.sum(hot * (cell[..., 1:2] + 1), axis=-2).astype(jnp.int32)


def arch_to_ops(arch) -> Array:
  """A ``darts`` Arch (or a batch) as its path through the supernet: ``int32[..., 28]`` with the
  op (``1..7`` = compact op + 1) on its 16 chosen edges and ``none`` (0) elsewhere."""
  return jnp.concatenate([_cell_to_ops(arch.normal), _cell_to_ops(arch.reduce)], -1)


def _discretize_cell(probs: Array) -> Array:
  """DARTS's ``_parse``: ``f32[..., 14, 8]`` -> ``int32[..., 8, 2]`` (input, compact op)."""
  real = probs[..., 1:]  # without none
  strength = jnp.max(real, -1)  # [..., 14]
  best_op = jnp.argmax(real, -1)  # [..., 14] compact op
  pairs = []
  for j, off in enumerate(NODE_OFFSET):
    n_in = j + 2
    _, top = lax.top_k(strength[..., off:off + n_in], 2)  # descending; ties: lower input first
    ops = jnp.take_along_axis(best_op[..., off:off + n_in], top, -1)
    pairs.append(jnp.stack([top, ops], -1))  # [..., 2, 2]
  return jnp.concatenate(pairs, -2).astype(jnp.int32)


def discretize(probs: Array):
  """The ``darts`` Arch of op weights ``f32[..., 28, 8]`` by DARTS's rule: per node the two
  incoming edges with the largest non-``none`` weight, each with its strongest non-``none`` op,
  the stronger edge first (Liu et al. 2019, Sec. 2.4; ``model_search.Network.genotype``)."""
  probs = jnp.asarray(probs)
  return space.Arch(normal=_discretize_cell(probs[..., :NUM_CELL_EDGES, :]),
                    reduce=_discretize_cell(probs[..., NUM_CELL_EDGES:, :]))


def sample_ops(key: Array) -> Array:
  """The path sampler (RandomNAS / OneShot scoring): a uniform ``darts`` architecture (NASLib's
  ``sample_random_architecture``) as ``int32[28]`` supernet ops."""
  return arch_to_ops(space.sample(key))


@dataclasses.dataclass(frozen=True)
class DartsSupernetSpec(ncell.SupernetSpec):
  """The DARTS supernet's view for one-shot optimizers: alphas ``[28, 8]`` (normal rows then
  reduce rows), architectures are ``darts`` Archs, discretisation by DARTS's top-2 rule."""

  def one_hot(self, archs) -> Array:
    """``f32[..., 28, 8]`` op weights of ``archs`` (a ``darts`` Arch or ``int[..., 28]`` ops)."""
    ops = arch_to_ops(archs) if hasattr(archs, "normal") else jnp.asarray(archs)
    return jax.nn.one_hot(ops, self.num_ops, dtype=jnp.float32)

  def to_arch(self, ops: Array):
    """The Arch of supernet ops ``int[..., 28]`` (a path: its non-``none`` edges; any other ops
    are read by the DARTS rule on their one-hot)."""
    return discretize(jax.nn.one_hot(jnp.asarray(ops), self.num_ops, dtype=jnp.float32))

  def discretize(self, probs: Array):
    """DARTS's genotype rule (:func:`discretize`), ``none`` never chosen."""
    return discretize(probs)

  @property
  def selects_edges(self) -> bool:
    """The discretization picks edges by strength (top 2 per node), so an edge's weight matters:
    PC-DARTS discretizes ``softmax(alpha) x edge_normalisation(beta)`` here."""
    return True

  @property
  def forward_mode(self) -> bool:
    """False: the search ops' depthwise convs (``darts_ops.LoopDWConv``) are custom-VJP
    functions, which JAX cannot differentiate in forward mode."""
    return False


SUPERNET_SPEC = DartsSupernetSpec(name="darts", edges=EDGES, ops=OPS, arch_type=space.Arch,
                                  sample_ops=sample_ops)


# ----------------------------------------------------------------------------- the network


def reduction_cells(layers: int) -> tuple[int, ...]:
  """Indices of the reduction cells: ``layers // 3`` and ``2 * layers // 3`` (DARTS)."""
  return tuple(sorted({layers // 3, 2 * layers // 3}))


# Edges grouped by source: group i holds the edges leaving node i (in CELL_EDGES order), all of
# which can run as soon as node i is complete.
OUT_EDGES = tuple(tuple(k for k, (i, _) in enumerate(CELL_EDGES) if i == src)
                  for src in range(1 + NUM_NODES))  # sizes 4, 4, 3, 2, 1


class EdgeGroup(nn.Module):
  """The ``n`` mixed edges leaving one node, run as one :class:`~jaxnas.nn.cell.MixedOp` vmapped
  over the edges (stacked variables ``[n, ...]``): XLA sees 5 edge groups per cell instead of 14
  edges, each op's convs batched over the group (grouped convolutions), which cuts the traced
  and compiled program about threefold. Returns ``f32[n, B, H', W', c]``."""

  n: int
  c: int
  stride: int
  bn: BNConfig = DEFAULT_CELL_BN
  mode: str = "mixed"
  partial_channels: int = 1

  @nn.compact
  def __call__(self, x: Array, weights: Array, train: bool) -> Array:
    vm = nn.vmap(ncell.MixedOp, variable_axes={"params": 0, "batch_stats": 0},
                 split_rngs={"params": True}, in_axes=(None, 0, None), out_axes=0,
                 axis_size=self.n)
    return vm(LIBRARY, self.c, self.c, self.stride, self.bn, self.mode, self.partial_channels,
              name="mixed")(x, weights, train)


class DartsSearchCell(nn.Module):
  """One DARTS search cell: preprocessing, 14 MixedOps (as 5 :class:`EdgeGroup`), concat of the
  4 intermediate nodes. ``op_weights: f32[14, 8]`` in :data:`CELL_EDGES` order."""

  c_pp: int
  c_p: int
  c: int
  reduction: bool
  reduction_prev: bool
  bn: BNConfig = DEFAULT_CELL_BN
  mode: str = "mixed"
  partial_channels: int = 1
  materialize_nodes: bool = False

  @nn.compact
  def __call__(self, s0: Array, s1: Array, op_weights: Array, train: bool) -> Array:
    affine = self.bn.affine
    if self.reduction_prev:
      s0 = darts_ops.FactorizedReduce(self.c_pp, self.c, affine, name="preprocess0")(s0, train)
    else:
      s0 = darts_ops.ReLUConvBN(self.c_pp, self.c, affine=affine, name="preprocess0")(s0, train)
    s1 = darts_ops.ReLUConvBN(self.c_p, self.c, affine=affine, name="preprocess1")(s1, train)
    node = materialize if self.materialize_nodes else (lambda h: h)
    states = [node(s0), node(s1)]
    partial: dict[int, list[Array]] = {j: [] for j in range(2, 2 + NUM_NODES)}
    for src, ks in enumerate(OUT_EDGES):
      if src >= 2:  # node src is complete: all its incoming edges ran in earlier groups
        states.append(node(sum(partial[src][1:], partial[src][0])))
      stride = 2 if self.reduction and src < 2 else 1
      ys = EdgeGroup(len(ks), self.c, stride, self.bn, self.mode, self.partial_channels,
                     name=f"from_{src}")(states[src], op_weights[np.asarray(ks)], train)
      for t, k in enumerate(ks):
        partial[CELL_EDGES[k][1]].append(ys[t])
    states.append(sum(partial[2 + NUM_NODES - 1][1:], partial[2 + NUM_NODES - 1][0]))
    return jnp.concatenate(states[2:], -1)


class DartsSupernet(nn.Module):
  """The DARTS search network with op-choice-as-input (see the module doc).

  Attributes:
    num_classes: classifier outputs.
    C: channels of the first cells (DARTS search: 16); the stem has ``3 * C``.
    layers: cells (DARTS search: 8).
    bn: the stem's BN (affine, as DARTS).
    cell_bn: BN of cell ops and preprocessing (DARTS: non-affine).
    mode, partial_channels: see :class:`jaxnas.nn.cell.MixedOp`.
    materialize_nodes: each cell's two inputs and four nodes, and their cotangents, in buffers
      of their own (:mod:`jaxnas.nn.materialize`); the one-shot optimizers set it for training.

  Call ``apply(variables, x, op_weights, train)``: ``x: f32[B, H, W, 3]``, ``op_weights:
  f32[28, 8]`` -> logits ``f32[B, num_classes]``.
  """

  num_classes: int
  C: int = 16
  layers: int = 8
  bn: BNConfig = DEFAULT_BN
  cell_bn: BNConfig = DEFAULT_CELL_BN
  mode: str = "mixed"
  partial_channels: int = 1
  materialize_nodes: bool = False

  @property
  def spec(self) -> DartsSupernetSpec:
    """The one-shot optimizers' view of this supernet (:data:`SUPERNET_SPEC`)."""
    return SUPERNET_SPEC

  @nn.compact
  def __call__(self, x: Array, op_weights: Array, train: bool) -> Array:
    if tuple(op_weights.shape) != SUPERNET_SPEC.alpha_shape:
      raise ValueError(f"op_weights must be f32{list(SUPERNET_SPEC.alpha_shape)} (14 normal + 14 "
                       f"reduce edges x 8 ops of darts), got shape {tuple(op_weights.shape)}")
    op_weights = op_weights.astype(x.dtype)
    c_cur = 3 * self.C
    h = Conv(3, c_cur, 3, 1, 1, name="stem_conv")(x)
    h = BatchNorm(c_cur, self.bn, name="stem_bn")(h, train)
    s0 = s1 = h
    c_pp, c_p, c = c_cur, c_cur, self.C
    reductions, reduction_prev = reduction_cells(self.layers), False
    for i in range(self.layers):
      reduction = i in reductions
      if reduction:
        c *= 2
      w = op_weights[NUM_CELL_EDGES:] if reduction else op_weights[:NUM_CELL_EDGES]
      out = DartsSearchCell(c_pp, c_p, c, reduction, reduction_prev, self.cell_bn, self.mode,
                            self.partial_channels, self.materialize_nodes,
                            name=f"cells_{i}")(s0, s1, w, train)
      s0, s1 = s1, out
      c_pp, c_p, reduction_prev = c_p, NUM_NODES * c, reduction
    return Dense(c_p, self.num_classes, name="classifier")(jnp.mean(s1, axis=(1, 2)))

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape."""
    w = jnp.full(SUPERNET_SPEC.alpha_shape, 1.0 / len(OPS), jnp.float32)
    return (jnp.zeros(tuple(input_shape), jnp.float32), w, False)


def supernet_darts(num_classes: int, C: int = 16, layers: int = 8, *, mode: str = "mixed",
                   partial_channels: int = 1, bn: BNConfig = DEFAULT_BN,
                   cell_bn: BNConfig | None = None) -> DartsSupernet:
  """The DARTS search supernet (Liu et al., "DARTS: Differentiable Architecture Search", ICLR
  2019), see :class:`DartsSupernet`; its ``spec`` is :data:`SUPERNET_SPEC`.

  Args:
    num_classes: classifier outputs.
    C: first cells' channels (DARTS: 16). layers: cells (DARTS: 8; >= 3 for a normal cell before
      the first reduction).
    mode, partial_channels: see :class:`jaxnas.nn.cell.MixedOp` (the one-shot factories set them).
    bn: the stem's BN. cell_bn: BN of cell ops and preprocessing (None: DARTS's non-affine BN with
      running statistics; the one-shot driver passes non-affine without running statistics).

  Raises:
    ValueError: C, layers or num_classes < 1, unknown mode, ``partial_channels`` not dividing C.
  """
  if min(int(C), int(layers), int(num_classes)) < 1:
    raise ValueError(f"darts supernet needs C, layers and num_classes >= 1, got C={C}, "
                     f"layers={layers}, num_classes={num_classes}")
  if mode not in ncell.MODES:
    raise ValueError(f"unknown MixedOp mode {mode!r}; valid: {', '.join(ncell.MODES)}")
  if partial_channels < 1 or C % partial_channels:
    raise ValueError(f"partial_channels={partial_channels} must be >= 1 and divide C={C}")
  return DartsSupernet(int(num_classes), int(C), int(layers), bn,
                       DEFAULT_CELL_BN if cell_bn is None else cell_bn, mode,
                       int(partial_channels))


__all__ = ["CELL_EDGES", "DartsSearchCell", "EdgeGroup", "OUT_EDGES", "DartsSupernet",
           "DartsSupernetSpec", "EDGES",
           "LIBRARY", "OPS", "SUPERNET_SPEC", "arch_to_ops", "discretize", "reduction_cells",
           "sample_ops", "supernet_darts"]
