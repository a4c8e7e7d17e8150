"""DARTS-space networks (Liu et al., "DARTS: Differentiable Architecture Search", ICLR 2019;
NAS-Bench-301, Siems et al. 2020) in Flax Linen, and their exact parameter / FLOP counts from
shapes alone; ``../shared/SPACES.md`` sections 0 and 2.

An architecture is two cells (normal, reduce), each 8 ``(input, op)`` pairs: ``int[2, 8, 2]``.
Pairs ``2j`` and ``2j+1`` feed intermediate node ``j``; input 0 is ``c_{k-2}``, 1 is ``c_{k-1}``,
``n >= 2`` is node ``n - 2``; ops are indexed in ``darts_ops.OPS`` order (NASLib's compact). The
space's ``Arch`` (``normal``, ``reduce``), NASLib's compact string and DARTS's ``Genotype(...)``
text are accepted too (:func:`cells`).

:class:`DARTSNetwork` is the DARTS evaluation network (``NetworkCIFAR``): stem conv 3x3 3 -> 3C +
BN; ``layers`` cells with reduction cells (channels x2, inputs read at stride 2) at
``layers // 3`` and ``2 * layers // 3``; each cell preprocesses ``c_{k-2}`` (FactorizedReduce
after a reduction cell, else ReLU-conv1x1-BN) and ``c_{k-1}`` (ReLU-conv1x1-BN) to C channels,
sums the two ops of each node and concatenates the 4 nodes; global average pooling; linear
classifier. ``auxiliary=True`` adds DARTS's auxiliary head after cell ``2 * layers // 3``: its
logits are sown into the ``aux`` collection in training (``mutable=["batch_stats", "aux"]``);
``drop_path_prob`` (or the call's ``drop_prob``, e.g. a traced schedule) drops the output of
every non-identity op per sample in training (rng ``"dropout"``).

``style="search"`` is NASLib's search-style network that NASLib's NB301 ``params_mb`` /
``flops_m`` (hence ``nb301/naslib_labeled_725.json``) describe and NASLib's DARTS-space zero-cost
scores were computed on: cell ops with non-affine BN and a non-affine BN after pools (the stem
and the preprocessing stay affine), at C=32, 8 cells, no auxiliary head (:data:`ZC_NETWORK`).

Counts (:func:`counts`; closed forms, no network is built):

* params: DARTS's ``count_parameters_in_MB`` x 1e6 (every parameter outside the auxiliary head;
  ``auxiliary=True`` includes it) and, on the search-style network, NASLib's ``params_mb`` x 1e6.
  DARTS-V2 at C=36, 20 layers: 3,349,342 (3,825,768 with the auxiliary head).
* flops: tensorwatch's count (NASLib's ``flops_m`` x 1e6, batch 1): conv
  ``k^2 C_in C_out/groups H_out W_out``, BN ``numel`` x 2 (affine) or x 1, ReLU ``numel(input)``,
  pools ``C H_out W_out k^2``, adaptive average pooling ``C (H+1) (W+1)``, linear ``in * out``.
* macs: multiply-adds of convolutions and the classifier only (what DARTS-family papers report).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.nn import darts_ops as ops_lib
from jaxnas.nn import probes
from jaxnas.nn.darts_ops import OPS, ReLUConvBN, FactorizedReduce, bn_config
from jaxnas.nn.layers import BatchNorm, Conv, Dense
from jaxnas.spaces import darts as space

Array = jax.Array
NUM_PAIRS = 8
NUM_NODES = 4
STYLES = ("eval", "search")
STEM_MULTIPLIER = 3
# the network NASLib's DARTS-space params_mb / flops_m / zero-cost scores describe
ZC_NETWORK = {"C": 32, "layers": 8, "style": "search", "auxiliary": False}

# DARTS-V2 (the DARTS paper's CIFAR-10 cell), (input, op index) pairs; SPACES.md section 2
DARTS_V2 = (((0, 3), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)),
            ((0, 0), (1, 0), (2, 2), (1, 0), (0, 0), (2, 2), (2, 2), (1, 0)))

Cells = tuple  # ((normal pairs), (reduce pairs)), each 8 (input, op) int pairs


# ----------------------------------------------------------------------------- architectures


def cells(arch) -> Cells:
  """``((normal pairs), (reduce pairs))`` of ``arch``, checked.

  Args:
    arch: ``int[2, 8, 2]`` (cell, pair, (input, op)) or its 32 flat ints (the space's
      categorical view); the space's ``Arch``; NASLib's compact ``[[(0, 3), ...], [...]]``; the
      compact's text or DARTS's ``Genotype(normal=[('sep_conv_3x3', 0), ...], ...)`` text.

  Raises:
    ValueError: one line: wrong shape, an input outside 0..p//2+1 for pair p, an op outside 0..6.
  """
  if isinstance(arch, str):  # compact or Genotype text: the space's parser (one-line errors)
    arch = space.from_string(arch)
  if hasattr(arch, "normal") and hasattr(arch, "reduce"):
    arch = (np.asarray(arch.normal), np.asarray(arch.reduce))
  try:
    a = np.asarray(arch, dtype=np.int64)
  except (ValueError, TypeError):
    raise ValueError("a DARTS architecture is int[2, 8, 2] (cell, pair, (input, op)), NASLib's "
                     "compact form or a Genotype(...) string") from None
  if a.size == 2 * NUM_PAIRS * 2 and a.ndim == 1:  # the space's categorical view (32 ints)
    a = a.reshape(2, NUM_PAIRS, 2)
  if a.shape != (2, NUM_PAIRS, 2):
    raise ValueError(f"a DARTS architecture is int[2, 8, 2] (normal/reduce, 8 pairs, (input, op)); "
                     f"got shape {a.shape} (a batch? compile one architecture at a time)")
  limit = np.arange(NUM_PAIRS) // 2 + 1
  for c, name in enumerate(("normal", "reduce")):
    bad = np.nonzero((a[c, :, 0] < 0) | (a[c, :, 0] > limit))[0]
    if bad.size:
      p = int(bad[0])
      raise ValueError(f"invalid DARTS {name} cell: pair {p} reads input {int(a[c, p, 0])}, valid "
                       f"0..{p // 2 + 1}")
    bad = np.nonzero((a[c, :, 1] < 0) | (a[c, :, 1] >= len(OPS)))[0]
    if bad.size:
      raise ValueError(f"invalid DARTS {name} cell: op {int(a[c, bad[0], 1])} at pair "
                       f"{int(bad[0])}; ops are 0..6 ({', '.join(OPS)})")
  return tuple(tuple((int(i), int(o)) for i, o in a[c]) for c in range(2))


def reductions(layers: int) -> tuple[int, int]:
  """Indices of the two reduction cells: ``layers // 3`` and ``2 * layers // 3``."""
  return layers // 3, 2 * layers // 3


