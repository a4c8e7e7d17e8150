"""Performance predictors: model-based (JAX, jittable), host-side tree ensembles, learning-curve
scores, and OMNI-style combinations. ``zero_cost/`` (proxies) is a separate subpackage, imported
on demand (``import jaxnas.predictors.zero_cost``), never from here.

Every model predictor is a factory ``name(num_features, **hyperparameters) -> Predictor`` with pure
``init(key, buffer_size)``, ``fit(key, x, y, mask=None)`` and ``predict(state, x) -> (mean, std)``
(see :mod:`jaxnas.predictors._base` for the masking and input-checking contract):

>>> x = jaxnas.predictors.encode(archs, "adjacency_one_hot", space)     # f32[N, 30] on NB201
>>> p = jaxnas.predictors.PREDICTORS["gp"](x.shape[1])
>>> state = jax.jit(p.fit)(key, x, y, mask)                             # compiles once per N
>>> mean, std = jax.jit(p.predict)(state, jaxnas.predictors.encode(all_archs, space=space))

Features come from the space (``space.encode`` and its ``encoding_dims``, plus the GCN's ``graph``
on any edge-op cell space), so every predictor works on every space.
"""

from __future__ import annotations

import functools
from typing import Callable

from jaxnas.predictors import learning_curves
from jaxnas.predictors._base import (TARGET_TRANSFORMS, Predictor, TransformedState,
                                     with_target_transform)
from jaxnas.predictors.bayes import bayesian_linear_regression, bohamiann, dngo
from jaxnas.predictors.ensemble import ensemble
from jaxnas.predictors.gcn import (NB201_GRAPH_DIM, gcn, gcn_kwargs, graph_encoding, graph_size,
                                   nb201_graph_encoding)
from jaxnas.predictors.gp import gp, sparse_gp
from jaxnas.predictors.mlp import mlp
from jaxnas.predictors.omni import omni, omni_features
from jaxnas.predictors.trees import lightgbm, ngboost, random_forest, xgboost

# Encodings the predictors add to a cell space's own (``space.encoding_dims``).
GRAPH_ENCODING = "graph"


def infer_space(arch):
  """The registered space whose architecture class ``arch`` is; ValueError naming the registered
  spaces otherwise (pass ``space=`` for a user space or for raw arrays)."""
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  for space in spaces.SPACES.values():
    if space.arch_type is not None and isinstance(arch, space.arch_type):
      return space
  raise ValueError(f"cannot tell the search space of a {type(arch).__name__}; pass space= (a "
                   f"SearchSpace; registered: {', '.join(spaces.SPACES)})")


def encodings_for(space=None) -> tuple[str, ...]:
  """The encoding kinds available for ``space``: its own (``space.encoding_dims``), plus ``graph``
  (the GCN's op graph, :func:`graph_encoding`) on edge-op cell spaces. None: the registered
  ``nasbench201`` space (the behaviour before spaces declared their encodings)."""
  if space is None:
    from jaxnas import spaces  # pylint: disable=import-outside-toplevel
    space = spaces.get_space("nasbench201")
  own = tuple(k for k, _ in space.encoding_dims) or tuple(space.encodings)
  return own + ((GRAPH_ENCODING,) if space.edges and space.ops and GRAPH_ENCODING not in own else ())


def _check_kind(kind: str, space) -> None:
  if kind not in encodings_for(space):
    raise ValueError(f"unknown encoding {kind!r} for search space {space.name}; valid: "
                     f"{', '.join(encodings_for(space))}")


def encode(arch, kind: str = "adjacency_one_hot", space=None):
  """Predictor features of ``arch`` in ``space``. Jittable.

  Args:
    arch: an architecture (batch) of ``space``.
    kind: one of :func:`encodings_for` ``(space)``: the space's own encodings (``space.encode``)
      or ``graph`` (the GCN's flattened op graph, :func:`graph_encoding`; 120 dims on NB201).
    space: the :class:`~jaxnas.spaces.SearchSpace`. None: the registered space whose architecture
      class ``arch`` is (:func:`infer_space`).
  """
  space = infer_space(arch) if space is None else space
  if kind in dict(space.encoding_dims):
    return space.encode(arch, kind)
  _check_kind(kind, space)
  if kind == GRAPH_ENCODING:
    return graph_encoding(space, arch)
  return space.encode(arch, kind)


def encoding_size(kind: str, space=None) -> int:
  """Feature size of an encoding kind of ``space`` (None: the registered ``nasbench201``);
  ValueError naming the valid kinds."""
  if space is None:
    from jaxnas import spaces  # pylint: disable=import-outside-toplevel
    space = spaces.get_space("nasbench201")
  dims = dict(space.encoding_dims)
  if kind in dims:
    return dims[kind]
  _check_kind(kind, space)
  if kind == GRAPH_ENCODING:
    return graph_size(space)
  return space.encoding_dim(kind)


def predictor_kwargs(name: str, space, kind: str | None = None) -> dict:
  """Space-dependent constructor arguments of predictor ``name`` besides ``num_features``: the
  GCN's ``num_nodes`` (its graph size depends on the cell); ``{}`` for the others."""
  if name in ("gcn", "gcn_ensemble") and (kind or DEFAULT_ENCODING.get(name)) == GRAPH_ENCODING:
    return {"num_nodes": gcn_kwargs(space)["num_nodes"]}
  return {}


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

# Deprecated: NB201's kinds (``encodings_for(spaces.get_space("nasbench201"))``), looked up on
# first use so that this module imports no space.
def __getattr__(name):
  if name == "ENCODINGS":
    return encodings_for(None)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_ENCODING", "ENCODINGS", "GRAPH_ENCODING", "HOST_SIDE", "PREDICTORS",
           "Predictor", "TARGET_TRANSFORMS", "TransformedState", "bayesian_linear_regression",
           "bohamiann", "dngo", "encode", "encoding_size", "encodings_for", "gcn_kwargs",
           "graph_encoding", "graph_size",
           "infer_space", "predictor_kwargs", "ensemble", "gcn", "gcn_ensemble", "gp",
           "learning_curves", "lightgbm", "mlp", "mlp_ensemble", "nb201_graph_encoding", "ngboost",
           "omni", "omni_features", "random_forest", "sparse_gp", "with_target_transform",
           "xgboost"]
