"""Search spaces: a static, hashable spec bundling the pure functions on one space's architectures.

Optimizers take a :class:`SearchSpace` and call only its functions, so a new space plugs in by
registering one more instance in ``SPACES``. Edge-op cell spaces (DAGs with an op per edge) are
made with :func:`jaxnas.spaces.cell.cell_space`: NAS-Bench-201 and TransNAS-Bench-101 micro are
instances of it, as are user-defined cells.

Space options (``get_space(name, **options)``, e.g. ``naslib_valid=False``) are fixed when the
space is made; the space's functions never take them per call.
"""

from __future__ import annotations

import ast

from jaxnas.spaces import cell, nb201, transnas_micro
from jaxnas.spaces import nb101
from jaxnas.spaces import nb_macro, transnas_macro
from jaxnas.spaces import nb_graph
from jaxnas.spaces import darts
from jaxnas.spaces.base import SearchSpace

NASBENCH201 = nb201.SPACE.as_search_space()  # naslib_valid=True: NASLib's sampler
TRANSNAS101_MICRO = transnas_micro.SPACE.as_search_space()
NASBENCH_GRAPH = nb_graph.SPACE

# name -> the space with its default options (get_space(name, **options) for others)
SPACES: dict[str, SearchSpace] = {"nasbench201": NASBENCH201, "transnas101_micro": TRANSNAS101_MICRO}
NASBENCH101 = nb101.SPACE  # NAS-Bench-101: not a cell_space (node-op DAG, fingerprint = module hash)
SPACES["nasbench101"] = NASBENCH101
TRANSNAS101_MACRO = transnas_macro.SPACE  # uniform over the 3,256 skeletons (sampler="naslib": NASLib's)
NASBENCH_MACRO = nb_macro.SPACE
SPACES["transnas101_macro"] = TRANSNAS101_MACRO
SPACES["nasbench_macro"] = NASBENCH_MACRO
SPACES["nasbench_graph"] = NASBENCH_GRAPH
DARTS = darts.SPACE  # DARTS / NAS-Bench-301 cells: not enumerable (no ids), fingerprint = canonical compact
SPACES["darts"] = DARTS


def get_space(name: str, **options) -> SearchSpace:
  """The registered space ``name``, made with ``options`` (none: its defaults).

  Space options are fixed when the space is made, never passed per call. Cell spaces take
  ``naslib_valid`` (default True: ``sample`` draws only cells NASLib's sampler accepts, on spaces
  that have such a filter; False: all cells). An option set to None keeps its default. Equal
  options give the very same record (a cached, hashable static argument).

  Raises:
    ValueError: an unknown space (naming the valid ones), or an option the space does not take
      (naming its options), in one line.
  """
  if name not in SPACES:
    raise ValueError(f"unknown search space {name!r}; valid: {', '.join(SPACES)}")
  space = SPACES[name]
  options = {k: v for k, v in options.items() if v is not None}
  if not options:
    return space
  if space.with_options is None:
    raise ValueError(f"search space {name!r} takes no options, got {', '.join(options)}")
  return space.with_options(**options)


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
           "transnas_micro", "NASBENCH_MACRO", "TRANSNAS101_MACRO", "nb_macro", "transnas_macro"]
__all__ += ["NASBENCH101", "nb101"]
__all__ += ["NASBENCH_GRAPH", "nb_graph"]
__all__ += ["DARTS", "darts"]
