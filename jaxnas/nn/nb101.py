"""NAS-Bench-101 networks (Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture
Search", ICML 2019) in Flax Linen, and their exact parameter and FLOP counts from shapes alone.

The network (``../shared/SPACES.md`` section 1, the benchmark's ``model_builder.py``):

* ``stem``: conv 3x3 (3 -> 128, no bias, 'same') -> BN -> ReLU.
* ``num_stacks`` (3) stacks of ``N`` (3) modules; before every stack but the first a
  2x2/2 max-pool ('same') halves H and W and the stack's channel count doubles (128, 256, 512),
  so the first module of stacks 1 and 2 sees half its output channels.
* global average pooling, ``classifier`` dense (with bias).

A module is the cell ``(matrix, ops)`` after pruning (``spec``). Its vertices' channels follow
``compute_vertex_channels`` (:func:`vertex_channels`): the interior vertices feeding the output
split ``C_out`` (the remainder goes +1 to the first ones in vertex order), the others take the
largest channel count among their interior successors. A vertex's input is the sum of its interior
predecessors truncated to its channel count and, if the input feeds it, a 1x1 conv-BN-ReLU
projection of the module input; it then runs its op (conv 3x3 / conv 1x1 -> BN -> ReLU, or a
3x3/1 max-pool). The module output is the channel concatenation of the vertices feeding the output
plus, if the input feeds the output, a projection of the module input to ``C_out``.

Counts (``SPACES.md`` section 0): :func:`count_params` is TF's ``trainable_parameters`` (conv
kernels, BN gamma and beta, dense weight and bias) and NASLib's ``params_mb`` x 1e6;
:func:`count_flops` is NASLib's ``flops_m`` x 1e6 (tensorwatch: conv ``k^2 C_in C_out H W``,
BN ``2 C H W``, ReLU ``C H W``, max-pools ``C H_out W_out k^2``, dense ``in * out``; pooling to 1x1,
additions, concatenation and truncation count nothing). Both are closed forms on the pruned spec:
no network is built. The Flax variables equal :func:`count_params` (tests/nn/test_nn_nb101.py).

Weights use jaxnas' PyTorch-style init (``jaxnas.nn.layers``), not TF's; BN has NB101's momentum
(TF 0.997, i.e. PyTorch-convention 0.003) and epsilon 1e-5.
"""

from __future__ import annotations

import ast
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.nn import probes
from jaxnas.nn.layers import BatchNorm, BNConfig, Conv, Dense

Array = jax.Array

INPUT, OUTPUT = "input", "output"
CONV3X3, CONV1X1, MAXPOOL3X3 = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
# the interior labels in NAS-Bench-101's canonical order (the module hash's 0, 1, 2)
MODULE_OPS = (CONV3X3, CONV1X1, MAXPOOL3X3)
# NASLib's op codes of its 56-int tuples (``SPACES.md`` section 1, NASLib conventions)
NASLIB_OPS = (INPUT, OUTPUT, MAXPOOL3X3, CONV1X1, CONV3X3)
NUM_VERTICES = 7
MAX_EDGES = 9
# TF batch norm of NAS-Bench-101 (momentum 0.997 = PyTorch-convention 0.003, epsilon 1e-5)
NB101_BN = BNConfig(affine=True, track_running_stats=True, momentum=0.003, epsilon=1e-5)
STEM_CHANNELS = 128


# ----------------------------------------------------------------------------- specs


def prune(matrix, ops: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]] | None:
  """NAS-Bench-101's ``ModelSpec`` pruning: keeps the vertices both reachable from the input and
  reaching the output (order kept). Returns ``(matrix int64[V, V], labels)``, or None when the
  input does not reach the output."""
  m = np.asarray(matrix, np.int64)
  n = m.shape[0]
  fwd, stack = {0}, [0]
  while stack:
    v = stack.pop()
    for w in np.nonzero(m[v])[0]:
      if int(w) not in fwd:
        fwd.add(int(w))
        stack.append(int(w))
  bwd, stack = {n - 1}, [n - 1]
  while stack:
    v = stack.pop()
    for w in np.nonzero(m[:, v])[0]:
      if int(w) not in bwd:
        bwd.add(int(w))
        stack.append(int(w))
  if n - 1 not in fwd:
    return None
  keep = sorted(fwd & bwd)
  return m[np.ix_(keep, keep)], tuple(ops[i] for i in keep)


