"""NAS-Bench-Macro networks (Su et al., CVPR 2021) and their exact parameter / FLOP counts.

Network (``../shared/SPACES.md`` section 4; CIFAR-10, 32x32): stem 3x3 conv 3 -> 32 + BN + ReLU;
three stages of 2, 3, 3 searchable layers whose first layer has stride 2 and doubles the channels
(32 -> 64 -> 128 -> 256); head 1x1 conv 256 -> 1280 + BN + ReLU, global average pooling, linear
1280 -> classes with bias. Layer choices: identity (a 1x1 stride-2 conv + BN in a stage's first
layer), and MobileNetV2 inverted residuals ``MB(t, k)``: 1x1 conv C_in -> t*C_in + BN + ReLU,
k x k depthwise conv (stride s, padding k//2) + BN + ReLU, 1x1 conv -> C_out + BN, plus the input
when the shape is kept. No conv has a bias. NAS-Bench-Macro has one width (this one): the
factory takes no ``C``.

Counting follows NAS-Bench-Macro's own convention (``SPACES.md`` section 0.4), **not** NB201's
(:mod:`jaxnas.nn.counting`, which stays as it is for NB201 and TNB):

* params: every parameter (conv kernels, BN scale and bias, the classifier's weight and bias) --
  the Flax ``params`` collection, so :func:`jaxnas.nn.count_params` agrees;
* FLOPs: multiply-accumulates of convolutions (depthwise included: ``k*k*C*H_out*W_out``) and of
  the linear layer, **no bias term**, nothing for BN, ReLU, pooling or additions
  (:func:`count_flops` here).

:func:`fast_counts` gives both for many keys at once in closed form (registered in
``jaxnas.nn.FAST_COUNTS``; equal to the json for all 6,561 keys and to the Flax variables).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.nn.layers import DEFAULT_BN, BatchNorm, BNConfig, Conv, Dense, torch_kernel_init
from jaxnas.spaces import nb_macro as space

Array = jax.Array
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# per layer: (c_in, c_out, stride)
LAYERS: tuple[tuple[int, int, int], ...] = (
    (32, 64, 2), (64, 64, 1),
    (64, 128, 2), (128, 128, 1), (128, 128, 1),
    (128, 256, 2), (256, 256, 1), (256, 256, 1))
MB = {space.MB3_K3: (3, 3), space.MB6_K5: (6, 5)}  # choice -> (expansion, kernel)


class DepthwiseConv(nn.Module):
  """k x k depthwise conv (one filter per channel, no bias); kernel ``[k, k, 1, C]``."""

  channels: int
  kernel_size: int
  stride: int = 1

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k = self.kernel_size
    kernel = self.param("kernel", torch_kernel_init, (k, k, 1, self.channels))
    p = k // 2
    return lax.conv_general_dilated(x, kernel, (self.stride,) * 2, ((p, p), (p, p)),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=self.channels)


class InvertedResidual(nn.Module):
  """MobileNetV2 block ``MB(expansion, kernel)`` (see the module doc)."""

  c_in: int
  c_out: int
  stride: int
  expansion: int
  kernel_size: int
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    hidden = self.c_in * self.expansion
    h = nn.relu(BatchNorm(hidden, self.bn, name="bn_expand")(
        Conv(self.c_in, hidden, 1, name="expand")(x), train))
    h = nn.relu(BatchNorm(hidden, self.bn, name="bn_depthwise")(
        DepthwiseConv(hidden, self.kernel_size, self.stride, name="depthwise")(h), train))
    h = BatchNorm(self.c_out, self.bn, name="bn_project")(
        Conv(hidden, self.c_out, 1, name="project")(h), train)
    return x + h if self.stride == 1 and self.c_in == self.c_out else h


class Layer(nn.Module):
  """One searchable layer with a fixed choice (0 identity, 1 MB3_K3, 2 MB6_K5)."""

  choice: int
  c_in: int
  c_out: int
  stride: int
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    if self.choice == space.IDENTITY:
      if self.stride == 1 and self.c_in == self.c_out:
        return x
      h = Conv(self.c_in, self.c_out, 1, self.stride, name="conv")(x)
      return BatchNorm(self.c_out, self.bn, name="bn")(h, train)
    t, k = MB[self.choice]
    return InvertedResidual(self.c_in, self.c_out, self.stride, t, k, self.bn, name="mb")(x, train)


class _Backbone(nn.Module):
  """Stem and head around the layers (shared by the network and the supernet)."""

  num_classes: int
  bn: BNConfig = DEFAULT_BN

  def stem(self, x: Array, train: bool) -> Array:
    h = Conv(3, STEM_CHANNELS, 3, 1, 1, name="stem_conv")(x)
    return nn.relu(BatchNorm(STEM_CHANNELS, self.bn, name="stem_bn")(h, train))

  def head(self, x: Array, train: bool) -> Array:
    h = Conv(LAYERS[-1][1], HEAD_CHANNELS, 1, name="head_conv")(x)
    h = nn.relu(BatchNorm(HEAD_CHANNELS, self.bn, name="head_bn")(h, train))
    return Dense(HEAD_CHANNELS, self.num_classes, name="classifier")(jnp.mean(h, axis=(1, 2)))


class NBMacroNetwork(_Backbone):
  """The discrete NAS-Bench-Macro network of one key; ``apply(variables, x, train)``, NHWC."""

  ops: tuple[int, ...] = (0,) * space.NUM_LAYERS

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    h = self.stem(x, train)
    for i, ((c_in, c_out, s), o) in enumerate(zip(LAYERS, self.ops)):
      h = Layer(int(o), c_in, c_out, s, self.bn, name=f"layer{i}")(h, train)
    return self.head(h, train)

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments of ``init``/``apply`` at this shape (for the counters)."""
    return (jnp.zeros(tuple(input_shape), jnp.float32), False)


