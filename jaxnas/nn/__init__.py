"""Flax Linen networks, and the registry of each space's networks: primitive ops, generic cells
and supernets (``cell``), each space's own network file (``nb201``, ``transnas_micro``), and
parameter / FLOP counts. This module is a registry: it is the one place outside a space's own files
that imports them (with ``jaxnas.spaces`` and ``jaxnas.benchmarks``; see
``tests/contracts/test_space_imports.py``); a space registers its networks, supernet spec and fast
counters / SynFlow scorer here.

``compile(space, arch, num_classes, ...)`` returns the discrete network of ``arch`` in a search
space (NB201, TransNAS-Bench-101 micro); ``compile(space, None, num_classes, ...)`` returns the space's
op-choice-as-input supernet, whose variables mirror the discrete networks' (see
``jaxnas.nn.nb201``). Every network is called as ``apply(variables, x, [op_weights,] train)`` on
NHWC images.
"""

from __future__ import annotations

import types

from jaxnas.nn import cell, layers, nb201, probes, transnas_micro
from jaxnas.nn import nb101
from jaxnas.nn import nb_macro, transnas_macro
from jaxnas.nn import darts, darts_ops
from jaxnas.nn import darts_supernet
from jaxnas.nn import darts_zc
from jaxnas.nn.counting import count_flops, count_params
from jaxnas.nn.layers import DEFAULT_BN, NB201_BN, BNConfig
from jaxnas.nn.nb201 import (NB201Network, NB201Supernet, compile_nb201, one_hot, restrict,
                             supernet_nb201)
from jaxnas.nn.nb201 import param_counts as nb201_param_counts

# registered space name (``jaxnas.spaces.SPACES``) -> (discrete-network factory, supernet factory)
NETWORKS = {"nasbench201": (compile_nb201, supernet_nb201),
            "transnas101_micro": (transnas_micro.compile_transnas_micro,
                                  transnas_micro.supernet_transnas_micro)}
# NAS-Bench-101: each cell's own network (its topology sets the shapes, so no supernet)
NETWORKS["nasbench101"] = (nb101.compile_nb101, None)
NETWORKS["transnas101_macro"] = (transnas_macro.compile_transnas_macro,
                                 transnas_macro.supernet_transnas_macro)
NETWORKS["nasbench_macro"] = (nb_macro.compile_nb_macro, nb_macro.supernet_nb_macro)
# DARTS / NAS-Bench-301: the evaluation network (style "eval") and NASLib's search-style one
NETWORKS["darts"] = (darts.compile_darts, None)
# the DARTS search supernet (14 + 14 mixed edges x 8 ops with none; spec: DARTS's top-2 rule)
NETWORKS["darts"] = (NETWORKS["darts"][0], darts_supernet.supernet_darts)
# registered space name -> the one-shot optimizers' view of its supernet (alpha shape, edge targets,
# discretisation, one-hot, path sampler)
SUPERNET_SPECS = {"nasbench201": nb201.SUPERNET_SPEC,
                  "transnas101_micro": transnas_micro.SUPERNET_SPEC}
SUPERNET_SPECS["darts"] = darts_supernet.SUPERNET_SPEC
# network class -> () -> its fast SynFlow scorer, a module with ``can_score(net, op_weights)`` and
# ``score(net, variables, op_weights, image_size, *, chunk_size, precision)`` (loaded on first
# use: the scorers import jaxnas.nn). See jaxnas.evaluate.zero_cost.synflow_many.
SYNFLOW_FAST_PATHS = {NB201Supernet: nb201.synflow_fast_path}
# registered space name -> (params, flops) counters of many cells at once, each
# ``(archs, ids, *, num_classes, C, N, image_size) -> int[A]``; other spaces count each discrete
# network (exact, slower)
FAST_COUNTS = {"nasbench201": nb201.fast_counts()}
FAST_COUNTS["nasbench101"] = nb101.fast_counts()  # closed forms (TF params, tensorwatch FLOPs)
FAST_COUNTS["nasbench_macro"] = nb_macro.fast_counts()  # NAS-Bench-Macro's own convention
FAST_COUNTS["darts"] = darts.fast_counts()  # closed forms (DARTS params, tensorwatch FLOPs)
# registered space name -> the network zero-cost scores on by default (config ``network`` keys);
# DARTS: the one NASLib's DARTS-space params_mb / flops_m / zero-cost figures describe
ZERO_COST_NETWORKS = {"darts": {"channels": 32, "layers": 8, "style": "search"}}
# registered space name -> (proxies, score_archs) of its architecture-as-input network: ONE compiled
# zero-cost program for every cell, with each cell's own discrete network's weights and scores
ARRAY_SCORERS = {"darts": (darts_zc.PROXIES, darts_zc.score_archs)}
nb201_flop_counts = nb201.flop_counts
# other accepted names: a space module's name (``jaxnas.spaces.nb201``) and the short name
ALIASES = {"nb201": "nasbench201"}