def _labels(ops) -> tuple[str, ...]:
  ops = list(ops)
  if all(isinstance(o, str) for o in ops):
    return tuple(ops)
  raise ValueError("NAS-Bench-101 op labels must be strings ('input', 'conv3x3-bn-relu', "
                   "'conv1x1-bn-relu', 'maxpool3x3', 'output') unless they come with a space Arch "
                   f"or a NASLib 56-int tuple; got {ops!r}")


def _from_naslib(values) -> tuple[np.ndarray, tuple[str, ...]]:
  values = [int(v) for v in values]
  if len(values) != 56 or any(not 0 <= o < len(NASLIB_OPS) for o in values[49:]):
    raise ValueError(f"a NASLib NAS-Bench-101 tuple has 49 matrix entries then 7 op codes in 0..4, "
                     f"got {len(values)} values")
  return np.asarray(values[:49], np.int64).reshape(7, 7), tuple(NASLIB_OPS[o] for o in values[49:])


def _raw_spec(arch) -> tuple[np.ndarray, tuple[str, ...]]:
  """``(matrix, labels)`` before pruning from any accepted architecture form."""
  if isinstance(arch, str):
    try:
      arch = ast.literal_eval(arch.strip())
    except (ValueError, SyntaxError):
      raise ValueError(f"not a NAS-Bench-101 architecture (a NASLib 56-int tuple): {arch!r}") from None
  if hasattr(arch, "matrix") and hasattr(arch, "ops"):  # the space's Arch
    from jaxnas.spaces import nb101 as space  # pylint: disable=import-outside-toplevel
    matrix, ops = space.to_spec(arch)
    return np.asarray(matrix, np.int64), _labels(ops)
  if isinstance(arch, dict):
    return np.asarray(arch["matrix"], np.int64), _labels(arch["ops"])
  if isinstance(arch, (tuple, list)) and len(arch) == 2:
    matrix, ops = arch
    return np.asarray(matrix, np.int64), _labels(ops)
  flat = np.asarray(arch).reshape(-1)
  if flat.size == 56:
    return _from_naslib(flat)
  if flat.size == 26:  # the space's categorical view (how the train driver passes an arch)
    from jaxnas.spaces import nb101 as space  # pylint: disable=import-outside-toplevel
    return _raw_spec(space.from_categorical(flat.astype(np.int32)))
  raise ValueError("a NAS-Bench-101 architecture is a (matrix, ops) pair, a {'matrix', 'ops'} "
                   "dict, a NASLib 56-int tuple (or its string) or the space's Arch; got "
                   f"{type(arch).__name__}")


def spec(arch) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
  """The pruned, validated cell of ``arch`` as hashable tuples ``(matrix rows, labels)``.

  Args:
    arch: ``(matrix, ops)`` with ``matrix`` V x V upper-triangular 0/1 (row = source) and ``ops``
      V labels (``'input'``, ``'conv3x3-bn-relu'``, ``'conv1x1-bn-relu'``, ``'maxpool3x3'``,
      ``'output'``); a ``{'matrix', 'ops'}`` dict; NASLib's 56-int tuple or its string; the space's
      ``Arch``.

  Raises:
    ValueError: one line: not upper-triangular 0/1, input not connected to the output, more than
      7 vertices or 9 edges after pruning, bad labels.
  """
  matrix, ops = _raw_spec(arch)
  if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(ops) != matrix.shape[0]:
    raise ValueError(f"NAS-Bench-101 spec needs a square matrix and one label per vertex, got "
                     f"{matrix.shape} and {len(ops)} labels")
  if not np.isin(matrix, (0, 1)).all() or np.tril(matrix).any():
    raise ValueError("NAS-Bench-101 matrix must be strictly upper-triangular 0/1 (row = source)")
  pruned = prune(matrix, ops)
  if pruned is None:
    raise ValueError("invalid NAS-Bench-101 cell: the input does not reach the output")
  m, labels = pruned
  if m.shape[0] > NUM_VERTICES or int(m.sum()) > MAX_EDGES:
    raise ValueError(f"invalid NAS-Bench-101 cell: {m.shape[0]} vertices and {int(m.sum())} edges "
                     f"after pruning (at most {NUM_VERTICES} and {MAX_EDGES})")
  if labels[0] != INPUT or labels[-1] != OUTPUT or any(o not in MODULE_OPS for o in labels[1:-1]):
    raise ValueError(f"invalid NAS-Bench-101 labels {labels}: first 'input', last 'output', "
                     f"interior ones of {', '.join(MODULE_OPS)}")
  return tuple(tuple(int(x) for x in row) for row in m), labels