class NBMacroSupernet(_Backbone):
  """Every layer runs its 3 choices and sums them weighted by ``op_weights: f32[8, 3]`` (one-hot
  weights give the discrete network's output; choice ``o`` of layer ``i`` holds the variables of
  the discrete network's ``layer{i}`` under ``layer{i}_choice{o}``); ``apply(variables, x,
  op_weights, train)``. ``mode`` (``"mixed"``/``"select"``) is accepted for the zero-cost driver
  and changes nothing: both run every choice."""

  mode: str = "mixed"

  @nn.compact
  def __call__(self, x: Array, op_weights: Array, train: bool = False) -> Array:
    h = self.stem(x, train)
    for i, (c_in, c_out, s) in enumerate(LAYERS):
      outs = [Layer(o, c_in, c_out, s, self.bn, name=f"layer{i}_choice{o}")(h, train)
              for o in range(space.NUM_OPS)]
      h = sum(op_weights[i, o] * outs[o] for o in range(space.NUM_OPS))
    return self.head(h, train)

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    w = jnp.full((space.NUM_LAYERS, space.NUM_OPS), 1.0 / space.NUM_OPS, jnp.float32)
    return (jnp.zeros(tuple(input_shape), jnp.float32), w, False)


def _ops(arch) -> tuple[int, ...]:
  if isinstance(arch, str):
    arch = space.from_string(arch)
  return tuple(int(v) for v in space.check(arch))


def compile_nb_macro(arch, num_classes: int = 10, *, bn: BNConfig = DEFAULT_BN) -> NBMacroNetwork:
  """The NAS-Bench-Macro network of ``arch`` (an ``Arch``, a key ``"22212220"`` or 8 choices).

  Raises:
    ValueError: an invalid architecture or ``num_classes < 1`` (one line).
  """
  if num_classes < 1:
    raise ValueError(f"num_classes must be >= 1, got {num_classes}")
  return NBMacroNetwork(num_classes=num_classes, bn=bn, ops=_ops(arch))


def supernet_nb_macro(num_classes: int = 10, *, mode: str = "mixed", bn: BNConfig = DEFAULT_BN,
                      partial_channels: int = 1) -> NBMacroSupernet:
  """The op-choice-as-input NAS-Bench-Macro network (see :class:`NBMacroSupernet`)."""
  del partial_channels  # no partial-channel mode for this space
  return NBMacroSupernet(num_classes=num_classes, bn=bn, mode=mode)


# ----------------------------------------------------------------------------- counting


def _sizes(image_size: int) -> list[tuple[int, int]]:
  """(input, output) resolution of each layer (stride-2 layers: ceil(H / 2))."""
  out, h = [], image_size
  for _, _, s in LAYERS:
    h_out = (h - 1) // s + 1
    out.append((h, h_out))
    h = h_out
  return out