def _space_name(space, arch) -> str:
  if space is None:
    from jaxnas.spaces import nb201 as nb201_space
    if isinstance(arch, nb201_space.Arch):
      return "nasbench201"
    raise ValueError("compile(space=None, ...) infers the space only from an Arch instance; "
                     f"pass the space name, one of {', '.join(NETWORKS)}")
  if isinstance(space, types.ModuleType):  # e.g. jaxnas.spaces.nb201
    space = space.__name__.rsplit(".", 1)[-1]
  name = getattr(space, "name", space)  # a SearchSpace record or a name
  name = ALIASES.get(name, name)
  if name not in NETWORKS:
    raise ValueError(f"no networks for search space {name!r}; available: {', '.join(NETWORKS)}")
  return name


def compile(space, arch, num_classes: int, **kwargs):  # pylint: disable=redefined-builtin
  """The Flax network of ``arch`` in ``space``, or the space's supernet when ``arch`` is None.

  Args:
    space: a registered space (``jaxnas.spaces.get_space("nasbench201")``), its name
      (``"nasbench201"``, or the alias ``"nb201"``), a space module (``jaxnas.spaces.nb201``) or
      None (inferred from the type of ``arch``).
    arch: an architecture of the space (NB201: ``Arch``, string or 6 op indices), or None.
    num_classes: classifier outputs.
    **kwargs: passed to the factory (NB201: ``C``, ``N``, ``bn``, ``cell_bn``; for the supernet
      also ``mode``, ``partial_channels``); see :func:`compile_nb201`, :func:`supernet_nb201`.

  Returns:
    A Flax Linen module.

  Raises:
    ValueError: unknown space or invalid architecture.
  """
  discrete, supernet = NETWORKS[_space_name(space, arch)]
  if arch is None:
    return supernet(num_classes, **kwargs)
  return discrete(arch, num_classes, **kwargs)


def synflow_fast_path(net):
  """The fast SynFlow scorer registered for ``net``'s class (:data:`SYNFLOW_FAST_PATHS`), or
  None."""
  for cls, load in SYNFLOW_FAST_PATHS.items():
    if isinstance(net, cls):
      return load()
  return None


def factory(space, discrete: bool = True):
  """The registered network factory of ``space`` (record, name or alias): the discrete network's,
  or (``discrete=False``) the supernet's."""
  return NETWORKS[_space_name(space, None)][0 if discrete else 1]


def network_kwargs(space, network: dict, discrete: bool = True) -> dict:
  """A config's ``network`` dict as keyword arguments of ``space``'s network factory:
  ``channels`` -> ``C``, ``cells_per_stage`` -> ``N`` where the network has stages of ``N`` cells
  (ignored otherwise), other keys (TransNAS' ``skeleton``, ...) by name.

  Raises:
    ValueError: one line naming the valid keys, for a key the factory does not take.
  """
  import inspect  # pylint: disable=import-outside-toplevel
  params = inspect.signature(factory(space, discrete)).parameters
  kw = {}
  for k, v in dict(network).items():
    if k == "channels":
      if "C" in params:  # a network of one published width (NAS-Bench-Macro) takes no C
        kw["C"] = int(v)
    elif k == "cells_per_stage":
      if "N" in params:
        kw["N"] = int(v)
    elif k in params and k not in ("arch", "num_classes", "mode", "cell_bn", "bn"):
      kw[k] = v
    else:
      valid = ["channels"] + (["cells_per_stage"] if "N" in params else []) + [
          p for p in ("skeleton", "partial_channels", "conv_bias") if p in params]
      raise ValueError(f"unknown network key {k!r} for search space "
                       f"{_space_name(space, None)}; valid: {', '.join(valid)}")
  return kw


def supernet_spec(space) -> cell.SupernetSpec:
  """The :class:`~jaxnas.nn.cell.SupernetSpec` of a registered space (record, name or alias);
  for a user cell space use :func:`jaxnas.nn.cell.supernet_spec`."""
  return SUPERNET_SPECS[_space_name(space, None)]


__all__ = [
    "ALIASES", "FAST_COUNTS", "factory", "network_kwargs", "NETWORKS", "SYNFLOW_FAST_PATHS", "nb201_flop_counts",
    "synflow_fast_path", "SUPERNET_SPECS", "supernet_spec", "compile", "compile_nb201",
    "supernet_nb201", "NB201Network", "NB201Supernet", "one_hot", "restrict", "count_params",
    "count_flops", "nb201_param_counts", "BNConfig", "DEFAULT_BN", "NB201_BN", "cell", "layers",
    "nb201",
    "probes", "transnas_micro", "nb_macro", "transnas_macro",
    "nb101",
    "darts", "darts_ops", "ZERO_COST_NETWORKS", "darts_supernet",
    "ARRAY_SCORERS", "darts_zc",
]
