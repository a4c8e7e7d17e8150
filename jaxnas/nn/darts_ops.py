"""The DARTS primitive operations (Liu et al., "DARTS: Differentiable Architecture Search", ICLR
2019, ``operations.py``), channels-last (NHWC), in Flax Linen; ``../shared/SPACES.md`` section 2.

Every op maps ``f32[B, H, W, C] -> f32[B, H/s, W/s, C]`` (``s`` = ``stride``, 1 or 2) and is
called ``op(x, train)``. ``affine`` is the BatchNorm's learnable scale/bias: True in the DARTS
evaluation network, False in the search network (and in NASLib's search-style primitives, which
NASLib's NB301 ``params_mb`` / ``flops_m`` describe). ``search=True`` is NASLib's / DARTS-search's
variant that puts a non-affine BN after each pooling op (the evaluation network has none).

* ``sep_conv_k`` (k = 3, 5): ReLU -> depthwise k x k (stride s) -> 1x1 -> BN -> ReLU ->
  depthwise k x k -> 1x1 -> BN (:class:`SepConv`).
* ``dil_conv_k`` (k = 3, 5): ReLU -> depthwise k x k, dilation 2 (stride s) -> 1x1 -> BN
  (:class:`DilConv`).
* ``max_pool_3x3`` / ``avg_pool_3x3``: 3x3, stride s, padding 1 (PyTorch: max pads with -inf,
  avg does not count padded cells) (:class:`Pool`).
* ``skip_connect``: identity at stride 1, else :class:`FactorizedReduce` (ReLU -> two 1x1 stride-2
  convs C -> C/2, the second on the input shifted by one pixel -> concat -> BN).
* ``none``: zeros (only the search supernet has it) (:class:`Zero`).

:class:`ReLUConvBN` is the cells' input preprocessing (1x1) and :func:`drop_path` DARTS's
per-sample path dropout. No conv has a bias (DARTS: ``bias=False`` everywhere). BatchNorm is
``jaxnas.nn.layers.BatchNorm`` (PyTorch semantics, momentum 0.1, eps 1e-5); every post-ReLU
activation is a ``probes.act`` point (NWOT, Fisher).

Names are stable (``OPS``, ``make_op``, the classes): the DARTS search supernet builds on them.
"""

from __future__ import annotations

import functools
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.nn import layers, probes
from jaxnas.nn.layers import BatchNorm, BNConfig, Conv

Array = jax.Array

# the 7 ops of the DARTS space in NASLib's compact op order (index = op code); SPACES.md section 2
OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")
# the DARTS search supernet's 8 candidates (DARTS ``genotypes.PRIMITIVES`` order, with ``none``)
PRIMITIVES = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
              "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
# kernel size of each conv op
KERNEL = {"sep_conv_3x3": 3, "sep_conv_5x5": 5, "dil_conv_3x3": 3, "dil_conv_5x5": 5}


def bn_config(affine: bool) -> BNConfig:
  """DARTS's BatchNorm (PyTorch defaults: momentum 0.1, eps 1e-5, running statistics)."""
  return BNConfig(affine=bool(affine), track_running_stats=True, momentum=0.1, epsilon=1e-5)


def pool_out(n: int, stride: int, k: int = 3, pad: int = 1) -> int:
  """PyTorch's pooling / conv output size ``floor((n + 2 pad - k) / stride) + 1``."""
  return (n + 2 * pad - k) // stride + 1


def _windows(x: Array, k: int, stride: int, pad: int, out_h: int, out_w: int):
  """The ``k * k`` strided window offsets of ``x`` (already padded by ``pad``)."""
  del pad
  for di in range(k):
    for dj in range(k):
      yield x[:, di:di + stride * (out_h - 1) + 1:stride, dj:dj + stride * (out_w - 1) + 1:stride, :]


