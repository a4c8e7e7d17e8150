"""Search spaces: a static, hashable spec bundling the pure functions on one space's architectures.

Optimizers take a :class:`SearchSpace` and call only its functions, so a new space plugs in by
registering one more instance in ``SPACES``. Edge-op cell spaces (NB201-like DAGs with an op per
edge, including user-defined ones) are made with :func:`jaxnas.spaces.cell.cell_space`.
"""

from __future__ import annotations

from jaxnas.spaces import cell, nb201, transnas_micro
from jaxnas.spaces.base import SearchSpace

NASBENCH201 = SearchSpace(
    name="nasbench201", arch_type=nb201.Arch, num_archs=nb201.NUM_ARCHS,
    num_neighbours=nb201.NUM_NEIGHBOURS, sample=nb201.sample, mutate=nb201.mutate,
    neighbours=nb201.neighbours, neighbour=nb201.neighbour, is_valid=nb201.is_valid, encode=nb201.encode, to_id=nb201.to_id,
    from_id=nb201.from_id, to_string=nb201.to_string, from_string=nb201.from_string,
    encodings=nb201.ENCODINGS, fingerprint=nb201.fingerprint,
    neighbours_masked=nb201.neighbours_masked, encoding_dims=tuple(nb201.ENCODING_DIMS.items()),
    categorical=(nb201.NUM_OPS,) * nb201.NUM_EDGES, to_categorical=nb201.to_categorical,
    from_categorical=nb201.from_categorical, edges=nb201.EDGES, ops=nb201.OPS,
    all_archs=nb201.all_archs, check=nb201.check)

TRANSNAS101_MICRO = transnas_micro.SPACE.as_search_space()

SPACES: dict[str, SearchSpace] = {"nasbench201": NASBENCH201, "transnas101_micro": TRANSNAS101_MICRO}


def get_space(name: str) -> SearchSpace:
  """The registered space ``name``; ValueError listing the valid names otherwise."""
  if name not in SPACES:
    raise ValueError(f"unknown search space {name!r}; valid: {', '.join(SPACES)}")
  return SPACES[name]


__all__ = ["NASBENCH201", "SPACES", "SearchSpace", "TRANSNAS101_MICRO", "cell", "get_space", "nb201",
           "transnas_micro"]
