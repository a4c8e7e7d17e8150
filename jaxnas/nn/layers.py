"""Primitive layers and ops of the NAS-Bench-201 family, channels-last (NHWC), in Flax Linen.

Definitions follow NAS-Bench-201's ``cell_operations.py`` / ``cell_infers/tiny_network.py``
(Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search",
ICLR 2020; and NATS-Bench, TPAMI 2021):

* ``ReLUConvBN``: ReLU -> Conv -> BatchNorm (the conv has a bias only when the BN is not
  affine, NB201's ``bias=not affine``).
* ``avg_pool_3x3``: 3x3 average pooling, stride 1, padding 1, ``count_include_pad=False``.
* ``skip_connect``: identity; ``none``: zeros.
* ``ResNetBasicBlock`` (stride 2, between stages): ``ReLUConvBN 3x3/2 -> ReLUConvBN 3x3/1`` plus a
  shortcut ``AvgPool 2x2/2 -> Conv 1x1`` (no ReLU, no BN, no bias).
* ``Stem``: Conv 3x3 (no bias) -> BN. The head (``lastact`` BN-ReLU, global average pooling,
  ``Dense``) lives in the macro networks.

The leaf modules (``Conv``, ``BatchNorm``, ``Dense``) declare their variables in ``setup`` with
explicit channel counts, so a parent can read a child's kernel or BN statistics without running it:
that is how the stacked ``MixedOp`` (``jaxnas.nn.nb201``) reuses the *same* variable paths as the
discrete network (Flax derives each param's init RNG from its path, so equal paths give equal
weights).

Batch norm follows PyTorch semantics, controlled by :class:`BNConfig` and the ``train`` flag:
batch statistics are used when ``train`` is true or when running statistics are not tracked;
running statistics (``batch_stats`` collection) are updated with PyTorch's momentum convention and
the *unbiased* batch variance, and only when the ``batch_stats`` collection is mutable (so a
train-mode forward pass for scoring needs no ``mutable=``).
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.nn import probes

Array = jax.Array

# PyTorch's default Conv2d / Linear weight init (kaiming_uniform with a=sqrt(5)): U(+-1/sqrt(fan_in)).
torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def _torch_bias_init(fan_in: int):
  bound = 1.0 / np.sqrt(fan_in)
  return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


@dataclasses.dataclass(frozen=True)
class BNConfig:
  """Batch-norm settings (PyTorch ``BatchNorm2d`` semantics).

  Attributes:
    affine: learnable per-channel ``scale``/``bias`` (NB201 training: True; DARTS-style search
      cells in NASLib: False).
    track_running_stats: keep running ``mean``/``var`` in the ``batch_stats`` collection and use
      them when ``train=False``. If False there is no ``batch_stats`` variable and batch statistics
      are used in every mode (PyTorch ``track_running_stats=False``).
    momentum: PyTorch convention, ``running = (1 - momentum) * running + momentum * batch``.
    epsilon: added to the variance.
  """

  affine: bool = True
  track_running_stats: bool = True
  momentum: float = 0.1
  epsilon: float = 1e-5


# The default BatchNorm of every network: affine, running statistics, momentum 0.1, eps 1e-5
# (PyTorch's defaults; how NAS-Bench-201 trained every network). NB201_BN is its old name.
DEFAULT_BN = BNConfig()
NB201_BN = DEFAULT_BN


def _check_channels(x: Array, c_in: int, what: str) -> None:
  if x.ndim != 4:
    raise ValueError(f"{what} expects an NHWC batch (4 dims), got shape {tuple(x.shape)}")
  if x.shape[-1] != c_in:
    raise ValueError(
        f"{what} expects {c_in} input channels (NHWC, channels last), got shape {tuple(x.shape)}")


def conv2d(x: Array, kernel: Array, stride: int = 1, padding: int = 0) -> Array:
  """Plain NHWC/HWIO 2-D convolution with symmetric zero padding."""
  return lax.conv_general_dilated(
      x, kernel, (stride, stride), ((padding, padding), (padding, padding)),
      dimension_numbers=("NHWC", "HWIO", "NHWC"))


@functools.lru_cache(maxsize=64)
def _window_counts(h: int, w: int) -> np.ndarray:
  """How many in-image pixels each 3x3 window (stride 1, padding 1) covers: ``f32[1, h, w, 1]``."""
  rows = np.minimum(np.arange(h) + 1, h - 1) - np.maximum(np.arange(h) - 1, 0) + 1
  cols = np.minimum(np.arange(w) + 1, w - 1) - np.maximum(np.arange(w) - 1, 0) + 1
  return np.outer(rows, cols).astype(np.float32)[None, :, :, None]


def avg_pool_3x3(x: Array) -> Array:
  """NB201 ``avg_pool_3x3``: 3x3 window, stride 1, padding 1, padded zeros not counted
  (``count_include_pad=False``).

  The divisor is a host-computed constant rather than a second pooling of ones, which keeps one
  ``reduce_window`` per pool in the compiled program.
  """
  # A Python-scalar init value makes JAX emit reduce_window_sum, which has a reverse-mode rule;
  # an array init (a tracer under jit) would give the generic, non-differentiable reduce_window.
  total = lax.reduce_window(x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 1, 1),
                            ((0, 0), (1, 1), (1, 1), (0, 0)))
  return total / jnp.asarray(_window_counts(x.shape[1], x.shape[2]), x.dtype)


def avg_pool_3x3_separable(x: Array) -> Array:
  """:func:`avg_pool_3x3` as a 3x1 then a 1x3 window sum (6 adds per output instead of 9, and
  the same split in the backward pass): the same function, equal to float rounding (the sums run
  in another order). The NB201 supernet's mixed op uses it (issue 18: 9% less CPU per DARTS step
  on XLA:CPU); discrete networks keep :func:`avg_pool_3x3`, so their values stay bit-identical."""
  rows = lax.reduce_window(x, 0.0, lax.add, (1, 3, 1, 1), (1, 1, 1, 1),
                           ((0, 0), (1, 1), (0, 0), (0, 0)))
  total = lax.reduce_window(rows, 0.0, lax.add, (1, 1, 3, 1), (1, 1, 1, 1),
                            ((0, 0), (0, 0), (1, 1), (0, 0)))
  return total / jnp.asarray(_window_counts(x.shape[1], x.shape[2]), x.dtype)


def batch_moments(y: Array) -> tuple[Array, Array]:
  """Per-channel mean and biased variance over N, H, W (what BN normalizes with)."""
  mean = jnp.mean(y, axis=(0, 1, 2))
  var = jnp.mean(jnp.square(y - mean), axis=(0, 1, 2))
  return mean, var


def normalize(y, mean, var, scale, bias, epsilon):
  """``(y - mean) / sqrt(var + eps) * scale + bias``; ``scale``/``bias`` may be None (affine off)."""
  out = (y - mean) * lax.rsqrt(var + epsilon)
  if scale is not None:
    out = out * scale + bias
  return out


def unbiased(var: Array, y: Array) -> Array:
  """PyTorch updates running variance with the unbiased estimate ``var * n / (n - 1)``."""
  n = y.shape[0] * y.shape[1] * y.shape[2]
  return var * (n / max(n - 1, 1))


class Conv(nn.Module):
  """Conv2d, NHWC; the kernel ``[k, k, c_in, c_out]`` (and optional ``bias``) is declared in
  ``setup``.

  Attributes:
    c_in, c_out: channels (checked against the input).
    kernel_size, stride, padding: as PyTorch ``nn.Conv2d``.
    use_bias: add a per-channel bias (PyTorch init). NB201 convs have none, except inside
      ``ReLUConvBN`` when its BN is not affine (see :class:`ReLUConvBN`).
  """

  c_in: int
  c_out: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  use_bias: bool = False

  def setup(self):
    self.kernel = self.param(
        "kernel", torch_kernel_init, (self.kernel_size, self.kernel_size, self.c_in, self.c_out))
    fan_in = self.kernel_size**2 * self.c_in
    self.bias = self.param("bias", _torch_bias_init(fan_in), (self.c_out,)) if self.use_bias else None

  def __call__(self, x: Array) -> Array:
    _check_channels(x, self.c_in, f"Conv {self.kernel_size}x{self.kernel_size}")
    y = conv2d(x, self.kernel, self.stride, self.padding)
    return y if self.bias is None else y + self.bias


class Dense(nn.Module):
  """Linear layer with bias and PyTorch's default init (``kernel: [c_in, c_out]``)."""

  c_in: int
  c_out: int

  def setup(self):
    self.kernel = self.param("kernel", torch_kernel_init, (self.c_in, self.c_out))
    self.bias = self.param("bias", _torch_bias_init(self.c_in), (self.c_out,))

  def __call__(self, x: Array) -> Array:
    if x.shape[-1] != self.c_in:
      raise ValueError(f"Dense expects {self.c_in} input features, got shape {tuple(x.shape)}")
    return x @ self.kernel + self.bias


