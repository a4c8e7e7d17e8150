"""2-D convolutions (NHWC / HWIO) whose gradients are written out in forms XLA:CPU runs fast,
also inside ``lax.cond`` / ``lax.switch`` branches.

Why this exists (measured on jaxlib 0.10.2, 2 cores; ``docs/oneshot_performance.md``): for one
3x3 conv, N=64, 32x32, C=16, the forward takes 6.6 ms at top level and inside a ``lax.cond``
branch alike, but autodiff's backward convolutions carry non-canonical dimension labels
(``b01f_01oi`` for the input gradient, ``f01b_i01o`` for the kernel gradient). At top level XLA
inserts transposes and calls its fast kernels (5.2 ms and 14.3 ms); inside a branch it does not,
and emits a naive loop (74 ms and 500 ms). Depthwise kernels (``feature_group_count = C``) are
worse everywhere: their kernel gradient becomes a dense ``C x C`` convolution with the
off-diagonal masked.

:func:`conv` computes the same forward with :func:`jax.lax.conv_general_dilated`, and a custom VJP:

* input gradient: a forward-form convolution of the output gradient with the flipped,
  in/out-swapped kernel (``lhs_dilation`` = stride; the textbook transposed convolution), so it
  has the canonical ``b01f_01io`` labels wherever it is placed;
* kernel gradient: one tap per kernel position. A tap is the strided slice of the padded input
  that kernel position ``(a, b)`` sees; the gradient of that position is
  ``sum_{n,y,x} tap[n,y,x,:]^T g[n,y,x,:]`` (a matmul over ``N*Ho*Wo``, or a per-channel product
  sum for depthwise kernels).

Only ``groups`` 1 and depthwise (``groups == C_in``, kernel ``[k, k, 1, C_in]``) are supported.
The values equal autodiff's up to float summation order (``tests/test_conv_vjp.py``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
_DN = ("NHWC", "HWIO", "NHWC")


def _pair(v) -> tuple[int, int]:
  return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _out_size(n: int, k: int, s: int, p: tuple[int, int], d: int) -> int:
  return (n + p[0] + p[1] - (d * (k - 1) + 1)) // s + 1


def _check(x: Array, k: Array, groups: int) -> None:
  if x.ndim != 4 or k.ndim != 4:
    raise ValueError(f"conv expects NHWC input and HWIO kernel, got {x.shape} and {k.shape}")
  if groups == 1:
    if k.shape[2] != x.shape[3]:
      raise ValueError(f"conv: kernel {k.shape} does not take {x.shape[3]} input channels")
  elif not (groups == x.shape[3] and k.shape[2] == 1 and k.shape[3] == groups):
    raise ValueError(f"conv supports groups=1 or depthwise (groups=C, kernel [k,k,1,C]); got "
                     f"groups={groups}, input {x.shape}, kernel {k.shape}")


def _forward(x, k, stride, padding, dilation, groups):
  if groups == 1:
    return lax.conv_general_dilated(x, k, stride, padding, rhs_dilation=dilation,
                                    dimension_numbers=_DN)
  return _depthwise(x, k, stride, padding, dilation)


def _taps(x, kshape, stride, padding, dilation, out_hw):
  """The strided input slice each kernel position sees: a list over (a, b), row-major."""
  xp = jnp.pad(x, ((0, 0), padding[0], padding[1], (0, 0)))
  (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
  taps = []
  for a in range(kshape[0]):
    for b in range(kshape[1]):
      start = (0, a * dh, b * dw, 0)
      limit = (xp.shape[0], a * dh + (ho - 1) * sh + 1, b * dw + (wo - 1) * sw + 1, xp.shape[3])
      taps.append(lax.slice(xp, start, limit, (1, sh, sw, 1)))
  return taps


def _depthwise(x, k, stride, padding, dilation):
  """Depthwise conv as a sum of ``k*k`` shifted, per-channel-scaled slices: one elementwise
  fusion (35x less CPU time than XLA:CPU's grouped convolution for 5x5, C=16, 32x32, N=64)."""
  out_hw = tuple(_out_size(x.shape[1 + i], k.shape[i], stride[i], padding[i], dilation[i])
                 for i in range(2))
  taps = _taps(x, k.shape, stride, padding, dilation, out_hw)
  out = taps[0] * k[0, 0, 0]
  for i, t in enumerate(taps[1:], start=1):
    out = out + t * k[i // k.shape[1], i % k.shape[1], 0]
  return out


def _grad_input(g, k, x_shape, stride, padding, dilation, groups):
  """The transposed convolution in forward form: flipped (and, for groups=1, in/out-swapped)
  kernel over the output gradient dilated by the stride."""
  pads = []
  for i in range(2):
    dk = dilation[i] * (k.shape[i] - 1) + 1
    before = dk - 1 - padding[i][0]
    after = x_shape[1 + i] + dk - 1 - ((g.shape[1 + i] - 1) * stride[i] + 1) - before
    pads.append((before, after))
  flipped = k[::-1, ::-1]
  if groups == 1:
    flipped = jnp.transpose(flipped, (0, 1, 3, 2))
    return lax.conv_general_dilated(g, flipped, (1, 1), pads, lhs_dilation=stride,
                                    rhs_dilation=dilation, dimension_numbers=_DN)
  # depthwise: dilate by the stride with interior zeros, crop negative pads, then taps
  zero = jnp.zeros((), g.dtype)
  cfg = [(0, 0, 0)] + [(pads[i][0], pads[i][1], stride[i] - 1) for i in range(2)] + [(0, 0, 0)]
  gp = lax.pad(g, zero, cfg)
  return _depthwise(gp, flipped, (1, 1), ((0, 0), (0, 0)), dilation)


def _grad_kernel(x, g, kshape, stride, padding, dilation, groups):
  if groups == 1:
    # one canonical convolution with batch and feature axes swapped; the barrier keeps XLA from
    # folding the transposes back into non-canonical dimension labels (slow inside branches)
    xt = jnp.transpose(x, (3, 1, 2, 0))                            # [Cin, H, W, N]
    gt = jnp.transpose(g, (1, 2, 0, 3))                            # [Ho, Wo, N, Cout]
    xt, gt = lax.optimization_barrier((xt, gt))
    out = lax.conv_general_dilated(xt, gt, dilation, padding, rhs_dilation=stride,
                                   dimension_numbers=_DN)          # [Cin, >=kh, >=kw, Cout]
    return jnp.transpose(out[:, :kshape[0], :kshape[1], :], (1, 2, 0, 3))
  taps = _taps(x, kshape, stride, padding, dilation, g.shape[1:3])
  rows = [jnp.sum(t * g, axis=(0, 1, 2)) for t in taps]           # each [C]
  return jnp.stack(rows).reshape(kshape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv(x, k, stride, padding, dilation, groups):
  return _forward(x, k, stride, padding, dilation, groups)


def _conv_fwd(x, k, stride, padding, dilation, groups):
  return _forward(x, k, stride, padding, dilation, groups), (x, k)


def _conv_bwd(stride, padding, dilation, groups, res, g):
  x, k = res
  dx = _grad_input(g, k, x.shape, stride, padding, dilation, groups)
  dk = _grad_kernel(x, g, k.shape, stride, padding, dilation, groups)
  return dx.astype(x.dtype), dk.astype(k.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv(x: Array, kernel: Array, stride=1, padding=0, dilation=1, groups: int = 1) -> Array:
  """``lax.conv_general_dilated(x, kernel, stride, padding, rhs_dilation=dilation,
  feature_group_count=groups)`` in NHWC/HWIO with XLA:CPU-friendly gradients (module doc).

  Args:
    x: ``f32[N, H, W, C_in]``.
    kernel: ``[kh, kw, C_in, C_out]``, or ``[kh, kw, 1, C_in]`` with ``groups = C_in``.
    stride, dilation: an int or a pair.
    padding: an int (symmetric), a pair of ints (per dimension, symmetric) or a pair of
      ``(low, high)`` pairs.
  """
  _check(x, kernel, groups)
  if isinstance(padding, int):
    pad = ((padding, padding), (padding, padding))
  else:
    pad = tuple((p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in padding)
  stride, dilation = _pair(stride), _pair(dilation)
  for i in range(2):
    if _out_size(x.shape[1 + i], kernel.shape[i], stride[i], pad[i], dilation[i]) < 1:
      raise ValueError(f"conv: kernel {kernel.shape} does not fit input {x.shape}")
  return _conv(x, kernel.astype(x.dtype), stride, pad, dilation, int(groups))