def check_channels(arch, C: int = STEM_CHANNELS) -> None:
  """One-line ValueError when the stem width ``C`` leaves a vertex of ``arch``'s first module
  without channels (more vertices feed the output than ``C``)."""
  matrix, _ = spec(arch)
  if min(vertex_channels(C, C, matrix)) < 1:
    k = sum(r[-1] for r in matrix[1:])
    raise ValueError(f"NB101 network with C={C}: {k} vertices share the module output, so C must "
                     f"be at least {k}")


def vertex_channels(c_in: int, c_out: int, matrix) -> tuple[int, ...]:
  """NAS-Bench-101's ``compute_vertex_channels`` on a pruned matrix: channels of every vertex
  (vertex 0 = ``c_in``, the output = ``c_out``)."""
  m = np.asarray(matrix)
  n = m.shape[0]
  ch = [0] * n
  ch[0], ch[n - 1] = c_in, c_out
  if n == 2:
    return tuple(ch)
  k = int(m[1:, n - 1].sum())
  share, extra = divmod(c_out, k)
  for v in range(1, n - 1):
    if m[v, n - 1]:
      ch[v] = share + (1 if extra else 0)
      extra -= 1 if extra else 0
  for v in range(n - 3, 0, -1):
    if not m[v, n - 1]:
      for w in range(v + 1, n - 1):
        if m[v, w]:
          ch[v] = max(ch[v], ch[w])
  return tuple(ch)


def plan(C: int = STEM_CHANNELS, num_stacks: int = 3,
         N: int = 3) -> tuple[tuple[int, int, bool], ...]:
  """``((c_in, c_out, downsample_before), ...)`` of the modules, stack by stack."""
  out, c_prev = [], C
  for s in range(num_stacks):
    c = C * 2**s
    for j in range(N):
      out.append((c_prev, c, s > 0 and j == 0))
      c_prev = c
  return tuple(out)


# ----------------------------------------------------------------------------- counts


def _module_terms(matrix, labels, c_in: int, c_out: int) -> tuple[int, int]:
  """``(params, flops per pixel)`` of one module (tensorwatch FLOPs at the module's H x W)."""
  m = np.asarray(matrix)
  n = m.shape[0]
  ch = vertex_channels(c_in, c_out, m)
  params = flops = 0

  def conv_bn_relu(a, b, k):
    return k * k * a * b + 2 * b, k * k * a * b + 3 * b

  for v in range(1, n - 1):
    c = ch[v]
    if m[0, v]:
      p, f = conv_bn_relu(c_in, c, 1)
      params, flops = params + p, flops + f
    if labels[v] == MAXPOOL3X3:
      flops += 9 * c
    else:
      p, f = conv_bn_relu(c, c, 3 if labels[v] == CONV3X3 else 1)
      params, flops = params + p, flops + f
  if m[0, n - 1]:
    p, f = conv_bn_relu(c_in, c_out, 1)
    params, flops = params + p, flops + f
  return params, flops


