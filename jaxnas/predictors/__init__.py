"""Performance predictors: model-based (JAX, jittable), host-side tree ensembles, learning-curve
scores, and OMNI-style combinations. ``zero_cost/`` (proxies) is a separate subpackage, imported
on demand (``import jaxnas.predictors.zero_cost``), never from here.

Every model predictor is a factory ``name(num_features, **hyperparameters) -> Predictor`` with pure
``init(key, buffer_size)``, ``fit(key, x, y, mask=None)`` and ``predict(state, x) -> (mean, std)``
(see :mod:`jaxnas.predictors._base` for the masking and input-checking contract):

>>> x = jaxnas.predictors.encode(archs, "adjacency_one_hot")            # f32[N, 30]
>>> p = jaxnas.predictors.PREDICTORS["gp"](x.shape[1])
>>> state = jax.jit(p.fit)(key, x, y, mask)                             # compiles once per N
>>> mean, std = jax.jit(p.predict)(state, jaxnas.predictors.encode(all_archs))
"""

from __future__ import annotations

import functools
from typing import Callable

from jaxnas.predictors import learning_curves
from jaxnas.predictors._base import (TARGET_TRANSFORMS, Predictor, TransformedState,
                                     with_target_transform)
from jaxnas.predictors.bayes import bayesian_linear_regression, bohamiann, dngo
from jaxnas.predictors.ensemble import ensemble
from jaxnas.predictors.gcn import NB201_GRAPH_DIM, gcn, nb201_graph_encoding
from jaxnas.predictors.gp import gp, sparse_gp
from jaxnas.predictors.mlp import mlp
from jaxnas.predictors.omni import omni, omni_features
from jaxnas.predictors.trees import lightgbm, ngboost, random_forest, xgboost
from jaxnas.spaces import nb201

ENCODINGS = nb201.ENCODINGS + ("graph",)


def encodings_for(space=None) -> tuple[str, ...]:
  """The encoding kinds available for ``space`` (its own, plus ``graph`` on NB201); None: the
  NB201 kinds (:data:`ENCODINGS`, the behaviour before spaces declared their encodings)."""
  if space is None:
    return ENCODINGS
  own = tuple(k for k, _ in space.encoding_dims) or tuple(space.encodings)
  return own + (("graph",) if space.arch_type is nb201.Arch else ())


def encode(arch, kind: str = "adjacency_one_hot", space=None):
  """Predictor features. Jittable.

  Args:
    arch: an architecture (batch) of ``space``.
    kind: one of :func:`encodings_for` ``(space)``.
    space: the :class:`~jaxnas.spaces.SearchSpace`; its own ``encode`` gives every kind it
      declares. None: NB201 (:func:`jaxnas.spaces.nb201.encode` kinds plus ``graph``, the GCN's
      flattened 8-node op graph, 120 dims).
  """
  if space is not None and kind in dict(space.encoding_dims):
    return space.encode(arch, kind)
  if space is not None and kind not in encodings_for(space):
    raise ValueError(f"unknown encoding {kind!r} for search space {space.name}; valid: "
                     f"{', '.join(encodings_for(space))}")
  if kind == "graph":
    return nb201_graph_encoding(arch)
  return nb201.encode(arch, kind)


def encoding_size(kind: str, space=None) -> int:
  """Feature size of an encoding kind (of ``space``, default NB201); ValueError naming the valid
  kinds."""
  if space is not None:
    dims = dict(space.encoding_dims)
    if kind in dims:
      return dims[kind]
    if kind not in encodings_for(space):
      raise ValueError(f"unknown encoding {kind!r} for search space {space.name}; valid: "
                       f"{', '.join(encodings_for(space))}")
  if kind == "graph":
    return NB201_GRAPH_DIM
  if kind not in nb201.ENCODING_DIMS:
    raise ValueError(f"unknown encoding {kind!r}; valid: {', '.join(ENCODINGS)}")
  return nb201.ENCODING_DIMS[kind]


def mlp_ensemble(num_features: int, num_members: int = 5, **kwargs) -> Predictor:
  """BANANAS' ensemble of ``num_members`` MLPs (:func:`mlp` wrapped by :func:`ensemble`)."""
  return ensemble(mlp(num_features, **kwargs), num_members)


def gcn_ensemble(num_features: int = NB201_GRAPH_DIM, num_members: int = 5, **kwargs) -> Predictor:
  """An ensemble of ``num_members`` GCNs (:func:`gcn` wrapped by :func:`ensemble`)."""
  return ensemble(gcn(num_features, **kwargs), num_members)


def _omni(base_factory: Callable[..., Predictor]) -> Callable[..., Predictor]:

  @functools.wraps(base_factory)
  def factory(num_features: int, num_scores: int = 1, **kwargs) -> Predictor:
    return omni(base_factory(num_features, **kwargs), num_scores)

  factory.__doc__ = (f"OMNI: :func:`{base_factory.__name__}` on encoding + ``num_scores`` trailing "
                     "score columns (``num_features`` counts both); see :func:`omni`.")
  return factory


# name -> factory(num_features, **hyperparameters). Host-side (non-jittable) entries are marked by
# ``Predictor.jittable == False`` on the built predictor, and listed in HOST_SIDE.
PREDICTORS: dict[str, Callable[..., Predictor]] = {
    "mlp": mlp,
    "mlp_ensemble": mlp_ensemble,
    "gcn": gcn,
    "gcn_ensemble": gcn_ensemble,
    "gp": gp,
    "sparse_gp": sparse_gp,
    "blr": bayesian_linear_regression,
    "dngo": dngo,
    "bohamiann": bohamiann,
    "xgboost": xgboost,
    "lightgbm": lightgbm,
    "ngboost": ngboost,
    "random_forest": random_forest,
    "omni_gp": _omni(gp),
    "omni_xgboost": _omni(xgboost),
}
HOST_SIDE = ("xgboost", "lightgbm", "ngboost", "random_forest", "omni_xgboost")
# Predictors that read another encoding than the evaluator's default.
DEFAULT_ENCODING = {"gcn": "graph", "gcn_ensemble": "graph"}

__all__ = ["DEFAULT_ENCODING", "ENCODINGS", "HOST_SIDE", "PREDICTORS", "Predictor",
           "TARGET_TRANSFORMS", "TransformedState", "bayesian_linear_regression", "bohamiann",
           "dngo", "encode", "encoding_size", "encodings_for", "ensemble", "gcn", "gcn_ensemble", "gp",
           "learning_curves", "lightgbm", "mlp", "mlp_ensemble", "nb201_graph_encoding", "ngboost",
           "omni", "omni_features", "random_forest", "sparse_gp", "with_target_transform",
           "xgboost"]
