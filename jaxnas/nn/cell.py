"""Generic edge-op cell networks: the discrete :class:`Cell`, the :class:`MixedOp` supernet cell,
a macro network around them, and the :class:`SupernetSpec` that one-shot optimizers take.

A cell space (:func:`jaxnas.spaces.cell.cell_space`) fixes a DAG (edges in canonical order) and
op names; an **op library** maps each op name to a Flax module factory::

    factory(c_in: int, c_out: int, stride: int, bn: BNConfig) -> nn.Module   # called (x, train)

Inside a cell node ``j`` is the sum over edges ``(i, j)`` of ``op(node i)`` and the output is the
last node (NAS-Bench-201, Dong & Yang 2020; TransNAS-Bench-101 micro, Duan et al. 2021). Edges
leaving the input node map ``c_in -> c_out`` with the cell's stride; every other edge maps
``c_out -> c_out`` with stride 1 (TransNAS-Bench-101's rule; NB201 cells have ``c_in == c_out``,
stride 1). Edge ``k`` is the submodule ``edge_k``; an op inside it is named after the op, so a
discrete cell's variables are a sub-tree of the supernet cell's (the supernet fed ``one_hot(arch)``
computes the discrete cell with those weights) and, with :data:`STANDARD_OPS`, the paths are those
of ``jaxnas.nn.nb201`` (``edge_4/nor_conv_3x3/conv/kernel``).

A user cell in a few lines::

    space = cell_space("my_cell", nx.DiGraph([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (3, 4)]),
                       ("none", "skip_connect", "conv3x3"))
    library = {**STANDARD_OPS, "conv3x3": STANDARD_OPS["nor_conv_3x3"]}
    net = supernet(space.as_search_space(), library, num_classes=10, C=8)

The NB201 modules in ``jaxnas.nn.nb201`` keep their own stacked-kernel MixedOp (faster, and its
numbers are golden); this module is the generic path, which runs every op of a mixed edge.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.nn.materialize import materialize
from jaxnas.nn.layers import (DEFAULT_BN, NB201_BN, BatchNorm, BNConfig, Conv, Dense,  # noqa: F401
                              ReLUConvBN, Stem,
                              avg_pool_3x3)

Array = jax.Array
OpFactory = Callable[[int, int, int, BNConfig], nn.Module]
MODES = ("mixed", "select", "hard")

# ----------------------------------------------------------------------------- ops


class Zero(nn.Module):
  """``none``: zeros of the output shape (NB201's ``Zero``: ``x[:, :, ::s, ::s] * 0``, widened to
  ``c_out`` channels when the edge changes them)."""

  c_out: int
  stride: int = 1

  def __call__(self, x: Array, train: bool) -> Array:
    b, h, w, _ = x.shape
    s = self.stride
    return jnp.zeros((b, -(-h // s), -(-w // s), self.c_out), x.dtype)


class Identity(nn.Module):
  """``skip_connect`` when shape is kept."""

  def __call__(self, x: Array, train: bool) -> Array:
    return x


class AvgPool3x3(nn.Module):
  """NB201's ``avg_pool_3x3`` (stride 1, ``count_include_pad=False``)."""

  def __call__(self, x: Array, train: bool) -> Array:
    return avg_pool_3x3(x)


class FactorizedReduce(nn.Module):
  """``skip_connect`` across a shape change (NB201 / TransNAS-Bench-101 ``FactorizedReduce``).

  Stride 2: ReLU, two 1x1 stride-2 convs (``c_out // 2`` and ``c_out - c_out // 2`` outputs), the
  second on the input shifted by one pixel (zero pad right/bottom, drop the first row/column),
  concatenated, then BN. Stride 1: ReLU, one 1x1 conv, BN. No conv bias.
  """

  c_in: int
  c_out: int
  stride: int = 2
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    r = nn.relu(x)
    if self.stride == 1:
      y = Conv(self.c_in, self.c_out, 1, name="conv")(r)
    else:
      half = self.c_out // 2
      shifted = jnp.pad(r, ((0, 0), (0, 1), (0, 1), (0, 0)))[:, 1:, 1:, :]
      y = jnp.concatenate([Conv(self.c_in, half, 1, self.stride, name="conv_1")(r),
                           Conv(self.c_in, self.c_out - half, 1, self.stride, name="conv_2")(shifted)],
                          axis=-1)
    return BatchNorm(self.c_out, self.bn, name="bn")(y, train)