class DWConv(nn.Module):
  """Depthwise conv (``groups = channels``, no bias), NHWC; kernel ``[k, k, 1, channels]``.

  Attributes:
    channels, kernel_size, stride, padding, dilation: as PyTorch ``nn.Conv2d(C, C, k, s, p, d,
      groups=C, bias=False)``.
  """

  channels: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  dilation: int = 1

  def setup(self):
    # PyTorch init: fan_in = k * k * (C_in / groups) = k * k
    self.kernel = self.param("kernel", torch_kernel_init,
                             (self.kernel_size, self.kernel_size, 1, self.channels))

  def __call__(self, x: Array) -> Array:
    _check_channels(x, self.channels, f"depthwise conv {self.kernel_size}x{self.kernel_size}")
    p, d = self.padding, self.dilation
    return lax.conv_general_dilated(
        x, self.kernel.astype(x.dtype), (self.stride, self.stride), ((p, p), (p, p)),
        rhs_dilation=(d, d), dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=self.channels)


class BatchNorm(nn.Module):
  """PyTorch-semantics ``BatchNorm2d`` over the last axis (see :class:`BNConfig`).

  Variables: params ``scale``, ``bias`` (if ``affine``); batch_stats ``mean``, ``var`` (if
  ``track_running_stats``).
  """

  features: int
  config: BNConfig = DEFAULT_BN

  def setup(self):
    cfg, c = self.config, self.features
    if cfg.affine:
      self.scale = self.param("scale", nn.initializers.ones, (c,))
      self.bias = self.param("bias", nn.initializers.zeros, (c,))
    else:
      self.scale = self.bias = None
    if cfg.track_running_stats:
      self.mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
      self.var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
    else:
      self.mean = self.var = None

  def use_batch_stats(self, train: bool) -> bool:
    """True when this BN normalizes with batch statistics."""
    return train or not self.config.track_running_stats

  def update_stats(self, y: Array, mean: Array, var: Array, weight=1.0) -> None:
    """Moves the running stats toward the batch moments of ``y``, scaled by ``weight``.

    ``weight`` is 1 for a plain BN; the stacked MixedOp passes the op's one-hot weight so that
    only the selected op's statistics move. A no-op unless ``batch_stats`` is mutable (and not
    during ``init``, like Flax's own BatchNorm).
    """
    if self.mean is None or self.is_initializing() or not self.is_mutable_collection("batch_stats"):
      return
    step = self.config.momentum * weight
    self.mean.value = self.mean.value + step * (mean - self.mean.value)
    self.var.value = self.var.value + step * (unbiased(var, y) - self.var.value)

  def __call__(self, y: Array, train: bool) -> Array:
    _check_channels(y, self.features, "BatchNorm")
    if self.use_batch_stats(train):
      mean, var = batch_moments(y)
      if train:
        self.update_stats(y, mean, var)
    else:
      mean, var = self.mean.value, self.var.value
    return normalize(y, mean, var, self.scale, self.bias, self.config.epsilon)