def max_pool(x: Array, k: int = 3, stride: int = 1, pad: int = 1) -> Array:
  """PyTorch ``MaxPool2d(k, stride, pad)`` (padding never wins), NHWC.

  In float64 (SynFlow) the maximum of the strided window slices, whose gradient is plain selects
  (``reduce_window``'s transpose breaks under SynFlow's scoped float64, see
  ``jaxnas.nn.nb101.max_pool``)."""
  if x.dtype != jnp.float64:  # one reduce_window: a smaller program than 9 slices
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, k, k, 1), (1, stride, stride, 1),
                             ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  oh, ow = pool_out(x.shape[1], stride, k, pad), pool_out(x.shape[2], stride, k, pad)
  if pad:
    x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)),
                constant_values=jnp.asarray(-jnp.inf, x.dtype))
  y = None
  for win in _windows(x, k, stride, pad, oh, ow):
    y = win if y is None else jnp.maximum(y, win)
  return y


@functools.lru_cache(maxsize=64)
def _counts(h: int, w: int, k: int, stride: int, pad: int) -> np.ndarray:
  """In-image pixels per window of a ``k x k`` / ``stride`` / ``pad`` pool: ``f32[1, oh, ow, 1]``."""
  def axis(n):
    starts = np.arange(pool_out(n, stride, k, pad)) * stride - pad
    return np.minimum(starts + k, n) - np.maximum(starts, 0)
  return np.outer(axis(h), axis(w)).astype(np.float32)[None, :, :, None]