def _none(c_in: int, c_out: int, stride: int, bn: BNConfig) -> nn.Module:
  return Zero(c_out, stride)


def _skip(c_in: int, c_out: int, stride: int, bn: BNConfig) -> nn.Module:
  if stride == 1 and c_in == c_out:
    return Identity()
  return FactorizedReduce(c_in, c_out, stride, bn)


def _relu_conv_bn(k: int) -> OpFactory:
  def make(c_in: int, c_out: int, stride: int, bn: BNConfig) -> nn.Module:
    return ReLUConvBN(c_in, c_out, k, stride, bn)
  return make


def _avg_pool(c_in: int, c_out: int, stride: int, bn: BNConfig) -> nn.Module:
  if stride != 1 or c_in != c_out:
    raise ValueError(f"avg_pool_3x3 keeps the shape; it cannot map {c_in} -> {c_out} channels with "
                     f"stride {stride} (use it on cells without a reduction)")
  return AvgPool3x3()


# NB201's op vocabulary (also TransNAS-Bench-101 micro's: none, skip, ReLU-conv1x1-BN,
# ReLU-conv3x3-BN). A user library extends or renames these: ``{**STANDARD_OPS, "mine": f}``.
STANDARD_OPS: dict[str, OpFactory] = {
    "none": _none,
    "skip_connect": _skip,
    "nor_conv_1x1": _relu_conv_bn(1),
    "nor_conv_3x3": _relu_conv_bn(3),
    "avg_pool_3x3": _avg_pool,
}


def as_library(library: Mapping[str, OpFactory] | Sequence[tuple[str, OpFactory]],
               op_names: Sequence[str]) -> tuple[tuple[str, OpFactory], ...]:
  """``library`` as a hashable tuple of ``(name, factory)`` for ``op_names`` (module attributes
  must be immutable); one-line ValueError naming a missing op."""
  lib = dict(library)
  missing = [o for o in op_names if o not in lib]
  if missing:
    raise ValueError(f"op library lacks op {missing[0]!r}; it has {', '.join(lib) or 'nothing'} "
                     "(map every op name of the space to a factory (c_in, c_out, stride, bn) -> "
                     "nn.Module)")
  return tuple((o, lib[o]) for o in op_names)


def _make(parent: nn.Module, factory: OpFactory, name: str, *args) -> nn.Module:
  """The factory's module as a child of ``parent`` named ``name`` (call inside compact)."""
  return factory(*args).clone(parent=parent, name=name)


def sum_nodes(x: Array, edges: Sequence[tuple[int, int]],
              edge_fn: Callable[[int, Array], Array],
              node_fn: Callable[[Array], Array] | None = None) -> Array:
  """node j = sum over edges ``k = (i, j)`` of ``edge_fn(k, node i)``; returns the last node.

  ``node_fn`` (optional) is applied to the input and every inner node, not to the returned last
  one (supernets pass :func:`jaxnas.nn.materialize.materialize`)."""
  num_nodes = max(j for _, j in edges) + 1
  node_fn = node_fn or (lambda h: h)
  nodes = [node_fn(x)]
  for j in range(1, num_nodes):
    acc = None
    for k, (i, t) in enumerate(edges):
      if t == j:
        y = edge_fn(k, nodes[i])
        acc = y if acc is None else acc + y
    nodes.append(acc if j == num_nodes - 1 else node_fn(acc))
  return nodes[-1]


def _edge_shape(edge: tuple[int, int], c_in: int, c_out: int, stride: int) -> tuple[int, int]:
  """(input channels, stride) of an edge: only edges leaving the input node change the shape."""
  return (c_in, stride) if edge[0] == 0 else (c_out, 1)


# ----------------------------------------------------------------------------- cells


class Edge(nn.Module):
  """One edge of a discrete cell running the op ``op`` (built from ``factory``)."""

  op: str
  factory: OpFactory
  c_in: int
  c_out: int
  stride: int = 1
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    return _make(self, self.factory, self.op, self.c_in, self.c_out, self.stride, self.bn)(x, train)