class ReLUConvBN(nn.Module):
  """NB201 ``ReLUConvBN``: ReLU -> Conv -> BN. The ReLU output is a probe point.

  Attributes:
    c_in, c_out: channels.
    kernel_size: 1 or 3 (padding ``kernel_size // 2``, as NB201's 1x1/3x3 ops).
    stride: 1 in cells, 2 in the first conv of a reduction block.
    bn: batch-norm settings.
    conv_bias: None follows NB201 (``nn.Conv2d(..., bias=not affine)``): a conv bias exactly when
      the BN is not affine. NASLib's ops never have one: pass False to reproduce them.
  """

  c_in: int
  c_out: int
  kernel_size: int
  stride: int = 1
  bn: BNConfig = DEFAULT_BN
  conv_bias: bool | None = None

  @property
  def use_bias(self) -> bool:
    """Whether the conv has a bias (see ``conv_bias``)."""
    return (not self.bn.affine) if self.conv_bias is None else self.conv_bias

  def setup(self):
    self.conv = Conv(self.c_in, self.c_out, self.kernel_size, self.stride, self.kernel_size // 2,
                     self.use_bias)
    self.bn_layer = BatchNorm(self.c_out, self.bn)

  def __call__(self, x: Array, train: bool) -> Array:
    """Args: ``x: f32[B, H, W, c_in]``; ``train``: BN mode. Returns ``f32[B, H', W', c_out]``."""
    h = probes.act(self, nn.relu(x))
    return self.bn_layer(self.conv(h), train)