def avg_pool(x: Array, k: int = 3, stride: int = 1, pad: int = 1) -> Array:
  """PyTorch ``AvgPool2d(k, stride, pad, count_include_pad=False)``, NHWC."""
  h, w = x.shape[1], x.shape[2]
  # a Python-scalar init makes this reduce_window_sum, which has a reverse-mode rule
  total = lax.reduce_window(x, 0.0, lax.add, (1, k, k, 1), (1, stride, stride, 1),
                            ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return total / jnp.asarray(_counts(h, w, k, stride, pad), x.dtype)


def drop_path(key: Array, x: Array, drop_prob) -> Array:
  """DARTS's ``drop_path``: zeroes whole samples of ``x`` with probability ``drop_prob`` and
  scales the kept ones by ``1 / (1 - drop_prob)`` (``drop_prob`` may be traced, e.g. a schedule).

  Args:
    key: PRNG key (one Bernoulli draw per sample).
    x: ``f32[B, ...]``.
    drop_prob: float or ``f32[]`` in [0, 1).

  Returns:
    ``f32[B, ...]``.
  """
  keep = 1.0 - jnp.asarray(drop_prob, x.dtype)
  mask = jax.random.bernoulli(key, keep, (x.shape[0],) + (1,) * (x.ndim - 1))
  return x / keep * mask.astype(x.dtype)


# The depthwise conv is a generic layer (the FLOP counter knows it); kept under its old name here.
DWConv = layers.DWConv


def _tap_size(n: int, k: int, stride: int, pad: int, dilation: int) -> int:
  return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def _tap(xp: Array, a, b, dilation: int, stride: int, out_hw: tuple[int, int]) -> Array:
  """The (strided) window of padded ``xp`` that kernel position ``(a, b)`` (traced) sees."""
  ho, wo = out_hw
  t = lax.dynamic_slice(xp, (0, a * dilation, b * dilation, 0),
                        (xp.shape[0], (ho - 1) * stride + 1, (wo - 1) * stride + 1, xp.shape[3]))
  return t[:, ::stride, ::stride, :] if stride > 1 else t


def _taps_sum(xp: Array, k: Array, stride: int, dilation: int, out_hw) -> Array:
  """``sum_(a,b) tap_(a,b)(xp) * k[a, b, 0]``: a depthwise convolution of padded ``xp`` as a
  ``fori_loop`` over the kernel positions (one small loop body for XLA to compile)."""
  kw, c = k.shape[1], k.shape[3]

  def body(i, acc):
    a, b = i // kw, i % kw
    w = lax.dynamic_slice(k, (a, b, 0, 0), (1, 1, 1, c)).reshape(c)
    return acc + _tap(xp, a, b, dilation, stride, out_hw) * w

  zero = jnp.zeros((xp.shape[0],) + tuple(out_hw) + (c,), xp.dtype)
  return lax.fori_loop(0, k.shape[0] * kw, body, zero)


def _pad_hw(x: Array, pad: int) -> Array:
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def _depthwise_forward(x: Array, k: Array, stride: int, pad: int, dilation: int) -> Array:
  out_hw = tuple(_tap_size(x.shape[1 + i], k.shape[i], stride, pad, dilation) for i in range(2))
  return _taps_sum(_pad_hw(x, pad), k, stride, dilation, out_hw)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _depthwise(x: Array, k: Array, stride: int, pad: int, dilation: int) -> Array:
  return _depthwise_forward(x, k, stride, pad, dilation)


def _depthwise_fwd(x, k, stride, pad, dilation):
  # the plain forward (not the custom_vjp function): forward mode over a gradient (GRASP's
  # Hessian-vector product) then differentiates this rule and the backward rule as plain code
  return _depthwise_forward(x, k, stride, pad, dilation), (x, k)


def _depthwise_bwd(stride, pad, dilation, res, g):
  x, k = res
  kh, kw, c = k.shape[0], k.shape[1], k.shape[3]
  # input gradient: the transposed convolution, i.e. the flipped kernel's taps over the output
  # gradient dilated by the stride (interior zeros) and padded to the input's extent
  cfg = [(0, 0, 0)]
  for i in range(2):
    span = dilation * (k.shape[i] - 1) + 1
    before = span - 1 - pad
    after = x.shape[1 + i] + span - 1 - ((g.shape[1 + i] - 1) * stride + 1) - before
    cfg.append((before, after, stride - 1))
  gp = lax.pad(g, jnp.zeros((), g.dtype), cfg + [(0, 0, 0)])
  dx = _taps_sum(gp, k[::-1, ::-1], 1, dilation, x.shape[1:3])
  # kernel gradient: per kernel position, sum over batch and pixels of tap * g
  xp, out_hw = _pad_hw(x, pad), g.shape[1:3]

  def body(i, dk):
    a, b = i // kw, i % kw
    row = jnp.sum(_tap(xp, a, b, dilation, stride, out_hw) * g, axis=(0, 1, 2))
    return lax.dynamic_update_slice(dk, row.reshape(1, 1, 1, c), (a, b, 0, 0))

  dk = lax.fori_loop(0, kh * kw, body, jnp.zeros_like(k))
  return dx.astype(x.dtype), dk.astype(k.dtype)


_depthwise.defvjp(_depthwise_fwd, _depthwise_bwd)


class LoopDWConv(DWConv):
  """:class:`~jaxnas.nn.layers.DWConv` (same variable and FLOP count) computed as a loop over
  the kernel positions (shifted windows x per-channel weights) with a custom VJP whose input
  and kernel gradients are loops too. For the supernet's edge-vmapped depthwise convs (N=64,
  32x32, C=16, 4 edges, gradient) it compiles 3-5x faster than ``conv_vjp``'s unrolled slices
  (5x5: 1.1 vs 3.4 CPU-s) and runs 2-4x faster (0.5 vs 2.2 CPU-s; docs/darts_supernet.md)."""

  def __call__(self, x: Array) -> Array:
    layers._check_channels(  # pylint: disable=protected-access
        x, self.channels, f"depthwise conv {self.kernel_size}x{self.kernel_size}")
    return _depthwise(x, self.kernel.astype(x.dtype), int(self.stride), int(self.padding),
                      int(self.dilation))


class PointwiseConv(Conv):
  """A 1x1 :class:`~jaxnas.nn.layers.Conv` (same variable, ``kernel [1, 1, c_in, c_out]``; the
  FLOP counter sees a ``Conv``) computed as a matmul over the channels (stride: a strided slice
  first). Under the supernet's ``vmap`` over edges a convolution becomes a grouped convolution,
  which XLA:CPU runs slowly; a matmul becomes a batched matmul."""

  def __call__(self, x: Array) -> Array:
    if self.kernel_size != 1 or self.padding or self.use_bias:
      raise ValueError("PointwiseConv is a 1x1 convolution without padding or bias")
    layers._check_channels(x, self.c_in, "Conv 1x1")  # pylint: disable=protected-access
    if self.stride > 1:
      x = x[:, ::self.stride, ::self.stride, :]
    return jnp.einsum("bhwc,cd->bhwd", x, self.kernel[0, 0].astype(x.dtype))


class ReLUConvBN(nn.Module):
  """DARTS ``ReLUConvBN``: ReLU -> conv k x k (no bias) -> BN; the cells' 1x1 preprocessing."""

  c_in: int
  c_out: int
  kernel_size: int = 1
  stride: int = 1
  padding: int = 0
  affine: bool = True

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = probes.act(self, nn.relu(x))
    h = Conv(self.c_in, self.c_out, self.kernel_size, self.stride, self.padding, name="conv")(h)
    return BatchNorm(self.c_out, bn_config(self.affine), name="bn")(h, train)


class DilConv(nn.Module):
  """DARTS ``DilConv``: ReLU -> depthwise k x k dilated (stride s) -> 1x1 -> BN."""

  channels: int
  kernel_size: int
  stride: int = 1
  dilation: int = 2
  affine: bool = True
  fast_grad: bool = False  # the search supernet's form (see SepConv)

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    c, k = self.channels, self.kernel_size
    h = probes.act(self, nn.relu(x))
    dw, pw = (LoopDWConv, PointwiseConv) if self.fast_grad else (DWConv, Conv)
    h = dw(c, k, self.stride, self.dilation * (k // 2), self.dilation, name="dw")(h)
    h = pw(c, c, 1, name="pw")(h)
    return BatchNorm(c, bn_config(self.affine), name="bn")(h, train)


class SepConv(nn.Module):
  """DARTS ``SepConv``: two stacked ReLU -> depthwise k x k -> 1x1 -> BN blocks, the first with
  the stride (DARTS's ``DilConv(..., dilation=1)`` twice).

  ``fast_grad`` (here and in :class:`DilConv`): the DARTS search supernet's form, same variables
  and values to float rounding: the depthwise conv as :class:`LoopDWConv` (custom VJP, so no
  forward-mode autodiff) and the 1x1 conv as :class:`PointwiseConv` (a matmul), which XLA:CPU
  runs and compiles far faster under the supernet's vmap over edges. False (default): XLA's
  grouped and 1x1 convolutions (every autodiff mode, e.g. GRASP's Hessian-vector product)."""

  channels: int
  kernel_size: int
  stride: int = 1
  affine: bool = True
  fast_grad: bool = False

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    c, k, f = self.channels, self.kernel_size, self.fast_grad
    h = DilConv(c, k, self.stride, 1, self.affine, f, name="op1")(x, train)
    return DilConv(c, k, 1, 1, self.affine, f, name="op2")(h, train)


class Pool(nn.Module):
  """3x3 max or average pooling (stride s, padding 1), followed by a non-affine BN when
  ``search`` (DARTS's search ``MixedOp`` and NASLib's search primitives)."""

  channels: int
  kind: str  # "max" or "avg"
  stride: int = 1
  search: bool = False

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = (max_pool if self.kind == "max" else avg_pool)(x, 3, self.stride, 1)
    if self.search:
      h = BatchNorm(self.channels, bn_config(False), name="bn")(h, train)
    return h


class FactorizedReduce(nn.Module):
  """DARTS ``FactorizedReduce``: ReLU -> 1x1 stride-2 convs C_in -> C_out/2 on ``x`` and on
  ``x`` shifted by one pixel -> channel concat -> BN. Halves H and W (which must be even)."""

  c_in: int
  c_out: int
  affine: bool = True

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    if self.c_out % 2:
      raise ValueError(f"FactorizedReduce needs an even number of output channels, got "
                       f"{self.c_out}")
    if x.shape[1] % 2 or x.shape[2] % 2:
      raise ValueError(f"FactorizedReduce halves H and W, which must be even; got "
                       f"{tuple(x.shape)} (use image sizes that are multiples of 4)")
    h = probes.act(self, nn.relu(x))
    a = Conv(self.c_in, self.c_out // 2, 1, 2, name="conv_1")(h)
    b = Conv(self.c_in, self.c_out // 2, 1, 2, name="conv_2")(h[:, 1:, 1:, :])
    return BatchNorm(self.c_out, bn_config(self.affine), name="bn")(
        jnp.concatenate([a, b], axis=-1), train)


class Identity(nn.Module):
  """``skip_connect`` at stride 1."""

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    del train
    return x


class Zero(nn.Module):
  """``none``: zeros of the op's output shape (strided at stride 2)."""

  stride: int = 1

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    del train
    return jnp.zeros_like(x[:, ::self.stride, ::self.stride, :])


def make_op(name: str, channels: int, stride: int, *, affine: bool = True, search: bool = False,
            module_name: str | None = None) -> nn.Module:
  """The DARTS op ``name`` (one of :data:`PRIMITIVES`) on ``channels`` channels.

  Args:
    name: op name (``OPS`` / ``PRIMITIVES``).
    channels: input = output channels.
    stride: 1, or 2 for the ops of a reduction cell that read the cell's inputs.
    affine: BN scale/bias (evaluation network True; search networks False).
    search: a non-affine BN after the pools (search networks).
    module_name: the Flax submodule name (default: the op name).

  Returns:
    A module called ``op(x, train)``.

  Raises:
    ValueError: unknown op name or stride.
  """
  if stride not in (1, 2):
    raise ValueError(f"DARTS ops have stride 1 or 2, got {stride}")
  n = module_name or name
  if name in ("sep_conv_3x3", "sep_conv_5x5"):
    return SepConv(channels, KERNEL[name], stride, affine, name=n)
  if name in ("dil_conv_3x3", "dil_conv_5x5"):
    return DilConv(channels, KERNEL[name], stride, 2, affine, name=n)
  if name in ("max_pool_3x3", "avg_pool_3x3"):
    return Pool(channels, name[:3], stride, search, name=n)
  if name == "skip_connect":
    return Identity(name=n) if stride == 1 else FactorizedReduce(channels, channels, affine, name=n)
  if name == "none":
    return Zero(stride, name=n)
  raise ValueError(f"unknown DARTS op {name!r}; valid: {', '.join(PRIMITIVES)}")


def is_identity(name: str, stride: int) -> bool:
  """Whether op ``name`` at ``stride`` is the identity (DARTS applies no drop-path to it)."""
  return name == "skip_connect" and stride == 1


def op_params(name: str, C: int, stride: int, affine: bool) -> int:
  """Parameters of op ``name`` on ``C`` channels (closed form; SPACES.md section 2)."""
  bn = 2 * C if affine else 0
  if name.startswith("sep_conv"):
    k = KERNEL[name]
    return 2 * (k * k * C + C * C + bn)
  if name.startswith("dil_conv"):
    k = KERNEL[name]
    return k * k * C + C * C + bn
  if name == "skip_connect" and stride == 2:
    return C * C + bn
  return 0


__all__ = ["DWConv", "DilConv", "FactorizedReduce", "Identity", "KERNEL", "LoopDWConv", "OPS",
           "PRIMITIVES", "PointwiseConv", "Pool", "ReLUConvBN", "SepConv", "Zero", "avg_pool",
           "bn_config", "drop_path", "is_identity", "make_op", "max_pool", "op_params", "pool_out"]
