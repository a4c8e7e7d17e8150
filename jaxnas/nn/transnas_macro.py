"""TransNAS-Bench-101 macro networks (Duan et al., CVPR 2021): ResNet basic-block backbones, one
per skeleton, with a classification head.

Backbone (``../shared/SPACES.md`` section 3): the TNB stem (conv 3x3/2, 3 -> C/2, BN; then
ReLU-conv 3x3/2-BN, C/2 -> C: resolution /4), then one module per skeleton digit, each two ResNet
basic blocks; the first block of a module carries the module's change (digit 1 keep, 2 channels
x2, 3 stride 2, 4 both). A basic block is ReLU-conv3x3-BN twice (the first with the stride) plus a
shortcut, 1x1 conv (with the stride) + BN when the shape changes, else the identity. The head is
a classification head (ReLU, global average pooling, linear ``classifier``), not TNB's task
decoders. No conv has a bias (BN affine). Every skeleton compiles at any input of at least 4x4
pixels (a stride-2 3x3 conv with padding 1 maps 1x1 to 1x1); :func:`count_params` is the closed
form of the parameter count (tested against the Flax variables).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.nn.layers import DEFAULT_BN, BatchNorm, BNConfig, Conv, Dense, ReLUConvBN
from jaxnas.spaces import transnas_macro as space

Array = jax.Array


def plan(digits: Sequence[int], C: int = 64) -> tuple[tuple[int, int, int], ...]:
  """``((c_in, c_out, stride), ...)`` of the 2 blocks per module of the skeleton ``digits``."""
  out, c = [], C
  for d in digits:
    d = int(d)
    if d == space.NONE:
      continue
    c_out = c * 2 if d in (space.DOUBLE, space.DOUBLE_DOWN) else c
    s = 2 if d in (space.DOWN, space.DOUBLE_DOWN) else 1
    out += [(c, c_out, s), (c_out, c_out, 1)]
    c = c_out
  return tuple(out)


class BasicBlock(nn.Module):
  """ResNet basic block: ``conv_a`` ReLU-conv3x3(/stride)-BN, ``conv_b`` ReLU-conv3x3-BN, plus the
  shortcut (``shortcut`` 1x1 conv + ``shortcut_bn`` when the shape changes)."""

  c_in: int
  c_out: int
  stride: int = 1
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = ReLUConvBN(self.c_in, self.c_out, 3, self.stride, self.bn, False, name="conv_a")(x, train)
    h = ReLUConvBN(self.c_out, self.c_out, 3, 1, self.bn, False, name="conv_b")(h, train)
    if self.stride == 1 and self.c_in == self.c_out:
      return x + h
    r = Conv(self.c_in, self.c_out, 1, self.stride, name="shortcut")(x)
    return BatchNorm(self.c_out, self.bn, name="shortcut_bn")(r, train) + h


class TransNASMacroNetwork(nn.Module):
  """The backbone of one skeleton with a classification head; ``apply(variables, x, train)``."""

  digits: tuple[int, ...]
  num_classes: int
  C: int = 64
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    h = Conv(3, self.C // 2, 3, 2, 1, name="stem_conv")(x)
    h = BatchNorm(self.C // 2, self.bn, name="stem_bn")(h, train)
    h = ReLUConvBN(self.C // 2, self.C, 3, 2, self.bn, False, name="stem_conv_b")(h, train)
    for i, (c_in, c_out, s) in enumerate(plan(self.digits, self.C)):
      h = BasicBlock(c_in, c_out, s, self.bn, name=f"block{i}")(h, train)
    h = jnp.mean(nn.relu(h), axis=(1, 2))
    return Dense(h.shape[-1], self.num_classes, name="classifier")(h)

  def example_args(self, input_shape: Sequence[int] = (1, 32, 32, 3)) -> tuple:
    """Positional arguments of ``init``/``apply`` at this shape (for the counters)."""
    return (jnp.zeros(tuple(input_shape), jnp.float32), False)


def _digits(arch) -> tuple[int, ...]:
  if isinstance(arch, str):
    arch = space.from_string(arch)
  elif not hasattr(arch, "ops"):
    arch = space.from_naslib(tuple(int(v) for v in np.asarray(arch).reshape(-1)))
  return tuple(int(v) for v in space.check(arch))


def compile_transnas_macro(arch, num_classes: int, C: int = 64, *,
                           bn: BNConfig = DEFAULT_BN) -> TransNASMacroNetwork:
  """The TransNAS-Bench-101 macro network of ``arch`` (an ``Arch``, a ``64-{digits}-basic``
  string, or NASLib's digits, padded or not) with a classification head.

  Args:
    arch: the skeleton.
    num_classes: classifier outputs (TNB class_scene 63, class_object 100).
    C: base channels (TNB: 64; the stem halves it first).
    bn: batch-norm settings.

  Raises:
    ValueError: an invalid skeleton, an odd ``C`` or ``num_classes < 1`` (one line).
  """
  if C < 2 or C % 2:
    raise ValueError(f"TransNAS-Bench-101 macro needs an even C >= 2 (the stem halves it), got {C}")
  if num_classes < 1:
    raise ValueError(f"num_classes must be >= 1, got {num_classes}")
  return TransNASMacroNetwork(digits=_digits(arch), num_classes=num_classes, C=C, bn=bn)


def supernet_transnas_macro(num_classes: int, C: int = 64, **kwargs):
  """No supernet: skeletons differ in depth, widths and resolutions (one-line ValueError)."""
  del num_classes, C, kwargs
  raise ValueError("search space transnas101_macro has no supernet (its skeletons differ in depth, "
                   "widths and resolutions); compile one skeleton with jaxnas.nn.compile("
                   "'transnas101_macro', arch, num_classes)")


def count_params(arch, num_classes: int, C: int = 64) -> int:
  """The network's parameter count in closed form (BN affine, no conv bias; no trace)."""
  total = 27 * (C // 2) + 2 * (C // 2) + 9 * (C // 2) * C + 2 * C
  blocks = plan(_digits(arch), C)
  for c_in, c_out, s in blocks:
    total += 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out
    if s != 1 or c_in != c_out:
      total += c_in * c_out + 2 * c_out
  c_last = blocks[-1][1]
  return total + c_last * num_classes + num_classes


def output_shape(digits: Sequence[int], C: int = 64, image_size: int = 32) -> tuple[int, int]:
  """``(resolution, channels)`` of the backbone's output for the module ``digits`` (unchecked,
  padded or not), in closed form."""
  h = (image_size - 1) // 2 + 1
  h = (h - 1) // 2 + 1
  blocks = plan(digits, C)
  for _, _, s in blocks:
    h = (h - 1) // s + 1
  return h, blocks[-1][1]


__all__ = ["BasicBlock", "TransNASMacroNetwork", "compile_transnas_macro", "count_params",
           "output_shape", "plan", "supernet_transnas_macro"]