def plan(C: int, layers: int) -> list[tuple[int, int, int, bool, bool]]:
  """``(C_prev_prev, C_prev, C, reduction, reduction_prev)`` of every cell (DARTS
  ``NetworkCIFAR``)."""
  out, c_pp, c_p, c_cur, red_prev = [], STEM_MULTIPLIER * C, STEM_MULTIPLIER * C, C, False
  for i in range(layers):
    red = i in reductions(layers)
    if red:
      c_cur *= 2
    out.append((c_pp, c_p, c_cur, red, red_prev))
    c_pp, c_p, red_prev = c_p, 4 * c_cur, red
  return out


def _check_style(style: str) -> None:
  if style not in STYLES:
    raise ValueError(f"unknown DARTS network style {style!r}; valid: {', '.join(STYLES)}")


def _check_size(image_size: int, layers: int, auxiliary: bool) -> None:
  if image_size % 4 or image_size < 4:
    raise ValueError(f"DARTS networks halve the image twice (FactorizedReduce needs even sizes): "
                     f"the input size must be a multiple of 4, got {image_size}")
  if auxiliary and (image_size // 4 < 5 or (image_size // 4 - 5) // 3 + 1 < 2):
    raise ValueError(f"DARTS's auxiliary head needs at least 8x8 maps after the reductions (a "
                     f"32x32 input); got {image_size}x{image_size} (use data.image_size=32)")


# ----------------------------------------------------------------------------- counts


def _op_terms(name: str, C: int, h: int, stride: int, affine: bool, search: bool):
  """``(params, tensorwatch flops, macs)`` of one cell op reading a ``C x h x h`` map."""
  ho = h // stride
  b = 2 if affine else 1
  p = ops_lib.op_params(name, C, stride, affine)
  if name.startswith("sep_conv") or name.startswith("dil_conv"):
    k = ops_lib.KERNEL[name]
    dw, pw = k * k * C * ho * ho, C * C * ho * ho
    block_f = dw + pw + b * C * ho * ho
    if name.startswith("sep_conv"):
      return p, C * h * h + block_f + C * ho * ho + block_f, 2 * (dw + pw)
    return p, C * h * h + block_f, dw + pw
  if name in ("max_pool_3x3", "avg_pool_3x3"):
    return p, 9 * C * ho * ho + (C * ho * ho if search else 0), 0
  if name == "skip_connect" and stride == 2:  # FactorizedReduce
    conv = 2 * C * (C // 2) * ho * ho
    return p, C * h * h + conv + b * C * ho * ho, conv
  return p, 0, 0


def _relu_conv_bn(c_in: int, c_out: int, h: int):
  return c_in * c_out + 2 * c_out, c_in * h * h + c_in * c_out * h * h + 2 * c_out * h * h, \
      c_in * c_out * h * h


def _factorized(c_in: int, c_out: int, h: int, affine: bool = True):
  ho = h // 2
  conv = 2 * c_in * (c_out // 2) * ho * ho
  b = 2 if affine else 1
  return c_in * c_out + (2 * c_out if affine else 0), c_in * h * h + conv + b * c_out * ho * ho, conv


def aux_terms(c_aux: int, h: int, num_classes: int):
  """``(params, flops, macs)`` of DARTS's auxiliary head on a ``c_aux x h x h`` map."""
  hp = (h - 5) // 3 + 1
  ho = hp - 1
  params = c_aux * 128 + 2 * 128 + 4 * 128 * 768 + 2 * 768 + 768 * num_classes + num_classes
  macs = c_aux * 128 * hp * hp + 4 * 128 * 768 * ho * ho + 768 * num_classes
  flops = (c_aux * h * h + 25 * c_aux * hp * hp + c_aux * 128 * hp * hp + 3 * 128 * hp * hp
           + 4 * 128 * 768 * ho * ho + 3 * 768 * ho * ho + 768 * num_classes)
  return params, flops, macs


def counts(arch, num_classes: int = 10, *, C: int = 36, layers: int = 20, auxiliary: bool = False,
           style: str = "eval", image_size: int = 32) -> dict:
  """``{"params", "flops", "macs"}`` of ``arch``'s network in closed form (module docstring).

  Args:
    arch: any form :func:`cells` reads.
    num_classes: classifier outputs.
    C, layers: initial channels and cells (DARTS evaluation: 36, 20; NB301 / NASLib: 32, 8).
    auxiliary: include the auxiliary head (DARTS's count excludes it).
    style: ``"eval"`` (affine BN everywhere, no BN after pools) or ``"search"`` (NASLib's
      primitives: non-affine BN in cell ops, BN after pools).
    image_size: input height = width (flops and macs only).
  """
  out = counts_many(np.asarray(cells(arch))[None], num_classes, C=C, layers=layers,
                    auxiliary=auxiliary, style=style, image_size=image_size)
  return {k: int(v[0]) for k, v in out.items()}


def counts_many(archs, num_classes: int = 10, *, C: int = 36, layers: int = 20,
                auxiliary: bool = False, style: str = "eval", image_size: int = 32) -> dict:
  """:func:`counts` of a batch ``int[A, 2, 8, 2]`` at once (numpy gathers from per-cell tables of
  the 7 ops x 2 input kinds; no per-architecture Python). Returns ``{"params", "flops", "macs"}``
  of ``int64[A]``. The architectures are not validated (use :func:`cells` on untrusted input)."""
  _check_style(style)
  _check_size(image_size, layers, auxiliary)
  a = np.asarray(archs, np.int64).reshape(-1, 2, NUM_PAIRS, 2)
  search = style == "search"
  h = image_size
  cs = STEM_MULTIPLIER * C
  fixed = np.array([27 * cs + 2 * cs, 27 * cs * h * h + 2 * cs * h * h, 27 * cs * h * h], np.int64)
  total = np.zeros((a.shape[0], 3), np.int64)
  h_prev = h  # resolution of c_{k-1}; c_{k-2} is 2x that after a reduction cell
  aux_at = reductions(layers)[1]
  for i, (c_pp, c_p, c, red, red_prev) in enumerate(plan(C, layers)):
    pre0 = _factorized(c_pp, c, 2 * h_prev) if red_prev else _relu_conv_bn(c_pp, c, h_prev)
    fixed += np.array(pre0, np.int64) + np.array(_relu_conv_bn(c_p, c, h_prev), np.int64)
    h_out = h_prev // 2 if red else h_prev
    # [2 input kinds (cell input, intermediate node), 7 ops, 3 terms]
    table = np.array([[_op_terms(name, c, h_prev if kind == 0 else h_out,
                                 2 if red and kind == 0 else 1, not search, search)
                       for name in OPS] for kind in (0, 1)], np.int64)
    cell = a[:, 1 if red else 0]  # [A, 8, 2]
    total += table[(cell[..., 0] >= 2).astype(np.int64), cell[..., 1]].sum(axis=1)
    h_prev = h_out
    if auxiliary and i == aux_at:
      fixed += np.array(aux_terms(4 * c, h_prev, num_classes), np.int64)
  c_last = plan(C, layers)[-1][2] * 4
  fixed += np.array([c_last * num_classes + num_classes,
                     c_last * (h_prev + 1) ** 2 + c_last * num_classes, c_last * num_classes],
                    np.int64)
  total += fixed
  return {"params": total[:, 0], "flops": total[:, 1], "macs": total[:, 2]}


def count_params(arch, num_classes: int = 10, **kw) -> int:
  """DARTS's parameter count of ``arch``'s network (no auxiliary head unless ``auxiliary=True``);
  on ``style="search", C=32, layers=8``: NASLib's ``params_mb`` x 1e6. Keywords: :func:`counts`."""
  return counts(arch, num_classes, **kw)["params"]


def count_flops(arch, num_classes: int = 10, **kw) -> int:
  """tensorwatch FLOPs of ``arch``'s network at batch 1 (on ``style="search", C=32, layers=8``:
  NASLib's ``flops_m`` x 1e6). Keywords: :func:`counts`."""
  return counts(arch, num_classes, **kw)["flops"]


def count_macs(arch, num_classes: int = 10, **kw) -> int:
  """Multiply-adds of convolutions and linear layers (no bias, BN, ReLU, pools). Keywords:
  :func:`counts`."""
  return counts(arch, num_classes, **kw)["macs"]


# ----------------------------------------------------------------------------- network


class AuxiliaryHead(nn.Module):
  """DARTS ``AuxiliaryHeadCIFAR`` (8x8 input): ReLU -> avg-pool 5x5/3 -> conv 1x1 -> 128 -> BN ->
  ReLU -> conv 2x2 -> 768 -> BN -> ReLU -> linear."""

  c_in: int
  num_classes: int

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = ops_lib.avg_pool(nn.relu(x), 5, 3, 0)
    h = Conv(self.c_in, 128, 1, name="conv_1")(h)
    h = nn.relu(BatchNorm(128, bn_config(True), name="bn_1")(h, train))
    h = Conv(128, 768, 2, name="conv_2")(h)
    h = nn.relu(BatchNorm(768, bn_config(True), name="bn_2")(h, train))
    return Dense(768, self.num_classes, name="classifier")(h.reshape(h.shape[0], -1))


class Cell(nn.Module):
  """One DARTS cell of a fixed genotype (``pairs``: 8 ``(input, op)``)."""

  pairs: tuple
  c_pp: int
  c_p: int
  C: int
  reduction: bool
  reduction_prev: bool
  style: str = "eval"

  @nn.compact
  def __call__(self, s0: Array, s1: Array, train: bool, drop_prob=None) -> Array:
    search = self.style == "search"
    if self.reduction_prev:
      s0 = FactorizedReduce(self.c_pp, self.C, True, name="preprocess0")(s0, train)
    else:
      s0 = ReLUConvBN(self.c_pp, self.C, name="preprocess0")(s0, train)
    s1 = ReLUConvBN(self.c_p, self.C, name="preprocess1")(s1, train)
    states = [s0, s1]
    for j in range(NUM_NODES):
      node = None
      for p in (2 * j, 2 * j + 1):
        inp, op = self.pairs[p]
        stride = 2 if self.reduction and inp < 2 else 1
        name = OPS[op]
        h = ops_lib.make_op(name, self.C, stride, affine=not search, search=search,
                            module_name=f"op_{p}")(states[inp], train)
        if drop_prob is not None and not ops_lib.is_identity(name, stride):
          h = ops_lib.drop_path(self.make_rng("dropout"), h, drop_prob)
        node = h if node is None else node + h
      states.append(node)
    return jnp.concatenate(states[2:], axis=-1)


class DARTSNetwork(nn.Module):
  """A DARTS-space network of one genotype (module docstring).

  Attributes:
    normal, reduce: 8 ``(input, op)`` pairs each (:func:`cells`).
    num_classes: classifier outputs.
    C: initial channels (DARTS evaluation 36; NB301 / NASLib 32).
    layers: cells (DARTS 20; NB301 8).
    auxiliary: build DARTS's auxiliary head (its logits go to the ``aux`` collection in training).
    drop_path_prob: drop-path probability in training (0: off); the call's ``drop_prob``
      overrides it.
    style: ``"eval"`` (DARTS evaluation ops, affine BN) or ``"search"`` (NASLib's search-style
      primitives).

  Call ``apply(variables, x, train, drop_prob=None)``: ``x: f32[B, H, W, 3]`` -> logits
  ``f32[B, num_classes]``; in training pass ``mutable=["batch_stats"]`` (plus ``"aux"`` for the
  auxiliary logits) and ``rngs={"dropout": key}`` when drop-path is on.
  """

  normal: tuple
  reduce: tuple
  num_classes: int
  C: int = 36
  layers: int = 20
  auxiliary: bool = False
  drop_path_prob: float = 0.0
  style: str = "eval"

  @nn.compact
  def __call__(self, x: Array, train: bool, drop_prob=None) -> Array:
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"DARTSNetwork expects RGB images as f32[B, H, W, 3] (NHWC), got shape "
                       f"{tuple(x.shape)}")
    if x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(f"DARTSNetwork halves H and W twice, so both must be multiples of 4; got "
                       f"shape {tuple(x.shape)}")
    dp = self.drop_path_prob if drop_prob is None else drop_prob
    if not train or (isinstance(dp, (int, float)) and dp <= 0):
      dp = None
    cs = STEM_MULTIPLIER * self.C
    h = Conv(3, cs, 3, 1, 1, name="stem_conv")(x)
    s0 = s1 = BatchNorm(cs, bn_config(True), name="stem_bn")(h, train)
    aux_at = reductions(self.layers)[1]
    for i, (c_pp, c_p, c, red, red_prev) in enumerate(plan(self.C, self.layers)):
      cell = Cell(self.reduce if red else self.normal, c_pp, c_p, c, red, red_prev, self.style,
                  name=f"cells_{i}")
      s0, s1 = s1, cell(s0, s1, train, dp)
      if self.auxiliary and i == aux_at and (train or self.is_initializing()):
        self.sow("aux", "logits", AuxiliaryHead(4 * c, self.num_classes, name="auxiliary_head")(
            s1, train))
    s1 = probes.features(self, s1)
    c_last = 4 * plan(self.C, self.layers)[-1][2]
    return Dense(c_last, self.num_classes, name="classifier")(jnp.mean(s1, axis=(1, 2)))

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape."""
    return (jnp.zeros(tuple(input_shape), jnp.float32), False)


def compile_darts(arch, num_classes: int, C: int = 36, *, layers: int = 20,
                  auxiliary: bool = False, drop_path_prob: float = 0.0,
                  style: str = "eval") -> DARTSNetwork:
  """The DARTS-space network of ``arch`` (Liu et al., ICLR 2019, ``NetworkCIFAR``).

  Args:
    arch: any form :func:`cells` reads.
    num_classes: classifier outputs.
    C: initial channels (DARTS 36; NB301 / NASLib zero-cost 32).
    layers: number of cells (DARTS 20; NB301 8); at least 3.
    auxiliary: DARTS's auxiliary head (needs a 32x32 input).
    drop_path_prob: drop-path probability in training.
    style: ``"eval"`` or ``"search"`` (NASLib's search-style cell ops).

  Returns:
    A :class:`DARTSNetwork`; ``init(key, x, train)`` / ``apply(variables, x, train)``.

  Raises:
    ValueError: invalid architecture or sizes, in one line.
  """
  _check_style(style)
  if num_classes < 1 or C < 1 or layers < 3 or C % 2:
    raise ValueError(f"a DARTS network needs num_classes >= 1, an even C >= 2 and layers >= 3; "
                     f"got {num_classes}, {C}, {layers}")
  if not 0.0 <= float(drop_path_prob) < 1.0:
    raise ValueError(f"drop_path_prob must be in [0, 1), got {drop_path_prob}")
  normal, reduce = cells(arch)
  return DARTSNetwork(normal, reduce, int(num_classes), int(C), int(layers), bool(auxiliary),
                      float(drop_path_prob), style)


def fast_counts():
  """``(params, flops)`` counters of many DARTS cells, each ``(archs, ids, *, num_classes, C, N,
  image_size, **network) -> int[A]`` (``jaxnas.nn.FAST_COUNTS``); ``N`` is unused (``layers``
  comes by name). Closed forms, no network is built."""

  def _each(archs, which, num_classes, C, image_size, **network):
    network.pop("N", None)
    network.pop("drop_path_prob", None)
    a = _batch(archs)
    for x in a:  # validated (one-line errors) before counting
      cells(x)
    kw = {"C": 36 if C is None else C, **network}
    return counts_many(a, num_classes, image_size=image_size, **kw)[which]

  def params(archs, ids, *, num_classes, C, N=None, image_size=32, **network):
    del ids, N
    return _each(archs, "params", num_classes, C, image_size, **network)

  def flops(archs, ids, *, num_classes, C, N=None, image_size=32, **network):
    del ids, N
    return _each(archs, "flops", num_classes, C, image_size, **network)

  return params, flops


def _batch(archs) -> np.ndarray:
  """``int[A, 2, 8, 2]`` of a batch of architectures (the space's batched ``Arch`` or an array)."""
  if hasattr(archs, "normal") and hasattr(archs, "reduce"):
    return np.stack([np.asarray(archs.normal), np.asarray(archs.reduce)], axis=1)
  return np.asarray(archs).reshape(-1, 2, NUM_PAIRS, 2)


def genotype(arch) -> str:
  """DARTS's ``Genotype(...)`` text of ``arch`` (concat of nodes 2..5)."""
  normal, reduce = cells(arch)
  fmt = lambda c: "[" + ", ".join(f"('{OPS[o]}', {i})" for i, o in c) + "]"
  return (f"Genotype(normal={fmt(normal)}, normal_concat=[2, 3, 4, 5], reduce={fmt(reduce)}, "
          f"reduce_concat=[2, 3, 4, 5])")


def param_count(variables: Any, auxiliary: bool = False) -> int:
  """The number of entries in ``variables["params"]`` (without the auxiliary head unless
  ``auxiliary``)."""
  params = dict(variables.get("params", variables))
  if not auxiliary:
    params.pop("auxiliary_head", None)
  return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))


__all__ = ["AuxiliaryHead", "Cell", "DARTSNetwork", "DARTS_V2", "STYLES", "ZC_NETWORK", "cells",
           "compile_darts", "count_flops", "count_macs", "count_params", "counts", "counts_many",
           "fast_counts",
           "genotype", "param_count", "plan", "reductions"]
