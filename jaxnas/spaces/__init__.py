"""Search spaces: a static, hashable spec bundling the pure functions on one space's architectures.

Optimizers take a :class:`SearchSpace` and call only its functions, so a new space plugs in by
registering one more instance in ``SPACES``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from jaxnas.spaces import nb201


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  """Static description of a search space (hashable: safe as a static jit argument).

  Attributes:
    name: registry name.
    arch_type: the architecture pytree class.
    num_archs: size of the space (None if not enumerable).
    num_neighbours: neighbourhood size (static, for fixed buffers).
    sample: ``(key, shape=(), naslib_valid=False) -> Arch``.
    mutate: ``(key, arch) -> Arch`` (one arch; vmap for batches).
    neighbours: ``(arch) -> Arch[..., num_neighbours]``.
    neighbour: ``(arch, k) -> Arch``, the k-th of ``neighbours`` (k may be traced).
    is_valid: ``(arch) -> bool[...]``.
    encode: ``(arch, kind) -> f32[..., D]``.
    to_id / from_id: dense benchmark row <-> arch.
    to_string / from_string: host-side string conversions.
  """

  name: str
  arch_type: type
  num_archs: int | None
  num_neighbours: int
  sample: Callable[..., Any]
  mutate: Callable[..., Any]
  neighbours: Callable[..., Any]
  neighbour: Callable[..., Any]
  is_valid: Callable[..., Any]
  encode: Callable[..., Any]
  to_id: Callable[..., Any]
  from_id: Callable[..., Any]
  to_string: Callable[..., Any]
  from_string: Callable[..., Any]
  encodings: tuple[str, ...] = ()


NASBENCH201 = SearchSpace(
    name="nasbench201", arch_type=nb201.Arch, num_archs=nb201.NUM_ARCHS,
    num_neighbours=nb201.NUM_NEIGHBOURS, sample=nb201.sample, mutate=nb201.mutate,
    neighbours=nb201.neighbours, neighbour=nb201.neighbour, is_valid=nb201.is_valid, encode=nb201.encode, to_id=nb201.to_id,
    from_id=nb201.from_id, to_string=nb201.to_string, from_string=nb201.from_string,
    encodings=nb201.ENCODINGS)

SPACES: dict[str, SearchSpace] = {"nasbench201": NASBENCH201}


def get_space(name: str) -> SearchSpace:
  """The registered space ``name``; ValueError listing the valid names otherwise."""
  if name not in SPACES:
    raise ValueError(f"unknown search space {name!r}; valid: {', '.join(SPACES)}")
  return SPACES[name]


__all__ = ["NASBENCH201", "SPACES", "SearchSpace", "get_space", "nb201"]