class ResNetBasicBlock(nn.Module):
  """NB201's reduction block between stages (``ResNetBasicblock(C_in, C_out, stride=2)``).

  ``conv_a`` (ReLU-Conv3x3/2-BN) -> ``conv_b`` (ReLU-Conv3x3-BN), plus the shortcut
  ``AvgPool2x2/2 -> Conv1x1`` (``downsample``, no BN). Halves H and W.
  """

  c_in: int
  c_out: int
  bn: BNConfig = DEFAULT_BN
  conv_bias: bool | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    _check_channels(x, self.c_in, "ResNetBasicBlock")
    if x.shape[1] % 2 or x.shape[2] % 2:
      raise ValueError(f"ResNetBasicBlock halves H and W, which must be even; got {tuple(x.shape)}")
    h = ReLUConvBN(self.c_in, self.c_out, 3, 2, self.bn, self.conv_bias, name="conv_a")(x, train)
    h = ReLUConvBN(self.c_out, self.c_out, 3, 1, self.bn, self.conv_bias, name="conv_b")(h, train)
    r = nn.avg_pool(x, (2, 2), strides=(2, 2))
    r = Conv(self.c_in, self.c_out, 1, name="downsample")(r)
    return r + h


class Stem(nn.Module):
  """NB201 stem: Conv 3x3 (3 -> c_out, no bias) -> BN (no ReLU)."""

  c_in: int
  c_out: int
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = Conv(self.c_in, self.c_out, 3, 1, 1, name="conv")(x)
    return BatchNorm(self.c_out, self.bn, name="bn")(h, train)


class Head(nn.Module):
  """NB201 head: ``lastact`` BN -> ReLU, global average pooling, ``classifier`` Dense.

  The ReLU output is both an activation probe and the pre-pooling ``features`` probe.
  """

  c_in: int
  num_classes: int
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = nn.relu(BatchNorm(self.c_in, self.bn, name="lastact")(x, train))
    h = probes.features(self, probes.act(self, h))
    return Dense(self.c_in, self.num_classes, name="classifier")(jnp.mean(h, axis=(1, 2)))

