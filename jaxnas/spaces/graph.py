"""Graph views of edge-op cells, for any cell space: conversion to networkx and drawing.

Space-generic: a cell is read through its space's ``edges`` and ``ops`` (a
:class:`~jaxnas.spaces.SearchSpace` record or a :class:`~jaxnas.spaces.cell.CellSpace`), so a user's
cell space gets the same views as the registered ones. Space-specific graph facts live in the
space's own files (NAS-Bench-201's isomorphism classes: :mod:`jaxnas.spaces.nb201_graph`).
Everything here runs on the host.
"""

from __future__ import annotations

from typing import Sequence

import networkx as nx
import numpy as np


def cell_ops(space, arch) -> np.ndarray:
  """Host-side, checked op indices ``np.int32[E]`` of one cell of ``space`` (one-line ValueError
  for an architecture of another space, a wrong shape or an op out of range)."""
  if space.check is not None:
    ops = np.asarray(space.check(arch))
  else:
    ops = np.asarray(arch.ops if hasattr(arch, "ops") else arch)
  if ops.shape != (len(space.edges),):
    raise ValueError(f"one {space.name} cell expected (ops of shape ({len(space.edges)},)), got "
                     f"shape {ops.shape}")
  return ops.astype(np.int32)


def cell_to_networkx(space, arch, drop: Sequence[str] = ()) -> nx.DiGraph:
  """One cell as a ``networkx.DiGraph`` on nodes ``0..n-1`` with its op name on each edge.

  Args:
    space: a cell space (``edges``, ``ops``; e.g. ``jaxnas.spaces.get_space(name)``).
    arch: one architecture of ``space`` (``ops: int32[E]``) or its raw op indices.
    drop: op names whose edges are left out (e.g. ``("none",)``: a zero edge is no connection).

  Returns:
    The DAG; edge attribute ``op`` holds the op name. Every node ``0..n-1`` is present, even one
    left without edges.
  """
  ops = cell_ops(space, arch)
  g = nx.DiGraph()
  g.add_nodes_from(range(1 + max(j for _, j in space.edges)))
  for (i, j), op in zip(space.edges, ops):
    name = space.ops[int(op)]
    if name not in drop:
      g.add_edge(i, j, op=name)
  return g


def draw_cell(space, arch, ax=None, pos=None, drop: Sequence[str] = ("none",)):
  """Draws one cell with its op names on the edges; returns the matplotlib axes.

  Args:
    space, arch, drop: as for :func:`cell_to_networkx`.
    ax: axes to draw on; None makes a new ``matplotlib.figure.Figure`` (with an Agg canvas, no
      pyplot state and no backend switch: save it with ``ax.figure.savefig``).
    pos: node positions ``{node: (x, y)}``; default: nodes left to right, alternately up and down.
  """
  g = cell_to_networkx(space, arch, drop=drop)
  if ax is None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    fig = Figure(figsize=(4, 3))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
  if pos is None:
    n = g.number_of_nodes()
    pos = {v: (v, 0 if v in (0, n - 1) else (1 if v % 2 else -1)) for v in g.nodes}
  nx.draw_networkx(g, pos=pos, ax=ax, node_color="#cde", arrows=True)
  nx.draw_networkx_edge_labels(g, pos=pos, ax=ax, edge_labels=nx.get_edge_attributes(g, "op"),
                               font_size=7)
  ax.set_axis_off()
  return ax


__all__ = ["cell_ops", "cell_to_networkx", "draw_cell"]
