"""SynFlow of many NAS-Bench-201 cells at the cost of their discrete networks (grouped scorer).

The generic batched scorer (``jaxnas.evaluate.zero_cost.synflow_many`` on a ``mode="mixed"``
supernet) runs every candidate op of every edge for every architecture and weights them by the
one-hot choice: 1x1 + 3x3 conv (10 c^2 multiply-adds per position) on every edge, where an average
cell needs (1 + 9) / 5 = 2 c^2, so ~5x the FLOPs of the networks it scores. Under ``vmap`` a
``lax.switch`` that picks one op per architecture turns into ``select`` and computes every branch
too. This module computes each cell's own ops only, and still keeps the batch large:

* Cells are processed in *blocks* of ``5^k`` that share the ops of the first ``6 - k`` edges
  (the "outer" edges) and run over all ``5^k`` combinations of the last ``k`` edges (the "inner"
  edges), in dense-id order (``nb201.to_id``: edge 0 most significant). So block ``b`` holds ids
  ``b * 5^k .. (b + 1) * 5^k - 1`` and the full space is ``5^(6 - k)`` blocks, exactly.
* Outer edges run the block's op through a real ``lax.switch`` on a block-level scalar inside
  ``lax.map`` over blocks (a sequential loop, so only the taken branch runs), on the whole batch.
* Inner edges: batch position ``i`` of a block uses op ``digit(i)`` on that edge, a *static*
  pattern, so the batch is reshaped to ``[5] * k`` and each op runs on its own ``5^(k-1)`` slice
  (``none`` costs nothing).

Every convolution therefore runs once per architecture that has it, as in the discrete network,
batched over 5^k (switched edges) or 5^(k-1) (inner edges) architectures. The cells of a stage
share shapes, so they run under ``lax.scan`` over stacked per-cell parameters: one compiled cell
per stage instead of ``N`` (compile time ~1/N).

SynFlow itself (``jaxnas.predictors.zero_cost.synflow``): ``sum_theta theta * dR/dtheta`` over the
Conv/Dense kernels with ``|theta|``, an all-ones input and BatchNorm in eval mode with running mean
0 / variance 1. That sum is the directional derivative of ``R`` along the kernels themselves, a
forward-mode JVP, written out here as a (primal, tangent) pair stacked on the batch axis: a kernel
layer maps ``(h, t)`` to ``(conv(h, K), conv(h, K) + conv(t, K)) = (conv(h, K), conv(h + t, K))``,
one convolution of batch ``2B`` (and no reliance on XLA noticing that ``dK == K``, which it cannot
see through ``lax.scan`` slices); BatchNorm maps ``t`` to ``t * scale / sqrt(var + eps)``; pooling,
skip and sums act on both; ReLU passes ``t`` where ``h > 0`` (JAX's ReLU derivative).

Precision: as ``synflow_many``: float32 with the input scaled by ``1e-20`` (exact in log space
because the computation is linear in the input when every bias before the classifier is 0, as at
initialisation; otherwise float64 is used), and blocks with raw values near float32's limits are
recomputed in float64.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.nn import nb201 as nb201_nn
from jaxnas.nn.layers import avg_pool_3x3, conv2d
from jaxnas.spaces import nb201 as space

from . import _common as c

INPUT_SCALE = 1e-20
# Float32 raw scores outside (TINY, HUGE) (other than 0) are recomputed in float64.
_TINY, _HUGE = 1e-30, 1e36
# Blocks per jitted call (the last call is padded with skipped blocks).
BLOCKS_PER_CALL = 8
NUM_OPS = space.NUM_OPS


# ----------------------------------------------------------------------------- (primal, tangent)
# Every activation is one array [2B, H, W, C]: rows :B the primal h, rows B: its tangent t.


def _halves(x):
  b = x.shape[0] // 2
  return x[:b], x[b:]


def _kernel_layer(x, kernel, stride, padding, bias=None):
  """Conv (``kernel`` HWIO) whose kernel is also the tangent direction: ``(conv(h), conv(h + t))``."""
  h, t = _halves(x)
  y = conv2d(jnp.concatenate([h, h + t]), kernel, stride, padding)
  if bias is not None:  # a bias is not a kernel: it shifts the primal only
    b = h.shape[0]
    y = jnp.concatenate([y[:b] + bias, y[b:]])
  return y


def _batch_norm(x, p, s, eps):
  """Eval-mode BatchNorm (``jaxnas.nn.layers.normalize``): affine on h, linear on t."""
  a = lax.rsqrt(s["var"] + eps)
  if "scale" in p:
    a = a * p["scale"]
  shift = -s["mean"] * a + (p["bias"] if "bias" in p else 0.0)
  h, t = _halves(x)
  return jnp.concatenate([h * a + shift, t * a])


def _relu(x):
  h, t = _halves(x)
  return jnp.concatenate([jnp.maximum(h, 0.0), jnp.where(h > 0, t, 0.0)])


def _relu_conv_bn(x, p, s, stride, padding, eps):
  """``jaxnas.nn.layers.ReLUConvBN`` on a pair (``p``/``s``: its params / batch_stats)."""
  y = _kernel_layer(_relu(x), p["conv"]["kernel"], stride, padding, p["conv"].get("bias"))
  return _batch_norm(y, p["bn_layer"], s["bn_layer"], eps)


def _edge_op(op: int, x, p, s, eps):
  """NB201 op ``op`` (``OPS`` index) of one edge (``p``/``s``: the edge's MixedOp variables)."""
  if op == space.NONE:
    return jnp.zeros_like(x)
  if op == space.SKIP:
    return x
  if op == space.AVG_POOL:
    return avg_pool_3x3(x)
  name = space.OPS[op]
  return _relu_conv_bn(x, p[name], s[name], 1, 1 if op == space.CONV3X3 else 0, eps)


def _cell(x, p, s, outer_ops, k: int, eps):
  """One cell for a block: edges ``< 6 - k`` switch on ``outer_ops``, the rest split statically."""
  rest = x.shape[1:]

  def edge(e, h):
    pe, se = p[f"edge_{e}"], s[f"edge_{e}"]
    if e < space.NUM_EDGES - k:
      branches = [functools.partial(_edge_op, o, p=pe, s=se, eps=eps) for o in range(NUM_OPS)]
      return lax.switch(outer_ops[e], branches, h)
    axis = 1 + e - (space.NUM_EDGES - k)  # this edge's digit in [pair, 5, ..., 5]
    hr = h.reshape((2,) + (NUM_OPS,) * k + rest)
    outs = []
    for o in range(NUM_OPS):
      part = lax.index_in_dim(hr, o, axis, keepdims=False)
      y = _edge_op(o, part.reshape((-1,) + rest), pe, se, eps)
      outs.append(y.reshape(part.shape))
    return jnp.stack(outs, axis=axis).reshape(h.shape)

  return nb201_nn.sum_nodes(x, edge)


def _reduction(x, p, s, eps):
  """``jaxnas.nn.layers.ResNetBasicBlock`` (stride 2) on a pair."""
  h = _relu_conv_bn(x, p["conv_a"], s["conv_a"], 2, 1, eps)
  h = _relu_conv_bn(h, p["conv_b"], s["conv_b"], 1, 1, eps)
  r = nn.avg_pool(x, (2, 2), strides=(2, 2))
  return _kernel_layer(r, p["downsample"]["kernel"], 1, 0) + h


def _tangent_of_logit_sum(params, stats, outer_ops, *, B, N, k, image_size, scale, eps, cell_eps):
  """``dR`` along the kernels for the ``B = 5^k`` cells of one block: ``[B]``."""
  dtype = params["stem"]["conv"]["kernel"].dtype
  x = jnp.full((B, image_size, image_size, 3), scale, dtype)
  x = jnp.concatenate([x, jnp.zeros_like(x)])  # the input is not differentiated
  x = _kernel_layer(x, params["stem"]["conv"]["kernel"], 1, 1)
  x = _batch_norm(x, params["stem"]["bn"], stats["stem"]["bn"], eps)
  index = 0
  for stage in range(3):
    if stage:
      x = _reduction(x, params[f"cells_{index}"], stats[f"cells_{index}"], eps)
      index += 1
    cells = [f"cells_{i}" for i in range(index, index + N)]
    stack = lambda tree: jax.tree.map(lambda *a: jnp.stack(a), *[tree[n] for n in cells])

    def body(h, ps):
      return _cell(h, ps[0], ps[1], outer_ops, k, cell_eps), None

    x, _ = lax.scan(body, x, (stack(params), stack(stats)))
    index += N
  head_p, head_s = params["head"], stats["head"]
  x = _relu(_batch_norm(x, head_p["lastact"], head_s["lastact"], eps))
  h, t = _halves(jnp.mean(x, axis=(1, 2)))
  # Dense: tangent dK h + K t = (h + t) @ K; R sums the logits.
  return jnp.sum((h + t) @ head_p["classifier"]["kernel"], axis=-1)


@functools.lru_cache(maxsize=16)
def _program(N: int, k: int, image_size: int, scale: float, eps: float, cell_eps: float):
  """Jitted ``(params, stats, outer int[M, 6-k], valid bool[M]) -> f[M, 5^k]``, cached per static
  setting. Callers pass a fixed ``M`` (``BLOCKS_PER_CALL``), padded with ``valid = False`` blocks
  that ``lax.cond`` skips, so any number of blocks compiles once."""
  fn = functools.partial(_tangent_of_logit_sum, B=NUM_OPS**k, N=N, k=k, image_size=image_size,
                         scale=scale, eps=eps, cell_eps=cell_eps)

  @jax.jit
  def run(params, stats, outer, valid):
    def block(args):
      o, ok = args
      zeros = jnp.zeros((NUM_OPS**k,), params["stem"]["conv"]["kernel"].dtype)
      return lax.cond(ok, lambda: fn(params, stats, o), lambda: zeros)
    return lax.map(block, (outer, valid))

  return run


# ----------------------------------------------------------------------------- driver


def supports(net) -> bool:
  """Whether :func:`synflow_nb201` reproduces ``net``'s SynFlow (else use the mixed scorer)."""
  from jaxnas.nn.nb201 import NB201Supernet  # pylint: disable=import-outside-toplevel
  if not isinstance(net, NB201Supernet) or net.partial_channels != 1:
    return False
  cell_bn = net.cell_bn or net.bn
  # BatchNorm without running statistics normalises the constant input: not this computation.
  return net.bn.track_running_stats and cell_bn.track_running_stats


def block_edges(ids: np.ndarray, max_block: int) -> int:
  """The number ``k`` of inner edges: the largest with ``5^k <= max_block`` whose blocks cover
  ``ids`` with at most 25% more cells than asked for (a random subset of a few hundred cells gets
  ``k = 0``: one cell per pass, every edge switched)."""
  k = 0
  while NUM_OPS ** (k + 1) <= max_block and k < space.NUM_EDGES:
    k += 1
  n = len(ids)
  while k > 0 and len(np.unique(ids // NUM_OPS**k)) * NUM_OPS**k > 1.25 * n:
    k -= 1
  return k


offsets_are_zero = c.offsets_are_zero  # moved to the generic helpers; kept for importers


def can_score(net, op_weights: np.ndarray) -> bool:
  """The fast-path hook (``jaxnas.nn.synflow_fast_path``): whether :func:`score` reproduces
  ``synflow_many`` for these one-hot ``op_weights`` ``f32[A, 6, 5]`` on ``net``."""
  return (op_weights.ndim == 3 and op_weights.shape[1:] == (space.NUM_EDGES, NUM_OPS)
          and bool(np.all((op_weights == 0) | (op_weights == 1)))
          and bool(np.all(op_weights.sum(-1) == 1)) and supports(net))


def score(net, variables, op_weights, image_size: int, *, chunk_size: int,
          precision: str) -> np.ndarray:
  """The fast-path hook: :func:`synflow_nb201` of one-hot ``op_weights`` (see :func:`can_score`)."""
  return synflow_nb201(net, variables, np.asarray(op_weights).argmax(-1), image_size,
                       max_block=chunk_size, precision=precision)


def synflow_nb201(net, variables, ops, image_size: int, *, max_block: int = 125,
                  precision: str = "float32") -> np.ndarray:
  """log SynFlow of NB201 cells ``ops: int[A, 6]`` with ``net``'s shared weights (see module doc).

  Args:
    net: an ``NB201Supernet`` for which :func:`supports` holds (its mode is irrelevant).
    variables: its variables (``params``, ``batch_stats``; the statistics are neutralised).
    ops: ``int[A, 6]`` op indices, any order and subset of the 15,625 cells.
    image_size: input height = width.
    max_block: the most cells per batched pass (``5^k <= max_block``, see :func:`block_edges`).
    precision: ``"float32"`` (scaled input, float64 fallback per block) or ``"float64"``.

  Returns:
    ``f32[A]``: natural log of SynFlow; ``SENTINEL`` where it is 0.
  """
  if precision not in ("float32", "float64"):
    raise ValueError(f"precision must be float32 or float64, got {precision!r}")
  ops = np.asarray(space.check_ops(np.asarray(ops)), np.int64).reshape(-1, space.NUM_EDGES)
  ids = ops @ (NUM_OPS ** np.arange(space.NUM_EDGES - 1, -1, -1))
  k = block_edges(ids, max_block)
  size = NUM_OPS**k
  blocks = np.unique(ids // size)  # sorted
  outer = (blocks[:, None] * size // NUM_OPS ** np.arange(space.NUM_EDGES - 1, -1, -1)) % NUM_OPS
  outer = outer[:, :space.NUM_EDGES - k].astype(np.int32)
  v = c.network_variables(variables)
  stats = c.neutral_stats(v).get("batch_stats")
  if stats is None:
    raise ValueError("synflow_nb201 needs BatchNorm running statistics (batch_stats)")
  eps, cell_eps = net.bn.epsilon, (net.cell_bn or net.bn).epsilon

  def compute(dtype, scale, outer):
    cast = lambda t: jax.tree.map(lambda p: jnp.abs(jnp.asarray(p)).astype(dtype), t)
    run = _program(int(net.N), k, int(image_size), float(scale), float(eps), float(cell_eps))
    params, st = cast(v["params"]), cast(stats)
    m = BLOCKS_PER_CALL
    out = []
    for start in range(0, len(outer), m):
      o = outer[start:start + m]
      valid = np.arange(m) < len(o)
      o = np.concatenate([o, np.zeros((m - len(o), o.shape[1]), o.dtype)])
      out.append(np.asarray(run(params, st, jnp.asarray(o), jnp.asarray(valid)))[valid])
    out = np.concatenate(out).astype(np.float64)
    with np.errstate(divide="ignore"):
      return out, np.log(np.maximum(out, 0.0)) - np.log(scale)  # [blocks, 5^k]

  if precision == "float64" or not offsets_are_zero(v["params"]):
    with jax.enable_x64(True):
      logs = compute("float64", 1.0, outer)[1]
  else:
    raw, logs = compute("float32", INPUT_SCALE, outer)
    bad = ~np.all(np.isfinite(raw) & (raw < _HUGE) & ((raw > _TINY) | (raw == 0)), axis=1)
    if bad.any():
      with jax.enable_x64(True):
        logs[bad] = compute("float64", 1.0, outer[np.flatnonzero(bad)])[1]
  pos = np.searchsorted(blocks, ids // size) * size + ids % size
  out = logs.reshape(-1)[pos].astype(np.float32)
  return np.where(np.isfinite(out), out, c.SENTINEL).astype(np.float32)