def counts(arch, num_classes: int = 10, *, C: int = STEM_CHANNELS, num_stacks: int = 3,
           N: int = 3, image_size: int = 32) -> tuple[int, int]:
  """``(params, flops)`` of ``arch``'s network in closed form (see the module docstring)."""
  matrix, labels = spec(arch)
  h = w = int(image_size)
  params = 27 * C + 2 * C
  flops = (27 * C + 3 * C) * h * w
  for c_in, c_out, down in plan(C, num_stacks, N):
    if down:
      h, w = -(-h // 2), -(-w // 2)  # 2x2/2 max-pool, 'same'
      flops += c_in * h * w * 4
    p, f = _module_terms(matrix, labels, c_in, c_out)
    params += p
    flops += f * h * w
  c_last = C * 2**(num_stacks - 1)
  params += c_last * num_classes + num_classes
  flops += c_last * num_classes
  return params, flops


def count_params(arch, num_classes: int = 10, **kw) -> int:
  """TF ``trainable_parameters`` of ``arch``'s network (= NASLib ``params_mb`` x 1e6); see
  :func:`counts` for the keywords (``C``, ``num_stacks``, ``N`` modules per stack)."""
  return counts(arch, num_classes, **kw)[0]


def count_flops(arch, num_classes: int = 10, **kw) -> int:
  """NASLib's tensorwatch FLOPs of ``arch``'s network at batch 1 (= ``flops_m`` x 1e6); see
  :func:`counts` for the keywords (also ``image_size``, default 32)."""
  return counts(arch, num_classes, **kw)[1]


# ----------------------------------------------------------------------------- network


def max_pool(x: Array, k: int, stride: int) -> Array:
  """TF's ``max_pool`` with 'same' padding (padded cells never win), NHWC, in ``x``'s dtype.

  Written as the maximum of the ``k * k`` strided window offsets of the explicitly padded input:
  its gradient is plain selects, whereas ``reduce_window_max``'s transpose
  (``select_and_scatter_add``) lowers its pad value in float32 after SynFlow's scoped float64 has
  ended and fails on float64 operands (``flax.linen.max_pool`` included)."""
  outs, pads = [], []
  for n in x.shape[1:3]:
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    outs.append(out)
    pads.append((total // 2, total - total // 2))
  if any(p for pair in pads for p in pair):
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=jnp.asarray(-jnp.inf, x.dtype))
  (oh, ow), y = outs, None
  for di in range(k):
    for dj in range(k):
      win = x[:, di:di + stride * (oh - 1) + 1:stride, dj:dj + stride * (ow - 1) + 1:stride, :]
      y = win if y is None else jnp.maximum(y, win)
  return y


class ConvBNReLU(nn.Module):
  """NB101 ``conv_bn_relu``: conv k x k ('same', no bias) -> BN -> ReLU (a probe point)."""

  c_in: int
  c_out: int
  kernel_size: int
  bn: BNConfig = NB101_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = Conv(self.c_in, self.c_out, self.kernel_size, 1, self.kernel_size // 2, name="conv")(x)
    h = BatchNorm(self.c_out, self.bn, name="bn")(h, train)
    return probes.act(self, nn.relu(h))


class Module(nn.Module):
  """One NB101 module (cell) of a pruned spec; variables ``vertex_<v>`` (``proj``, ``op``) and
  ``output_proj``."""

  matrix: tuple[tuple[int, ...], ...]
  ops: tuple[str, ...]
  c_in: int
  c_out: int
  bn: BNConfig = NB101_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    m, n = self.matrix, len(self.matrix)
    ch = vertex_channels(self.c_in, self.c_out, m)
    tensors, concat = [x], []
    for v in range(1, n - 1):
      c = ch[v]
      add = [tensors[u][..., :c] for u in range(1, v) if m[u][v]]  # truncation
      if m[0][v]:
        add.append(ConvBNReLU(self.c_in, c, 1, self.bn, name=f"vertex_{v}_proj")(x, train))
      h = add[0]
      for a in add[1:]:
        h = h + a
      if self.ops[v] == MAXPOOL3X3:
        h = max_pool(h, 3, 1)
      else:
        k = 3 if self.ops[v] == CONV3X3 else 1
        h = ConvBNReLU(c, c, k, self.bn, name=f"vertex_{v}")(h, train)
      tensors.append(h)
      if m[v][n - 1]:
        concat.append(h)
    proj = (ConvBNReLU(self.c_in, self.c_out, 1, self.bn, name="output_proj")(x, train)
            if m[0][n - 1] else None)
    if not concat:
      return proj
    out = concat[0] if len(concat) == 1 else jnp.concatenate(concat, axis=-1)
    return out if proj is None else out + proj


class NB101Network(nn.Module):
  """The NAS-Bench-101 network of one cell, as the benchmark trained it.

  Attributes:
    matrix, ops: the pruned cell (:func:`spec`), hashable tuples.
    num_classes: classifier outputs.
    C: stem channels (NB101: 128); stack ``s`` has ``C * 2**s``.
    num_stacks, N: stacks and modules per stack (NB101: 3, 3).
    bn: batch-norm settings (NB101's momentum and epsilon).

  Call ``apply(variables, x, train)``: ``x: f32[B, H, W, 3]`` -> logits ``f32[B, num_classes]``;
  pass ``mutable=['batch_stats']`` in training.
  """

  matrix: tuple[tuple[int, ...], ...]
  ops: tuple[str, ...]
  num_classes: int
  C: int = STEM_CHANNELS
  num_stacks: int = 3
  N: int = 3
  bn: BNConfig = NB101_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"NB101Network expects RGB images as f32[B, H, W, 3] (NHWC), got shape "
                       f"{tuple(x.shape)}")
    h = ConvBNReLU(3, self.C, 3, self.bn, name="stem")(x, train)
    for i, (c_in, c_out, down) in enumerate(plan(self.C, self.num_stacks, self.N)):
      if down:
        h = max_pool(h, 2, 2)
      h = Module(self.matrix, self.ops, c_in, c_out, self.bn,
                 name=f"stack{i // self.N}_module{i % self.N}")(h, train)
    h = probes.features(self, h)
    c_last = self.C * 2**(self.num_stacks - 1)
    return Dense(c_last, self.num_classes, name="classifier")(jnp.mean(h, axis=(1, 2)))

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments (after ``variables``/``rng``) for ``init``/``apply`` at this shape."""
    return (jnp.zeros(tuple(input_shape), jnp.float32), False)


def compile_nb101(arch, num_classes: int, C: int = STEM_CHANNELS, *, num_stacks: int = 3,
                  N: int = 3, bn: BNConfig = NB101_BN) -> NB101Network:
  """The NAS-Bench-101 network of ``arch`` (Ying et al., ICML 2019, Sec. 2.1 / Fig. 1).

  Args:
    arch: any form :func:`spec` reads (the space's ``Arch``, ``(matrix, ops)``, NASLib's tuple).
    num_classes: classifier outputs (CIFAR-10, Fashion-MNIST: 10).
    C: stem channels (NB101: 128).
    num_stacks, N: stacks and modules per stack (NB101: 3 x 3; fewer make a cheap test network).
    bn: batch-norm settings.

  Returns:
    A :class:`NB101Network`; ``init(key, x, train)`` / ``apply(variables, x, train)``.

  Raises:
    ValueError: invalid cell or sizes, in one line.
  """
  if num_classes < 1 or C < 1 or num_stacks < 1 or N < 1:
    raise ValueError(f"NB101 network needs num_classes, C, num_stacks, N >= 1; got "
                     f"{num_classes}, {C}, {num_stacks}, {N}")
  matrix, ops = spec(arch)
  check_channels((matrix, ops), C)
  return NB101Network(matrix, ops, int(num_classes), int(C), int(num_stacks), int(N), bn)


def fast_counts():
  """``(params, flops)`` counters of many NB101 cells, each ``(archs, ids, *, num_classes, C, N,
  image_size, num_stacks=3) -> int[A]`` (registered in ``jaxnas.nn.FAST_COUNTS``); ``N`` is
  modules per stack.
  Closed forms, no network is built."""

  def _each(archs, which, num_classes, C, N, image_size, num_stacks=3):
    leaves = jax.tree.leaves(archs)
    n = leaves[0].shape[0]
    kw = {"C": C if C is not None else STEM_CHANNELS, "N": N if N is not None else 3,
          "image_size": image_size, "num_stacks": num_stacks}
    return np.asarray([counts(jax.tree.map(lambda x: np.asarray(x)[i], archs), num_classes,
                              **kw)[which] for i in range(n)], np.int64)

  def params(archs, ids, *, num_classes, C, N, image_size, num_stacks=3):
    del ids
    return _each(archs, 0, num_classes, C, N, image_size, num_stacks)

  def flops(archs, ids, *, num_classes, C, N, image_size, num_stacks=3):
    del ids
    return _each(archs, 1, num_classes, C, N, image_size, num_stacks)

  return params, flops


__all__ = ["CONV1X1", "CONV3X3", "INPUT", "MAXPOOL3X3", "MODULE_OPS", "NASLIB_OPS", "NB101_BN",
           "NB101Network", "OUTPUT", "compile_nb101", "count_flops", "count_params", "counts",
           "check_channels", "fast_counts", "plan", "prune", "spec", "vertex_channels"]
