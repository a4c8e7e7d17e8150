"""Search spaces: a static, hashable spec bundling the pure functions on one space's architectures.

Optimizers take a :class:`SearchSpace` and call only its functions, so a new space plugs in by
registering one more instance in ``SPACES``. Edge-op cell spaces (NB201-like DAGs with an op per
edge, including user-defined ones) are made with :func:`jaxnas.spaces.cell.cell_space`.
"""

from __future__ import annotations

import ast
import dataclasses

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
    all_archs=nb201.all_archs, check=nb201.check, from_naslib=nb201.from_naslib)

TRANSNAS101_MICRO = dataclasses.replace(transnas_micro.SPACE.as_search_space(),
                                        from_naslib=transnas_micro.from_naslib)

SPACES: dict[str, SearchSpace] = {"nasbench201": NASBENCH201, "transnas101_micro": TRANSNAS101_MICRO}


def get_space(name: str) -> SearchSpace:
  """The registered space ``name``; ValueError listing the valid names otherwise."""
  if name not in SPACES:
    raise ValueError(f"unknown search space {name!r}; valid: {', '.join(SPACES)}")
  return SPACES[name]


def _parse(space: SearchSpace, text: str):
  """``space``'s architecture from its string form or NASLib's op-index tuple; ValueError if
  neither reads ``text``."""
  try:
    return space.from_string(text)
  except ValueError:
    if space.from_naslib is None or text[:1] not in "([":
      raise
  try:
    values = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    values = None
  if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) for v in values):
    raise ValueError(f"not a NASLib op-index tuple: {text!r}")
  return space.from_naslib(tuple(values))


def arch_from_string(space: SearchSpace | str, text) -> object:
  """Reads one architecture of ``space`` from any of its text forms: the space's string (NB201
  ``|op~0|+|...|``, TransNAS ``64-41414-a_bc_def``) or NASLib's op-index tuple ``(1, 3, 0, ...)``
  (also as a list, e.g. from JSON).

  Raises:
    ValueError: one line naming the text and the space; when the text is an architecture of
      another registered space, it says which, and otherwise shows an example of each form.
  """
  space = get_space(space) if isinstance(space, str) else space
  if isinstance(text, (tuple, list)):
    text = str(tuple(text))
  text = str(text).strip()
  try:
    return _parse(space, text)
  except (ValueError, TypeError):
    pass
  others = []
  for name, other in SPACES.items():
    if name != space.name:
      try:
        other.from_string(text)
        others.append(name)
      except (ValueError, TypeError):
        pass
  if others:
    raise ValueError(f"{text!r} is an architecture of search space {others[0]}, not of "
                     f"{space.name}")
  example = space.to_string(space.from_id(0)) if space.num_archs else None
  forms = [f"its string, e.g. {example!r}" if example else "its string form"]
  if space.from_naslib is not None:
    forms.append("or NASLib's op-index tuple, e.g. "
                 f"{str(tuple(int(v) for v in [0] * space.num_edges))!r}")
  raise ValueError(f"not an architecture of search space {space.name}: {text!r} (expected "
                   f"{' '.join(forms)})")


__all__ = ["NASBENCH201", "SPACES", "SearchSpace", "TRANSNAS101_MICRO", "arch_from_string", "cell",
           "get_space", "nb201",
           "transnas_micro"]