class Cell(nn.Module):
  """A discrete edge-op cell: edge ``k`` runs op ``ops[k]``; node = sum of incoming edges.

  Attributes:
    edges: ``((source, target), ...)`` in the space's canonical edge order.
    ops: the op name of each edge.
    library: ``((name, factory), ...)`` (see :func:`as_library`).
    c_in, c_out, stride: the cell's input/output channels and stride (applied on the edges out of
      node 0).
    bn: batch-norm settings of the ops.

  Call ``apply(variables, x, train)``: ``f32[B, H, W, c_in] -> f32[B, H/stride, W/stride, c_out]``.
  """

  edges: tuple[tuple[int, int], ...]
  ops: tuple[str, ...]
  library: tuple[tuple[str, OpFactory], ...]
  c_in: int
  c_out: int
  stride: int = 1
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    lib = dict(self.library)

    def edge(k, h):
      c, s = _edge_shape(self.edges[k], self.c_in, self.c_out, self.stride)
      op = self.ops[k]
      return Edge(op, lib[op], c, self.c_out, s, self.bn, name=f"edge_{k}")(h, train)

    return sum_nodes(x, self.edges, edge)


class MixedOp(nn.Module):
  """An edge carrying every op of ``library``, combined by ``weights: f32[num_ops]``.

  Every op runs in every mode (any op library can be used; a batch of one-hot weights under vmap
  would run every branch of a switch anyway):

  * ``mixed`` (DARTS): ``sum_o w_o op_o(x)``;
  * ``select``: the same sum, for one-hot ``w`` (the selected op's output; BN running statistics of
    every op move in training, unlike NB201's stacked MixedOp);
  * ``hard`` (GDAS): ``sum_o stop_gradient(w_o) w_o op_o(x) + sum_o (1 - stop_gradient(w_o)) w_o``,
    for one-hot straight-through ``w`` (value: the selected op; gradient to the selected weight
    ``<dL/dout, op(x)>``).

  ``partial_channels`` ``K > 1`` (PC-DARTS) sends the first ``c / K`` channels through the ops and
  the rest around them, then shuffles channels in ``K`` groups, on every edge with ``c_in ==
  c_out``. On a reducing edge (stride 2) the bypassed channels are max-pooled 2x2 with stride 2,
  PC-DARTS's ``self.mp`` (``nn.MaxPool2d(2, 2)``); "SAME" padding, which is the same on even
  sizes and on odd ones gives the ops' ``ceil(H / 2)`` (PyTorch's would not concatenate there).
  An edge that changes the channel count runs all channels.
  """

  library: tuple[tuple[str, OpFactory], ...]
  c_in: int
  c_out: int
  stride: int = 1
  bn: BNConfig = DEFAULT_BN
  mode: str = "mixed"
  partial_channels: int = 1

  @nn.compact
  def __call__(self, x: Array, weights: Array, train: bool) -> Array:
    k = self.partial_channels
    partial = k > 1 and self.c_in == self.c_out and self.stride in (1, 2)
    c_in, c_out = (self.c_in // k, self.c_out // k) if partial else (self.c_in, self.c_out)
    h = x[..., :c_in] if partial else x
    if self.mode == "mixed" or self.mode == "select":
      g, extra = weights, 0.0
    else:
      s = jax.lax.stop_gradient(weights)
      g, extra = s * weights, jnp.sum((1.0 - s) * weights)
    out = None
    for o, (name, factory) in enumerate(self.library):
      y = g[o] * _make(self, factory, name, c_in, c_out, self.stride, self.bn)(h, train)
      out = y if out is None else out + y
    out = out + extra
    if not partial:
      return out
    rest = x[..., c_in:]
    if self.stride == 2:
      rest = nn.max_pool(rest, (2, 2), strides=(2, 2), padding="SAME")
    out = jnp.concatenate([out, rest], axis=-1)
    b, hh, ww, ch = out.shape
    # PC-DARTS channel_shuffle(groups=K): [groups, C/groups] -> [C/groups, groups].
    return out.reshape(b, hh, ww, k, ch // k).swapaxes(-1, -2).reshape(b, hh, ww, ch)


class MixedCell(nn.Module):
  """A supernet cell: every edge a :class:`MixedOp`, weighted by ``op_weights: f32[E, O]``.

  Attributes: as :class:`Cell` (``library`` lists every op of the space, in op-index order), plus
  ``mode`` and ``partial_channels`` (see :class:`MixedOp`) and ``materialize_nodes`` (see
  :class:`CellSupernet`).
  """

  edges: tuple[tuple[int, int], ...]
  library: tuple[tuple[str, OpFactory], ...]
  c_in: int
  c_out: int
  stride: int = 1
  bn: BNConfig = DEFAULT_BN
  mode: str = "mixed"
  partial_channels: int = 1
  materialize_nodes: bool = False

  @nn.compact
  def __call__(self, x: Array, op_weights: Array, train: bool) -> Array:
    def edge(k, h):
      c, s = _edge_shape(self.edges[k], self.c_in, self.c_out, self.stride)
      op = MixedOp(self.library, c, self.c_out, s, self.bn, self.mode, self.partial_channels,
                   name=f"edge_{k}")
      return op(h, op_weights[k], train)

    return sum_nodes(x, self.edges, edge, materialize if self.materialize_nodes else None)


# ----------------------------------------------------------------------------- supernet spec


@dataclasses.dataclass(frozen=True)
class SupernetSpec:
  """What the one-shot ``bilevel`` family needs to know about a cell space (hashable, static).

  Attributes:
    name: the space's name.
    edges: ``((source, target), ...)``, the alpha rows' order.
    ops: op names, the alpha columns' order.
    arch_type: the space's architecture class (``ops: int32[..., E]``).
    sample_ops: ``key -> int32[E]``: a random architecture's ops (RandomNAS's path sampler).
  """

  name: str
  edges: tuple[tuple[int, int], ...]
  ops: tuple[str, ...]
  arch_type: type
  sample_ops: Callable[[Array], Array]

  @property
  def num_edges(self) -> int:
    return len(self.edges)

  @property
  def forward_mode(self) -> bool:
    """Whether the supernet can be differentiated in forward mode (``jax.jvp``); second-order
    DARTS uses a reverse-over-forward mixed derivative where it can (faster to compile)."""
    return True

  @property
  def num_ops(self) -> int:
    return len(self.ops)

  @property
  def alpha_shape(self) -> tuple[int, int]:
    """``(E, O)``: the op weights' shape (one row per edge, shared by every cell)."""
    return (self.num_edges, self.num_ops)

  @property
  def edge_targets(self) -> tuple[int, ...]:
    """Each edge's target node (PC-DARTS normalises the edges into one node)."""
    return tuple(t for _, t in self.edges)

  def edge_normalisation(self, beta: Array) -> Array:
    """``f32[E]``: softmax of ``beta`` among the edges sharing a target node (PC-DARTS Eq. 4)."""
    t = np.asarray(self.edge_targets)
    same = jnp.asarray((t[:, None] == t[None, :]).astype(np.float32))  # [E, E]
    e = jnp.exp(beta - jax.lax.stop_gradient(jnp.max(beta)))
    return e / (same @ e)

  def one_hot(self, archs) -> Array:
    """``f32[..., E, O]`` op weights selecting ``archs`` (an Arch or ``int[..., E]``)."""
    ops = archs.ops if hasattr(archs, "ops") else jnp.asarray(archs)
    return jax.nn.one_hot(ops, self.num_ops, dtype=jnp.float32)

  def to_arch(self, ops: Array):
    """The space's Arch of ``ops: int[..., E]``."""
    return self.arch_type(ops=jnp.asarray(ops).astype(jnp.int32))

  def discretize(self, probs: Array):
    """The Arch of the argmax op per edge of ``probs: f32[E, O]`` (every edge kept, ``none``
    included, as NB201 / NASLib)."""
    return self.to_arch(jnp.argmax(probs, -1))


def supernet_spec(space, sample_ops: Callable[[Array], Array] | None = None) -> SupernetSpec:
  """The :class:`SupernetSpec` of a cell ``SearchSpace`` (or ``CellSpace``).

  Args:
    space: a space with ``edges``, ``ops``, ``arch_type``, ``sample`` and ``name``.
    sample_ops: the path sampler ``key -> int32[E]``; default the space's own sampler.

  Raises:
    ValueError: a space without edges/ops (not a cell space).
  """
  if not getattr(space, "edges", ()) or not getattr(space, "ops", ()):
    raise ValueError(f"search space {getattr(space, 'name', space)!r} is not an edge-op cell space "
                     "(no edges/ops); one-shot optimizers need a cell supernet")
  if sample_ops is None:
    sample = space.sample
    sample_ops = lambda key: sample(key).ops  # noqa: E731
  return SupernetSpec(name=space.name, edges=tuple(space.edges), ops=tuple(space.ops),
                      arch_type=space.arch_type, sample_ops=sample_ops)


# ----------------------------------------------------------------------------- macro networks


def _check_plan(plan) -> tuple[tuple[int, int], ...]:
  plan = tuple((int(c), int(s)) for c, s in plan)
  if not plan or any(c < 1 or s not in (1, 2) for c, s in plan):
    raise ValueError(f"cell plan must be a non-empty sequence of (channels >= 1, stride 1 or 2), "
                     f"got {plan!r}")
  return plan


def _body(module: nn.Module, x: Array, train: bool, make_cell) -> Array:
  """stem -> cells (``plan``) -> global average pooling -> ``classifier``; call inside compact."""
  h = _make(module, module.stem, "stem", module.C, module.bn)(x, train)
  c = module.C
  for i, (c_out, stride) in enumerate(module.plan):
    h = make_cell(i, c, c_out, stride)(h)
    c = c_out
  return Dense(c, module.num_classes, name="classifier")(jnp.mean(h, axis=(1, 2)))


def nb201_stem(C: int, bn: BNConfig) -> nn.Module:
  """The default stem: Conv 3x3 (3 -> C) -> BN (NB201's)."""
  return Stem(3, C, bn)


class CellNetwork(nn.Module):
  """A discrete cell network: ``stem``, one cell per ``plan`` entry, a classifier head.

  Attributes:
    edges, op_names: the cell space's edges and op names.
    arch: the op index of each edge.
    library: ``((name, factory), ...)`` for every op name.
    num_classes: classifier outputs.
    C: stem output channels.
    plan: ``((channels, stride), ...)``, one entry per cell.
    stem: ``(C, bn) -> nn.Module`` called ``(x, train)``, mapping images to ``C`` channels.
    bn, cell_bn: BN settings of stem and of the cell ops (None: ``bn``).

  The head is global average pooling and a linear ``classifier``.
  """

  edges: tuple[tuple[int, int], ...]
  op_names: tuple[str, ...]
  arch: tuple[int, ...]
  library: tuple[tuple[str, OpFactory], ...]
  num_classes: int
  C: int
  plan: tuple[tuple[int, int], ...]
  stem: Callable[[int, BNConfig], nn.Module] = nb201_stem
  bn: BNConfig = DEFAULT_BN
  cell_bn: BNConfig | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    ops = tuple(self.op_names[o] for o in self.arch)

    def make_cell(i, c_in, c_out, stride):
      cell = Cell(self.edges, ops, self.library, c_in, c_out, stride, self.cell_bn or self.bn,
                  name=f"cells_{i}")
      return lambda h: cell(h, train)

    return _body(self, x, train, make_cell)

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape
    (what ``jaxnas.nn.count_params`` / ``count_flops`` trace)."""
    return (jnp.zeros(tuple(input_shape), jnp.float32), False)


class CellSupernet(nn.Module):
  """The supernet of :class:`CellNetwork`: every cell a :class:`MixedCell` sharing one
  ``op_weights: f32[E, O]`` (one cell type, as NB201 and TransNAS-Bench-101 micro).

  Attributes: as :class:`CellNetwork` but ``spec`` (a :class:`SupernetSpec`: edges, op names,
  the one-shot optimizers' view) instead of ``edges``/``op_names``/``arch``, and ``mode``,
  ``partial_channels`` (see :class:`MixedOp`) and ``materialize_nodes`` (each cell's input and
  inner nodes, and their cotangents, in buffers of their own: see
  :mod:`jaxnas.nn.materialize`; the one-shot optimizers set it for their training passes).

  Call ``apply(variables, x, op_weights, train)``. For any arch ``a`` and key, the discrete
  network's ``init`` is the sub-tree of the supernet's (equal paths, equal init RNG) and the
  supernet fed ``spec.one_hot(a)`` in ``mixed`` or ``select`` mode computes it.
  """

  spec: SupernetSpec
  library: tuple[tuple[str, OpFactory], ...]
  num_classes: int
  C: int
  plan: tuple[tuple[int, int], ...]
  stem: Callable[[int, BNConfig], nn.Module] = nb201_stem
  bn: BNConfig = DEFAULT_BN
  cell_bn: BNConfig | None = None
  mode: str = "mixed"
  partial_channels: int = 1
  materialize_nodes: bool = False

  @nn.compact
  def __call__(self, x: Array, op_weights: Array, train: bool) -> Array:
    if self.mode not in MODES:
      raise ValueError(f"unknown MixedOp mode {self.mode!r}; valid: {', '.join(MODES)}")
    if tuple(op_weights.shape) != self.spec.alpha_shape:
      raise ValueError(f"op_weights must be f32{list(self.spec.alpha_shape)} (edges x ops of "
                       f"{self.spec.name}; vmap for a batch of archs), got shape "
                       f"{tuple(op_weights.shape)}")
    op_weights = op_weights.astype(x.dtype)

    def make_cell(i, c_in, c_out, stride):
      cell = MixedCell(self.spec.edges, self.library, c_in, c_out, stride, self.cell_bn or self.bn,
                       self.mode, self.partial_channels, self.materialize_nodes,
                       name=f"cells_{i}")
      return lambda h: cell(h, op_weights, train)

    return _body(self, x, train, make_cell)

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape."""
    w = jnp.full(self.spec.alpha_shape, 1.0 / self.spec.num_ops, jnp.float32)
    return (jnp.zeros(tuple(input_shape), jnp.float32), w, False)


def _arch_ops(space, arch) -> tuple[int, ...]:
  if isinstance(arch, str):
    arch = space.from_string(arch)
  ops = space.check(arch) if getattr(space, "check", None) is not None else np.asarray(
      arch.ops if hasattr(arch, "ops") else arch)
  if np.ndim(ops) != 1:
    raise ValueError(f"a network is compiled for one {space.name} architecture, got a batch of "
                     f"shape {np.shape(ops)}; use the supernet with vmap over op_weights for many")
  return tuple(int(o) for o in ops)


def network(space, arch, library: Mapping[str, OpFactory], num_classes: int, *, C: int = 16,
            plan: Sequence[tuple[int, int]] | None = None,
            stem: Callable[[int, BNConfig], nn.Module] = nb201_stem, bn: BNConfig = DEFAULT_BN,
            cell_bn: BNConfig | None = None) -> CellNetwork:
  """The discrete network of ``arch`` in a cell ``space``.

  Args:
    space: a cell ``SearchSpace`` (or ``CellSpace``).
    arch: an Arch of the space, its string, or ``int[E]`` op indices (checked).
    library: op name -> factory ``(c_in, c_out, stride, bn) -> nn.Module`` for every op.
    num_classes: classifier outputs.
    C: stem channels.
    plan: ``((channels, stride), ...)`` per cell; default three cells at ``C`` channels, stride 1.
    stem, bn, cell_bn: see :class:`CellNetwork`.

  Returns:
    A :class:`CellNetwork`; ``init(key, x, train)`` / ``apply(variables, x, train)``.

  Raises:
    ValueError: invalid arch, a library missing an op, a bad plan.
  """
  ops = _arch_ops(space, arch)
  plan = _check_plan(plan if plan is not None else ((C, 1),) * 3)
  return CellNetwork(tuple(space.edges), tuple(space.ops), ops, as_library(library, space.ops),
                     num_classes, C, plan, stem, bn, cell_bn)


def supernet(space, library: Mapping[str, OpFactory], num_classes: int, *, C: int = 16,
             plan: Sequence[tuple[int, int]] | None = None,
             stem: Callable[[int, BNConfig], nn.Module] = nb201_stem, bn: BNConfig = DEFAULT_BN,
             cell_bn: BNConfig | None = None, mode: str = "mixed", partial_channels: int = 1,
             spec: SupernetSpec | None = None) -> CellSupernet:
  """The op-choice-as-input supernet of a cell ``space`` (DARTS, Liu et al. ICLR 2019; GDAS, Dong
  & Yang CVPR 2019; PC-DARTS, Xu et al. ICLR 2020), see :class:`CellSupernet`.

  Args: as :func:`network`, plus ``mode``, ``partial_channels`` (see :class:`MixedOp`) and
  ``spec`` (default :func:`supernet_spec` of the space).

  Raises:
    ValueError: unknown mode, ``partial_channels`` not dividing ``C``, a library missing an op.
  """
  if mode not in MODES:
    raise ValueError(f"unknown MixedOp mode {mode!r}; valid: {', '.join(MODES)}")
  plan = _check_plan(plan if plan is not None else ((C, 1),) * 3)
  if partial_channels < 1 or any(c % partial_channels for c in (C, *(c for c, _ in plan))):
    raise ValueError(f"partial_channels={partial_channels} must be >= 1 and divide C={C} and every "
                     "cell's channels")
  return CellSupernet(spec or supernet_spec(space), as_library(library, space.ops), num_classes, C,
                      plan, stem, bn, cell_bn, mode, partial_channels)


__all__ = ["AvgPool3x3", "Cell", "CellNetwork", "CellSupernet", "Edge", "FactorizedReduce",
           "Identity", "MODES", "MixedCell", "MixedOp", "STANDARD_OPS", "SupernetSpec", "Zero",
           "as_library", "network", "supernet", "supernet_spec", "sum_nodes"]