def count_tables(num_classes: int = 10, image_size: int = 32) -> tuple[int, int, np.ndarray, np.ndarray]:
  """``(params_base, flops_base, params[8, 3], flops[8, 3])``: a key's counts are the base plus
  each layer's term for its choice (the layers' terms are independent). NAS-Bench-Macro's
  convention (module doc)."""
  s = image_size
  p_base = 27 * STEM_CHANNELS + 2 * STEM_CHANNELS
  f_base = 27 * STEM_CHANNELS * s * s
  c_last, h_last = LAYERS[-1][1], _sizes(image_size)[-1][1]
  p_base += c_last * HEAD_CHANNELS + 2 * HEAD_CHANNELS + HEAD_CHANNELS * num_classes + num_classes
  f_base += c_last * HEAD_CHANNELS * h_last * h_last + HEAD_CHANNELS * num_classes
  params = np.zeros((space.NUM_LAYERS, space.NUM_OPS), np.int64)
  flops = np.zeros_like(params)
  for i, ((c_in, c_out, st), (h_in, h_out)) in enumerate(zip(LAYERS, _sizes(image_size))):
    if st != 1 or c_in != c_out:
      params[i, space.IDENTITY] = c_in * c_out + 2 * c_out
      flops[i, space.IDENTITY] = c_in * c_out * h_out * h_out
    for o, (t, k) in MB.items():
      hid = t * c_in
      params[i, o] = c_in * hid + 2 * hid + k * k * hid + 2 * hid + hid * c_out + 2 * c_out
      flops[i, o] = (c_in * hid * h_in * h_in + k * k * hid * h_out * h_out
                     + hid * c_out * h_out * h_out)
  return p_base, f_base, params, flops


def closed_form_counts(ops: np.ndarray, num_classes: int = 10,
                       image_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
  """``(params int64[A], flops int64[A])`` of ``ops: int[A, 8]`` (NAS-Bench-Macro convention)."""
  ops = np.asarray(ops).reshape(-1, space.NUM_LAYERS)
  p0, f0, pt, ft = count_tables(num_classes, image_size)
  rows = np.arange(space.NUM_LAYERS)
  return p0 + pt[rows, ops].sum(-1), f0 + ft[rows, ops].sum(-1)


def count_flops(module: nn.Module, input_shape: Sequence[int] = (1, 32, 32, 3)) -> int:
  """NAS-Bench-Macro's FLOPs of a compiled network, traced abstractly: conv (depthwise included)
  and linear multiply-accumulates, no bias term, per sample."""
  total = [0]

  def interceptor(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    if context.method_name == "__call__":
      m = context.module
      positions = int(np.prod(out.shape[:-1]))
      if isinstance(m, Conv):
        total[0] += positions * m.kernel_size**2 * m.c_in * m.c_out
      elif isinstance(m, DepthwiseConv):
        total[0] += positions * m.kernel_size**2 * m.channels
      elif isinstance(m, Dense):
        total[0] += positions * m.c_in * m.c_out
    return out

  x, *rest = module.example_args(tuple(input_shape))
  with nn.intercept_methods(interceptor):
    jax.eval_shape(lambda k: module.init(k, x, *rest), jax.random.key(0))
  return total[0] // int(input_shape[0])


def fast_counts():
  """``(params, flops)`` counters of many keys at once, each ``(archs, ids, *, num_classes, C, N,
  image_size) -> int[A]`` (``jaxnas.nn.FAST_COUNTS``; ``C``, ``N`` unused: one width)."""

  def params(archs, ids, *, num_classes, image_size=32, **_):
    del ids
    return closed_form_counts(np.asarray(archs.ops), num_classes, image_size)[0]

  def flops(archs, ids, *, num_classes, image_size=32, **_):
    del ids
    return closed_form_counts(np.asarray(archs.ops), num_classes, image_size)[1]

  return params, flops


__all__ = ["DepthwiseConv", "InvertedResidual", "LAYERS", "NBMacroNetwork", "NBMacroSupernet",
           "closed_form_counts", "compile_nb_macro", "count_flops", "count_tables", "fast_counts",
           "supernet_nb_macro"]
