"""NAS-Bench-201's graph views: networkx conversion, NAS-Bench-201's isomorphism classes, drawing.

NB201's own file (the generic cell -> networkx conversion is :mod:`jaxnas.spaces.graph`).
Everything here runs on the host; results that search code needs inside ``jit`` (the isomorphism
class of every NB201 cell) are computed once and stored as arrays (the benchmark build writes
``iso_class`` into the table).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from jaxnas.spaces import graph, nb201


def nb201_to_networkx(arch) -> nx.DiGraph:
  """The cell as a DAG on nodes 0..3 with the op name on each edge (``none`` edges dropped)."""
  return graph.cell_to_networkx(nb201.SPACE, arch, drop=("none",))


def nb201_unique_str(arch) -> str:
  """NAS-Bench-201's isomorphism key (``CellStructure.to_unique_str(consider_zero=True)``).

  Node 0 is ``"0"``; node j joins (sorted, with ``+``) one term per incoming edge: ``#`` for a
  ``none`` edge or a source that is exactly ``#``, the source string for ``skip_connect``, else
  ``(source)@op``. NATS-Bench's ``UniqueString`` column is this key; it groups the 15,625 cells into
  6,466 classes. It is syntactic: ``#+#`` is not simplified to ``#``, and a skip term is sorted as
  one string, so some functionally equal cells get different keys (see
  :func:`nb201_canonical_form` for the functional grouping).
  """
  ops = nb201.check(arch)
  nodes = {0: "0"}
  for j in (1, 2, 3):
    terms = []
    for e, (i, jj) in enumerate(nb201.EDGES):
      if jj != j:
        continue
      op, src = int(ops[e]), nodes[i]
      if op == nb201.NONE or src == "#":
        terms.append("#")
      elif op == nb201.SKIP:
        terms.append(src)
      else:
        terms.append(f"({src})@{nb201.OPS[op]}")
    nodes[j] = "+".join(sorted(terms))
  return nodes[3]


def nb201_canonical_form(arch) -> str:
  """A canonical string of the function the cell computes (stricter than :func:`nb201_unique_str`).

  Each node is the multiset (sum) of its incoming terms; a ``skip_connect`` term contributes its
  source node's terms (sums are associative), an op term is ``(source)@op``; ``none`` edges and
  terms whose source is the zero node are dropped (an op applied to an all-zero node gives zero,
  as in NAS-Bench-201's ``UniqueString``). Sorting the terms makes the string independent of
  edge order, so two cells have the same form exactly when they are the same expression up to
  commutativity of the sums. This groups the 15,625 cells into 4,930 classes, a coarsening of
  NAS-Bench-201's 6,466.
  """
  g = nb201_to_networkx(arch)
  terms: dict[int, tuple[str, ...] | None] = {0: ("0",)}
  for j in nx.topological_sort(g):
    if j == 0:
      continue
    acc: list[str] = []
    for i in g.predecessors(j):
      src = terms.get(i)
      if src is None:  # zero node
        continue
      op = g.edges[i, j]["op"]
      if op == "skip_connect":
        acc.extend(src)
      else:
        acc.append(f"({'+'.join(src)})@{op}")
    terms[j] = tuple(sorted(acc)) if acc else None
  out = terms.get(3)
  return "+".join(out) if out else "zero"


def nb201_iso_classes(functional: bool = False) -> np.ndarray:
  """``int32[15625]``: for every dense id, the smallest id in its isomorphism class.

  Args:
    functional: group by :func:`nb201_canonical_form` (4,930 classes) instead of NAS-Bench-201's
      :func:`nb201_unique_str` (6,466 classes, the default and the benchmark's ``iso_class``).
  """
  key = nb201_canonical_form if functional else nb201_unique_str
  ops = nb201._np_all_ops()
  first: dict[str, int] = {}
  out = np.empty(nb201.NUM_ARCHS, np.int32)
  for i in range(nb201.NUM_ARCHS):
    form = key(ops[i])
    out[i] = first.setdefault(form, i)
  return out


def draw_nb201(arch, ax=None):
  """Draws the cell with matplotlib (edge labels are op names); returns the axes."""
  return graph.draw_cell(nb201.SPACE, arch, ax=ax, pos={0: (0, 0), 1: (1, 1), 2: (2, -1), 3: (3, 0)})


__all__ = ["draw_nb201", "nb201_canonical_form", "nb201_iso_classes", "nb201_to_networkx",
           "nb201_unique_str"]
