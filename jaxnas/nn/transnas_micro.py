"""TransNAS-Bench-101 micro networks (Duan et al., CVPR 2021) as instances of the generic cell
network (:mod:`jaxnas.nn.cell`), and the micro supernet spec.

Backbone (``../shared/SPACES.md`` section 3, skeleton ``64-41414``): a stem
(Conv 3x3/2, 3 -> C/2, BN; then ReLU-Conv 3x3/2-BN, C/2 -> C: resolution /4), then five modules of
two cells; module digit 4 doubles the channels and halves the resolution in its first cell, digit
1 keeps both, so channels ``C -> 2C, 2C, 4C, 4C, 8C`` at resolutions /8, /8, /16, /16, /32. In a
cell the edges out of the input node carry the module's stride and channel change (skip becomes
``FactorizedReduce``, none a zero tensor of the new shape), the others keep the shape. The head here
is a classification head (global average pooling, linear ``classifier``), not TNB's task decoders.
The ops are TNB's codes 0-3 = ``none``, ``skip_connect``, ReLU-conv1x1-BN, ReLU-conv3x3-BN
(:data:`jaxnas.nn.cell.STANDARD_OPS`); no conv has a bias (BN affine).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from jaxnas.nn import cell as ncell
from jaxnas.nn.layers import (DEFAULT_BN, NB201_BN, BatchNorm, BNConfig, Conv,  # noqa: F401
                              ReLUConvBN)
from jaxnas.spaces import transnas_micro as space

Array = jax.Array
SKELETON = "41414"  # module digits: 1 keep, 2 channels x2, 3 resolution /2, 4 both
LIBRARY = ncell.as_library(ncell.STANDARD_OPS, space.OPS)
# The supernet's view for one-shot optimizers: RandomNAS samples with NASLib's intended filter.
SUPERNET_SPEC = ncell.supernet_spec(space.SPACE.as_search_space())


class Stem(nn.Module):
  """TNB micro stem: ``conv`` 3x3/2 (3 -> C/2, no bias) -> ``bn``, then ``conv_b`` ReLU-conv
  3x3/2-BN (C/2 -> C). Quarters H and W."""

  C: int
  bn: BNConfig = DEFAULT_BN

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    h = Conv(3, self.C // 2, 3, 2, 1, name="conv")(x)
    h = BatchNorm(self.C // 2, self.bn, name="bn")(h, train)
    return ReLUConvBN(self.C // 2, self.C, 3, 2, self.bn, name="conv_b")(h, train)


def stem(C: int, bn: BNConfig) -> nn.Module:
  """The stem factory (see :class:`jaxnas.nn.cell.CellNetwork`)."""
  return Stem(C, bn)


def plan(C: int, skeleton: str = SKELETON) -> tuple[tuple[int, int], ...]:
  """``((channels, stride), ...)`` of the 2 cells per module of ``skeleton`` from ``C`` channels."""
  out, c = [], C
  for d in skeleton:
    if d not in "1234":
      raise ValueError(f"TransNAS-Bench-101 module digits are 1-4, got skeleton {skeleton!r}")
    c = c * 2 if d in "24" else c
    out += [(c, 2 if d in "34" else 1), (c, 1)]
  return tuple(out)


def _check(num_classes: int, C: int) -> None:
  if C < 2 or C % 2:
    raise ValueError(f"TransNAS-Bench-101 micro needs an even C >= 2 (the stem halves it), got {C}")
  if num_classes < 1:
    raise ValueError(f"num_classes must be >= 1, got {num_classes}")


def compile_transnas_micro(arch, num_classes: int, C: int = 64, *, bn: BNConfig = DEFAULT_BN,
                           cell_bn: BNConfig | None = None,
                           skeleton: str = SKELETON) -> ncell.CellNetwork:
  """The TransNAS-Bench-101 micro network of ``arch`` with a classification head.

  Args:
    arch: ``transnas_micro.Arch``, a ``64-41414-a_bc_def`` string, or 6 op codes.
    num_classes: classifier outputs (TNB class_scene 63, class_object 100).
    C: base channels (TNB: 64).
    bn, cell_bn: batch-norm settings of stem/head and of the cell ops.
    skeleton: module digits (TNB micro: ``41414``; a shorter one makes a cheaper test network).

  Returns:
    A :class:`jaxnas.nn.cell.CellNetwork`; ``apply(variables, x, train)``, ``x: f32[B, H, W, 3]``.

  Raises:
    ValueError: invalid arch, odd C.
  """
  _check(num_classes, C)
  return ncell.network(space.SPACE, arch, dict(LIBRARY), num_classes, C=C, plan=plan(C, skeleton),
                       stem=stem, bn=bn, cell_bn=cell_bn)


def supernet_transnas_micro(num_classes: int, C: int = 64, *, mode: str = "mixed",
                            partial_channels: int = 1, bn: BNConfig = DEFAULT_BN,
                            cell_bn: BNConfig | None = None,
                            skeleton: str = SKELETON) -> ncell.CellSupernet:
  """The TransNAS-Bench-101 micro supernet (every edge a MixedOp over the 4 ops, one
  ``op_weights: f32[6, 4]`` shared by every cell, 10 for ``41414``); its ``spec`` is
  :data:`SUPERNET_SPEC`."""
  _check(num_classes, C)
  return ncell.supernet(space.SPACE, dict(LIBRARY), num_classes, C=C, plan=plan(C, skeleton),
                        stem=stem,
                        bn=bn, cell_bn=cell_bn, mode=mode, partial_channels=partial_channels,
                        spec=SUPERNET_SPEC)


def param_count_terms(C: int, num_classes: int) -> dict:
  """Analytic parameter counts (BN affine, no conv bias): ``stem``, ``head`` and for each op code
  ``o`` and cell shape ``(c_in, c_out, stride)`` a function giving the op's count on an edge."""

  def op(o: int, c_in: int, c_out: int, stride: int) -> int:
    if o == space.NONE:
      return 0
    if o == space.SKIP:
      return 0 if (stride == 1 and c_in == c_out) else c_in * c_out + 2 * c_out
    k = 1 if o == space.CONV1X1 else 3
    return k * k * c_in * c_out + 2 * c_out

  return {"stem": 27 * (C // 2) + C + 9 * (C // 2) * C + 2 * C,
          "head": (8 * C + 1) * num_classes, "op": op}


def count_params(arch: Sequence[int], num_classes: int, C: int = 64) -> int:
  """The network's parameter count from :func:`param_count_terms` (no trace)."""
  t = param_count_terms(C, num_classes)
  total, c = t["stem"] + t["head"], C
  for c_out, s in plan(C):
    for k, (i, _) in enumerate(space.EDGES):
      total += t["op"](int(arch[k]), c if i == 0 else c_out, c_out, s if i == 0 else 1)
    c = c_out
  return total


__all__ = ["LIBRARY", "SKELETON", "SUPERNET_SPEC", "Stem", "compile_transnas_micro", "count_params",
           "param_count_terms", "plan", "supernet_transnas_micro"]
