"""NAS-Bench-201 networks: the discrete macro network and the op-choice-as-input supernet.

Both share one macro skeleton, NB201's ``TinyNetwork`` (Dong & Yang, ICLR 2020):
``stem`` (Conv3x3 -> BN, ``C`` channels), three stages of ``N`` cells at ``C``, ``2C``, ``4C``
channels separated by stride-2 ``ResNetBasicBlock`` reductions, then ``head`` (``lastact`` BN-ReLU,
global average pooling, ``classifier``). Inside a cell, node ``j`` is the sum over edges ``i -> j``
of ``op(node i)`` and the cell's output is node 3. Submodule names follow NB201's ``cells`` list:
``cells_0 .. cells_{3N+1}`` with the reductions at ``cells_N`` and ``cells_{2N+1}``; the edge
``EDGES[k]`` of a cell is ``edge_k`` and a conv op inside it is named after the op
(``nor_conv_1x1`` / ``nor_conv_3x3``). E.g. ``params['cells_3']['edge_4']['nor_conv_3x3']['conv']
['kernel']``.

**Mirror property.** :class:`NB201Supernet` (every edge a :class:`MixedOp`) declares exactly the
variable paths of :class:`NB201Network` for every op (plus the ops the discrete net does not
use), and Flax derives each param's init RNG from its path. Hence, for any arch ``a`` and key
``k``, ``Network(a).init(k, ...)`` is the sub-tree of ``Supernet.init(k, ...)`` that
:func:`restrict` picks, and the supernet fed ``one_hot(a)`` computes the discrete network's
function with those weights, in every BN mode. "Exactly" means mathematically: the stacked forms
run the 1x1 kernel zero-padded to 3x3 (padding 1), which XLA may accumulate in another order, so
outputs agree to float rounding (~1e-6 relative), and running statistics of the selected ops
match likewise.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.nn import bn_fused, conv_vjp, counting, probes
from jaxnas.nn.cell import SupernetSpec
from jaxnas.nn.materialize import materialize
from jaxnas.nn.layers import (NB201_BN, BNConfig, Head, ReLUConvBN, ResNetBasicBlock, Stem,
                              avg_pool_3x3, avg_pool_3x3_separable, batch_moments, conv2d,
                              normalize)
from jaxnas.spaces import nb201 as space

Array = jax.Array
NUM_NODES = 4
MODES = ("mixed", "select", "hard")
# (num_classes, input H = W) of NB201's datasets, for counting and examples.
DATASETS = {"cifar10": (10, 32), "cifar100": (100, 32), "ImageNet16-120": (120, 16)}


def _check_input(x: Array, what: str) -> None:
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f"{what} expects RGB images as f32[B, H, W, 3] (NHWC), got shape "
                     f"{tuple(x.shape)}")
  if x.shape[1] % 4 or x.shape[2] % 4:
    raise ValueError(f"{what} halves H and W twice, so both must be multiples of 4; got shape "
                     f"{tuple(x.shape)}")


def _check_arch(ops) -> tuple[int, ...]:
  arr = space.check_ops(np.asarray(ops.ops if isinstance(ops, space.Arch) else ops))
  if arr.ndim != 1:
    raise ValueError(f"a network is compiled for one NB201 architecture, got a batch of shape "
                     f"{arr.shape}; use NB201Supernet with vmap over op_weights for many")
  return tuple(int(o) for o in arr)


def _macro(x: Array, train: bool, C: int, N: int, num_classes: int, bn: BNConfig,
           conv_bias: bool | None, make_cell: Callable[[int, int], Callable[[Array], Array]]
           ) -> Array:
  """NB201 ``TinyNetwork`` body; call inside a compact method. ``make_cell(index, channels)``."""
  h = Stem(3, C, bn, name="stem")(x, train)
  index, c_prev = 0, C
  for stage in range(3):
    c = C * 2**stage
    if stage:
      h = ResNetBasicBlock(c_prev, c, bn, conv_bias, name=f"cells_{index}")(h, train)
      index += 1
    for _ in range(N):
      h = make_cell(index, c)(h)
      index += 1
    c_prev = c
  return Head(c_prev, num_classes, bn, name="head")(h, train)


def sum_nodes(x: Array, edge_fn: Callable[[int, Array], Array],
              node_fn: Callable[[Array], Array] | None = None) -> Array:
  """Cell DAG: node j = sum of ``edge_fn(k, node i)`` over edges ``k = (i, j)`` in EDGES order.

  ``node_fn`` (optional) is applied to the input node and to every inner node (not to the
  output, which the next cell takes as its input): the supernet passes
  :func:`jaxnas.nn.materialize.materialize` there.
  """
  node_fn = node_fn or (lambda h: h)
  nodes = [node_fn(x)]
  for j in range(1, NUM_NODES):
    acc = None
    for k, (i, t) in enumerate(space.EDGES):
      if t == j:
        y = edge_fn(k, nodes[i])
        acc = y if acc is None else acc + y
    nodes.append(acc if j == NUM_NODES - 1 else node_fn(acc))
  return nodes[-1]


# ----------------------------------------------------------------------------- discrete network


class Edge(nn.Module):
  """One edge of a discrete cell running a single NB201 op (``op`` index into ``OPS``)."""

  op: int
  channels: int
  bn: BNConfig = NB201_BN
  conv_bias: bool | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    if self.op == space.NONE:
      return jnp.zeros_like(x)  # NB201's Zero: x.mul(0.)
    if self.op == space.SKIP:
      return x
    if self.op == space.AVG_POOL:
      return avg_pool_3x3(x)
    k = 1 if self.op == space.CONV1X1 else 3
    conv = ReLUConvBN(self.channels, self.channels, k, 1, self.bn, self.conv_bias,
                      name=space.OPS[self.op])
    return conv(x, train)


class Cell(nn.Module):
  """NB201 ``InferCell`` for a fixed architecture ``ops`` (6 op indices, EDGES order)."""

  ops: tuple[int, ...]
  channels: int
  bn: BNConfig = NB201_BN
  conv_bias: bool | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    def edge(k, h):
      return Edge(self.ops[k], self.channels, self.bn, self.conv_bias, name=f"edge_{k}")(h, train)
    return sum_nodes(x, edge)


class NB201Network(nn.Module):
  """The NAS-Bench-201 network of one cell, as the benchmark trained it.

  Attributes:
    arch: the 6 op indices (``OPS`` order, ``EDGES`` order) as a tuple of ints.
    num_classes: classifier outputs (10 / 100 / 120 for cifar10 / cifar100 / ImageNet16-120).
    C: channels of the first stage (NB201: 16).
    N: cells per stage (NB201: 5).
    bn: BN settings of stem, reductions and head.
    cell_bn: BN settings of the cell ops (None: same as ``bn``).
    conv_bias: bias in the ``ReLUConvBN`` convs; None: NB201's rule, exactly when their BN is
      not affine (False reproduces NASLib's ops).

  Call ``apply(variables, x, train)``: ``x: f32[B, H, W, 3]`` (H, W multiples of 4; NB201 uses
  32 and 16) -> logits ``f32[B, num_classes]``. Pass ``mutable=['batch_stats']`` in training to
  update the running statistics.
  """

  arch: tuple[int, ...]
  num_classes: int
  C: int = 16
  N: int = 5
  bn: BNConfig = NB201_BN
  cell_bn: BNConfig | None = None
  conv_bias: bool | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    _check_input(x, "NB201Network")
    ops = _check_arch(self.arch)
    cell_bn = self.cell_bn or self.bn

    def make_cell(i, c):
      cell = Cell(ops, c, cell_bn, self.conv_bias, name=f"cells_{i}")
      return lambda h: cell(h, train)

    return _macro(x, train, self.C, self.N, self.num_classes, self.bn, self.conv_bias, make_cell)

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape."""
    return (jnp.zeros(tuple(input_shape), jnp.float32), False)


# ----------------------------------------------------------------------------- supernet


class MixedOp(nn.Module):
  """An edge carrying all five NB201 ops, combined by ``weights: f32[5]`` (``OPS`` order).

  ``mixed`` runs the 1x1 and the 3x3 conv on the shared ReLU output, each with its own BN; ``select``/``hard`` run ONE convolution whose kernel is the
  one-hot mix of the 3x3 kernel and the 1x1 kernel zero-padded to 3x3; ReLU and the parameter-free ops (skip, avg-pool) are computed once and
  ``none`` contributes nothing. Variables live in the children ``nor_conv_1x1`` and
  ``nor_conv_3x3`` (``ReLUConvBN`` modules, never called: their kernels/BN variables are read),
  at the same paths as in the discrete :class:`Edge`.

  Attributes:
    channels: input = output channels of the edge.
    bn: BN settings of the conv ops.
    mode: ``"mixed"`` (DARTS: ``sum_o w_o op_o(x)``, any weights);
      ``"select"`` (``weights`` one-hot: one conv per edge whose kernel and BN params are the
      ``w``-mix of the two convs'; equals the selected op; for scoring many archs under vmap);
      ``"hard"`` (GDAS: the ``select`` computation under ``stop_gradient`` of ``weights``, times
      the live weight of the selected op, plus GDAS's ``sum`` of the unselected weights (value ~0,
      as ``hardwts`` with straight-through gradients from the caller are); gradients w.r.t. the
      selected weight are ``<dL/dout, op(x)>`` as in GDAS).
    partial_channels: PC-DARTS ``K``: only the first ``channels // K`` channels go through the ops,
      the rest bypass, then a channel shuffle with ``K`` groups. ``K > 1`` changes the conv shapes,
      so the mirror property holds only for ``K = 1``.
    sample_only: ``select``/``hard`` only: compute just the selected op of the edge (a
      ``lax.switch`` on the argmax of the one-hot weights; a real 1x1 conv for ``nor_conv_1x1``,
      nothing for ``none``), as NASLib's GDAS, instead of the stacked 3x3 conv plus the pooling
      and skip terms. Same values (to float rounding: the 1x1 is no longer a zero-padded 3x3) and
      the same gradients, GDAS's straight-through ones to the weights included; only the taken
      branch runs forward and backward (not under ``vmap`` over weights, where a switch runs
      every branch). The branch convolutions use :func:`jaxnas.nn.conv_vjp.conv` (autodiff's
      backward convolutions inside a branch are naive loops on XLA:CPU). GDAS and RSWS turn this
      on by default. Ignored (stacked form) while probes are collected or perturbed.
    reverse_only: the search BN (batch statistics) uses
      :func:`jaxnas.nn.bn_fused.normalize_batch_reverse` (a ``custom_vjp``, ~10% less CPU per
      step on XLA:CPU) instead of :func:`~jaxnas.nn.bn_fused.normalize_batch` (a ``custom_jvp``);
      the network then cannot be differentiated in forward mode. The one-shot optimizers set it
      unless they need forward mode (second-order DARTS); the default keeps ``jax.jvp`` working.

  Running statistics move only for ops with non-zero weight in ``select``/``hard`` (scaled by the
  one-hot weight), and for both convs in ``mixed`` (as DARTS does).
  """

  channels: int
  bn: BNConfig = NB201_BN
  mode: str = "mixed"
  partial_channels: int = 1
  conv_bias: bool | None = None
  sample_only: bool = False
  reverse_only: bool = False

  def setup(self):
    c = self.channels // self.partial_channels
    self.nor_conv_1x1 = ReLUConvBN(c, c, 1, 1, self.bn, self.conv_bias)
    self.nor_conv_3x3 = ReLUConvBN(c, c, 3, 1, self.bn, self.conv_bias)

  def __call__(self, x: Array, weights: Array, train: bool) -> Array:
    """Args: ``x: f32[B, H, W, channels]``, ``weights: f32[5]``, ``train``. Returns ``x``'s shape."""
    k = self.partial_channels
    if k == 1:
      return self._ops(x, weights, train)
    c = self.channels // k
    out = jnp.concatenate([self._ops(x[..., :c], weights, train), x[..., c:]], axis=-1)
    b, h, w, ch = out.shape
    # PC-DARTS channel_shuffle(groups=K): [groups, C/groups] -> [C/groups, groups].
    return out.reshape(b, h, w, k, ch // k).swapaxes(-1, -2).reshape(b, h, w, ch)

  def _normalize_batch(self, y: Array, epsilon: float):
    fn = bn_fused.normalize_batch_reverse if self.reverse_only else bn_fused.normalize_batch
    return fn(y, epsilon)

  def _conv_bn(self, op: ReLUConvBN, y: Array, train: bool) -> Array:
    """The bias and BN of ``op`` (a ``ReLUConvBN`` child) on its conv output ``y`` (mixed mode)."""
    bn, cfg = op.bn_layer, op.bn_layer.config
    if op.use_bias:
      y = y + op.conv.bias
    if bn.use_batch_stats(train):
      # one function with the textbook BN gradient (bn_fused): fewer passes over y than autodiff
      y, mean, var = self._normalize_batch(y, cfg.epsilon)
      if train:
        bn.update_stats(y, mean, var)
      return y * bn.scale + bn.bias if cfg.affine else y
    scale, bias = (bn.scale, bn.bias) if cfg.affine else (None, None)
    return normalize(y, bn.mean.value, bn.var.value, scale, bias, cfg.epsilon)

  def _ops(self, x: Array, w: Array, train: bool) -> Array:
    c = x.shape[-1]
    c1, c3 = self.nor_conv_1x1, self.nor_conv_3x3
    bn1, bn3 = c1.bn_layer, c3.bn_layer
    cfg = bn1.config
    k1 = jnp.pad(c1.conv.kernel, ((1, 1), (1, 1), (0, 0), (0, 0)))  # 1x1 inside a 3x3 kernel
    k3 = c3.conv.kernel
    pooled = avg_pool_3x3_separable(x)  # the same pool, cheaper on XLA:CPU (see its doc)
    r = nn.relu(x)
    if self.mode == "mixed":
      r = probes.act(self, r)
      # Two convolutions, not the 1x1 zero-padded into a stacked 3x3 one: 10 c^2 instead of
      # 18 c^2 multiply-adds per position (1.8x fewer conv FLOPs; measured ~1.5x faster for the
      # batched SynFlow scorer on CPU). Each has its own BN: sessions 5-10 concatenated the two
      # outputs into one 2c-channel BN, whose backward is a pad of each half's cotangent; XLA:CPU
      # fused those pads into the node-cotangent sums as scalar (unvectorised) loops, ~50% of a
      # full-size DARTS step (issue 18, session 11; a 3-cell-per-stage step 4.0 -> 3.1 s).
      y1 = self._conv_bn(c1, conv2d(r, c1.conv.kernel, 1, 0), train)
      y3 = self._conv_bn(c3, conv2d(r, k3, 1, 1), train)
      return (w[space.SKIP] * x + w[space.CONV1X1] * y1 + w[space.CONV3X3] * y3
              + w[space.AVG_POOL] * pooled)

    if self.sample_only and not (self.is_mutable_collection("intermediates")
                                 or self.is_mutable_collection("perturbations")
                                 or self.has_variable("perturbations", probes.ACT)):
      return self._sampled(x, w, train)
    # select / hard: one conv with the one-hot mix of the kernels and of the BN variables.
    s = w if self.mode == "select" else jax.lax.stop_gradient(w)
    s1, s3 = s[space.CONV1X1], s[space.CONV3X3]
    # The probe sees the conv input of the selected conv, and zeros where no conv is selected.
    r = probes.act(self, r * (s1 + s3))
    y = conv2d(r, s1 * k1 + s3 * k3, 1, 1)
    if c1.use_bias:
      y = y + (s1 * c1.conv.bias + s3 * c3.conv.bias)
    if bn1.use_batch_stats(train):
      mean, var = batch_moments(y)
      if train:
        bn1.update_stats(y, mean, var, s1)
        bn3.update_stats(y, mean, var, s3)
    else:
      mean = s1 * bn1.mean.value + s3 * bn3.mean.value
      # The (1 - s1 - s3) term keeps var positive (its value is irrelevant) when no conv is chosen.
      var = s1 * bn1.var.value + s3 * bn3.var.value + (1.0 - s1 - s3)
    scale = bias = None
    if cfg.affine:
      scale = s1 * bn1.scale + s3 * bn3.scale
      bias = s1 * bn1.bias + s3 * bn3.bias
    y = normalize(y, mean, var, scale, bias, cfg.epsilon)
    if self.mode == "select":
      g, extra = w, 0.0
    else:  # GDAS: selected op scaled by its live weight; unselected weights added as scalars.
      g, extra = s * w, jnp.sum((1.0 - s) * w)
    return (g[space.SKIP] * x + (g[space.CONV1X1] + g[space.CONV3X3]) * y
            + g[space.AVG_POOL] * pooled + extra)


  def _sampled(self, x: Array, w: Array, train: bool) -> Array:
    """``select``/``hard`` computing only the selected op (``sample_only``; see the class doc)."""
    c1, c3 = self.nor_conv_1x1, self.nor_conv_3x3
    bn1, bn3 = c1.bn_layer, c3.bn_layer
    cfg = bn1.config
    s = w if self.mode == "select" else jax.lax.stop_gradient(w)
    if self.mode == "select":
      g, extra = w, jnp.zeros((), x.dtype)
    else:  # GDAS: the selected op times its live weight, plus the unselected weights as scalars
      g, extra = s * w, jnp.sum((1.0 - s) * w)
    batch_stats = bn1.use_batch_stats(train)
    zeros_c = jnp.zeros((x.shape[-1],), x.dtype)

    def conv_op(bn, kernel, bias, padding, gain):
      def run(h):
        # conv_vjp: autodiff's backward convs inside a switch branch are naive loops on XLA:CPU
        y = conv_vjp.conv(nn.relu(h), kernel, 1, padding)
        if bias is not None:
          y = y + bias
        scale, beta = (bn.scale, bn.bias) if cfg.affine else (None, None)
        if batch_stats:
          y, mean, var = self._normalize_batch(y, cfg.epsilon)
          if scale is not None:
            y = y * scale + beta
        else:
          mean, var = bn.mean.value, bn.var.value
          y = normalize(y, mean, var, scale, beta, cfg.epsilon)
        return gain * y + extra, mean, var
      return run

    use_bias = c1.use_bias
    branches = [None] * space.NUM_OPS
    branches[space.NONE] = lambda h: (jnp.zeros_like(h) + extra, zeros_c, zeros_c)
    branches[space.SKIP] = lambda h: (g[space.SKIP] * h + extra, zeros_c, zeros_c)
    branches[space.CONV1X1] = conv_op(bn1, c1.conv.kernel, c1.conv.bias if use_bias else None, 0,
                                      g[space.CONV1X1])
    branches[space.CONV3X3] = conv_op(bn3, c3.conv.kernel, c3.conv.bias if use_bias else None, 1,
                                      g[space.CONV3X3])
    branches[space.AVG_POOL] = lambda h: (g[space.AVG_POOL] * avg_pool_3x3_separable(h) + extra,
                                          zeros_c,
                                          zeros_c)
    out, mean, var = jax.lax.switch(jnp.argmax(s), branches, x)
    if batch_stats and train:  # weight 0 for the op not taken: its statistics stay put
      bn1.update_stats(x, mean, var, s[space.CONV1X1])
      bn3.update_stats(x, mean, var, s[space.CONV3X3])
    return out


class SearchCell(nn.Module):
  """A cell whose 6 edges are :class:`MixedOp` s, weighted by ``op_weights: f32[6, 5]``."""

  channels: int
  bn: BNConfig = NB201_BN
  mode: str = "mixed"
  partial_channels: int = 1
  conv_bias: bool | None = None
  sample_only: bool = False
  reverse_only: bool = False
  materialize_nodes: bool = False

  @nn.compact
  def __call__(self, x: Array, op_weights: Array, train: bool) -> Array:
    def edge(k, h):
      op = MixedOp(self.channels, self.bn, self.mode, self.partial_channels, self.conv_bias,
                   self.sample_only, self.reverse_only, name=f"edge_{k}")
      return op(h, op_weights[k], train)
    return sum_nodes(x, edge, materialize if self.materialize_nodes else None)


class NB201Supernet(nn.Module):
  """The NB201 network with the op choice as an input (one-shot NAS supernet, zero-cost scorer).

  Attributes:
    num_classes, C, N, bn, cell_bn, conv_bias: as :class:`NB201Network`.
    mode: ``"mixed"`` | ``"select"`` | ``"hard"``, see :class:`MixedOp`.
    partial_channels: PC-DARTS ``K`` (1: off).
    sample_only: ``select``/``hard``: run only each edge's selected op (see :class:`MixedOp`).
    reverse_only: reverse-mode-only search BN, faster on CPU (see :class:`MixedOp`).
    materialize_nodes: compute each cell's input and inner nodes, and their cotangents, into
      buffers of their own (:func:`jaxnas.nn.materialize.materialize`): without it XLA:CPU
      copies the node-cotangent sums into every consumer and the backward pass grows faster
      than the number of cells (full-size first-order DARTS step 13 s -> 3.7 s on a 2-vCPU
      AMD EPYC). Same values; not for use under ``vmap`` over the weights (there it only adds
      a reduction), so the one-shot optimizers set it for their training passes only.

  Call ``apply(variables, x, op_weights, train)``: ``x: f32[B, H, W, 3]``,
  ``op_weights: f32[6, 5]`` (edge x op, ``EDGES`` x ``OPS`` order; the same weights for every
  cell, NB201 having one cell type) -> logits ``f32[B, num_classes]``. Architecture parameters
  stay outside: the caller maps ``alphas`` to weights (softmax for DARTS, Gumbel hard one-hot with
  straight-through for GDAS, folded PC-DARTS edge normalisation ``beta_k * w_k``, or
  :func:`one_hot` of an arch). Scoring many archs with shared params::

      logits = jax.vmap(lambda w: net.apply(v, x, w, False))(one_hot(archs))  # [A, B, classes]

  Pass ``v`` and ``x`` as arguments of the jitted function, not closed over: closed-over arrays
  are compile-time constants and XLA then constant-folds the first layers (tens of seconds).
  Under ``vmap`` every edge conv becomes a grouped convolution (one kernel per arch), which
  XLA:CPU runs slowly: on CPU, ``jax.lax.map`` over archs (optionally ``batch_size=``) was 3.4x
  faster for 16 archs at C=16, N=5 (5.1 s vs 17.4 s for 8 images; one arch 0.26 s).
  """

  num_classes: int
  C: int = 16
  N: int = 5
  bn: BNConfig = NB201_BN
  cell_bn: BNConfig | None = None
  mode: str = "mixed"
  partial_channels: int = 1
  conv_bias: bool | None = None
  sample_only: bool = False
  reverse_only: bool = False
  materialize_nodes: bool = False

  @nn.compact
  def __call__(self, x: Array, op_weights: Array, train: bool) -> Array:
    _check_input(x, "NB201Supernet")
    if self.mode not in MODES:
      raise ValueError(f"unknown MixedOp mode {self.mode!r}; valid: {', '.join(MODES)}")
    k = self.partial_channels
    if k < 1 or self.C % k:
      raise ValueError(f"partial_channels={k} must be >= 1 and divide C={self.C}")
    want = (space.NUM_EDGES, space.NUM_OPS)
    if tuple(op_weights.shape) != want:
      raise ValueError(f"op_weights must be f32{list(want)} (edges x ops; vmap for a batch of "
                       f"archs), got shape {tuple(op_weights.shape)}")
    cell_bn = self.cell_bn or self.bn
    op_weights = op_weights.astype(x.dtype)

    def make_cell(i, c):
      cell = SearchCell(c, cell_bn, self.mode, k, self.conv_bias, self.sample_only,
                        self.reverse_only, self.materialize_nodes, name=f"cells_{i}")
      return lambda h: cell(h, op_weights, train)

    return _macro(x, train, self.C, self.N, self.num_classes, self.bn, self.conv_bias, make_cell)

  @property
  def spec(self) -> SupernetSpec:
    """The one-shot optimizers' view of this supernet (:data:`SUPERNET_SPEC`)."""
    return SUPERNET_SPEC

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape."""
    w = jnp.full((space.NUM_EDGES, space.NUM_OPS), 1.0 / space.NUM_OPS, jnp.float32)
    return (jnp.zeros(tuple(input_shape), jnp.float32), w, False)


# ----------------------------------------------------------------------------- helpers


def sample_valid_ops(key: Array) -> Array:
  """A uniform NASLib-valid NB201 cell (NASLib's ``sample_random_architecture``), ``int32[6]``:
  RandomNAS's path sampler (``jax.random.randint`` over the valid ids, as it always was)."""
  ids = jnp.asarray(space.naslib_valid_ids())
  return space.from_id(ids[jax.random.randint(key, (), 0, ids.shape[0])]).ops


# The one-shot optimizers' view of the NB201 supernet: alphas f32[6, 5] in EDGES x OPS order,
# every edge kept at discretisation (argmax over all five ops, ``none`` included, as NASLib).
SUPERNET_SPEC = SupernetSpec(name="nasbench201", edges=space.EDGES, ops=space.OPS,
                             arch_type=space.Arch, sample_ops=sample_valid_ops)


def one_hot(arch) -> Array:
  """``op_weights`` selecting ``arch``: ``f32[..., 6, 5]`` (accepts ``Arch`` or ``int[..., 6]``)."""
  ops = arch.ops if isinstance(arch, space.Arch) else jnp.asarray(arch)
  return jax.nn.one_hot(ops, space.NUM_OPS, dtype=jnp.float32)


def restrict(variables: Any, like: Any) -> Any:
  """The sub-tree of ``variables`` with the structure of ``like`` (e.g. a discrete network's
  variables or their ``jax.eval_shape``): supernet weights for one arch (weight inheritance).

  Raises:
    ValueError: a path of ``like`` is missing from ``variables``, or shapes differ.
  """
  def rec(v, l, path):
    if isinstance(l, dict) or hasattr(l, "items"):
      if not hasattr(v, "items"):
        raise ValueError(f"restrict: {'/'.join(path)} is a leaf in variables but a tree in like")
      out = {}
      for key, sub in l.items():
        if key not in v:
          raise ValueError(f"restrict: variables lack {'/'.join(path + (key,))}")
        out[key] = rec(v[key], sub, path + (key,))
      return out
    if tuple(np.shape(v)) != tuple(np.shape(l)):
      raise ValueError(f"restrict: {'/'.join(path)} has shape {np.shape(v)}, like has "
                       f"{np.shape(l)}")
    return v
  return rec(variables, like, ())


def compile_nb201(arch, num_classes: int, C: int = 16, N: int = 5, *, bn: BNConfig = NB201_BN,
                  cell_bn: BNConfig | None = None, conv_bias: bool | None = None) -> NB201Network:
  """The NAS-Bench-201 network of ``arch`` (Dong & Yang, ICLR 2020, Sec. 2.1 / Fig. 1).

  Args:
    arch: ``nb201.Arch`` (unbatched), an NB201 string, or 6 op indices.
    num_classes: 10 / 100 / 120 for cifar10 / cifar100 / ImageNet16-120.
    C, N: first-stage channels and cells per stage (benchmark: 16, 5).
    bn, cell_bn: batch-norm settings (default NB201's: affine, running stats tracked).
    conv_bias: see :class:`NB201Network`.

  Returns:
    A Flax module; ``init(key, x, train)`` / ``apply(variables, x, train)``.

  Raises:
    ValueError: invalid arch.
  """
  if isinstance(arch, str):
    arch = space.from_string(arch)
  return NB201Network(_check_arch(arch), num_classes, C, N, bn, cell_bn, conv_bias)


def supernet_nb201(num_classes: int, C: int = 16, N: int = 5, *, mode: str = "mixed",
                   partial_channels: int = 1, bn: BNConfig = NB201_BN,
                   cell_bn: BNConfig | None = None, conv_bias: bool | None = None,
                   sample_only: bool = False, reverse_only: bool = False,
                   materialize_nodes: bool = False) -> NB201Supernet:
  """The NB201 op-choice-as-input supernet (DARTS, Liu et al. ICLR 2019; GDAS, Dong & Yang
  CVPR 2019; PC-DARTS, Xu et al. ICLR 2020), see :class:`NB201Supernet`.

  Raises:
    ValueError: unknown mode or ``partial_channels`` not dividing ``C``.
  """
  if mode not in MODES:
    raise ValueError(f"unknown MixedOp mode {mode!r}; valid: {', '.join(MODES)}")
  if partial_channels < 1 or C % partial_channels:
    raise ValueError(f"partial_channels={partial_channels} must be >= 1 and divide C={C}")
  return NB201Supernet(num_classes, C, N, bn, cell_bn, mode, partial_channels, conv_bias,
                       sample_only, reverse_only, materialize_nodes)


# ----------------------------------------------------------------------------- counting


def param_counts(archs=None, *, num_classes: int = 10, C: int = 16, N: int = 5) -> np.ndarray:
  """Parameter counts of many NB201 networks at once: ``int64[...]`` (default: all 15,625 in id
  order).

  Reads, from one abstract init of the ``NB201Supernet`` (whose variable paths mirror the
  discrete networks'), the size of every op of every edge of every cell and of the shared parts;
  a cell's count is then a gather-sum. Equals :func:`jaxnas.nn.count_params` of each discrete
  network.

  Args:
    archs: ``Arch`` / ``int[..., 6]`` op indices; None for ``all_archs()``.
    num_classes, C, N: as :func:`compile_nb201`.
  """
  ops = space._np_all_ops() if archs is None else np.asarray(
      archs.ops if isinstance(archs, space.Arch) else archs)
  shared, table, c_last = _op_sizes(C, N)  # int, int64[6, 5] (summed over cells), int
  # The classifier (c_last -> num_classes, with bias) is the only part that depends on the
  # dataset, so one trace (at num_classes=1) serves every dataset.
  shared += (num_classes - 1) * (c_last + 1)
  return shared + table[np.arange(space.NUM_EDGES), ops].sum(-1)


@functools.lru_cache(maxsize=32)
def _op_sizes(C: int, N: int) -> tuple[int, np.ndarray, int]:
  net = supernet_nb201(1, C, N)
  params = counting._abstract_init(net, (1, 32, 32, 3))["params"]
  size = lambda tree: int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(tree)))
  table = np.zeros((space.NUM_EDGES, space.NUM_OPS), np.int64)
  for sub in params.values():
    for k in range(space.NUM_EDGES):
      edge = sub.get(f"edge_{k}", {}) if hasattr(sub, "get") else {}
      for o, op in enumerate(space.OPS):
        if op in edge:
          table[k, o] += size(edge[op])
  c_last = params["head"]["classifier"]["kernel"].shape[0]
  return size(params) - int(table.sum()), table, c_last


def flop_counts(ids, *, num_classes: int, C: int, N: int, image_size: int) -> np.ndarray:
  """FLOPs (NATS-Bench convention, ``jaxnas.nn.count_flops``) of many cells at once.

  A cell's FLOPs are a shared part plus, per edge, a term that depends only on that edge's op
  (convolutions are the only counted ops, and NB201 edges are independent), so 1 + 6 x 4 discrete
  counts give every cell exactly (checked against ``count_flops`` in tests/evaluate).
  """
  shape = (image_size, image_size)
  count = lambda ops: counting.count_flops(compile_nb201(np.asarray(ops), num_classes, C, N),
                                           input_shape=shape)
  base = count([0] * space.NUM_EDGES)
  table = np.zeros((space.NUM_EDGES, space.NUM_OPS), np.int64)
  for e in range(space.NUM_EDGES):
    for o in range(1, space.NUM_OPS):
      ops = [0] * space.NUM_EDGES
      ops[e] = o
      table[e, o] = count(ops) - base
  ops = np.asarray(space.from_id(jnp.asarray(ids)).ops)
  return base + table[np.arange(space.NUM_EDGES), ops].sum(-1)


def fast_counts():
  """``(params, flops)`` counters of many NB201 cells at once, each ``(archs, ids, *,
  num_classes, C, N, image_size) -> int[A]`` (registered in ``jaxnas.nn.FAST_COUNTS``)."""

  def params(archs, ids, *, num_classes, C, N, image_size):
    del ids, image_size  # parameters do not depend on the input size
    return param_counts(archs, num_classes=num_classes, C=C, N=N)

  def flops(archs, ids, **kw):
    del archs
    return flop_counts(ids, **kw)

  return params, flops


def synflow_fast_path():
  """NB201's grouped SynFlow scorer (``jaxnas.predictors.zero_cost._synflow_nb201``: each cell
  runs only its own ops), loaded on first use; registered for :class:`NB201Supernet` in
  ``jaxnas.nn.SYNFLOW_FAST_PATHS``."""
  from jaxnas.predictors.zero_cost import _synflow_nb201  # pylint: disable=import-outside-toplevel
  return _synflow_nb201
