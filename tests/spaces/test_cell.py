"""The generic edge-op cell reproduces NB201's operators exactly when given NB201's DAG and ops.

This pins the cell's random streams and orders to NB201's: NB201 (``nb201.SPACE``) is now an
instance of ``cell.py`` with its own string parser and encodings, and a plain generic cell on its
DAG and ops still gives the same ids, strings (the generic form), neighbours and random streams.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxnas.spaces import cell, nb201

NB201_AS_CELL = cell.cell_space(
    "nb201_as_cell", nb201.EDGES, nb201.OPS,
    sample_filter=lambda ops: nb201.is_naslib_valid(ops))


def test_same_ids_strings_and_neighbours():
  archs = nb201.all_archs()
  np.testing.assert_array_equal(NB201_AS_CELL.all_archs().ops, archs.ops)
  np.testing.assert_array_equal(NB201_AS_CELL.to_id(archs.ops), nb201.to_id(archs))
  for i in (0, 1, 777, 15624):
    a = nb201.from_id(i)
    assert NB201_AS_CELL.to_string(a.ops) == nb201.to_string(a)  # generic form == NB201 string
    np.testing.assert_array_equal(NB201_AS_CELL.neighbours(a.ops).ops, nb201.neighbours(a).ops)
  np.testing.assert_array_equal(NB201_AS_CELL.encode(archs.ops[:50], "adjacency_one_hot").shape,
                                (50, 30))


def test_same_random_streams():
  key = jax.random.key(11)
  np.testing.assert_array_equal(NB201_AS_CELL.with_options(naslib_valid=False).sample(key, (500,)).ops,
                                nb201.sample(key, (500,)).ops)
  np.testing.assert_array_equal(NB201_AS_CELL.sample(key, (500,)).ops,
                                nb201.sample(key, (500,), naslib_valid=True).ops)
  a = nb201.sample(key, (200,))
  keys = jax.random.split(key, 200)
  np.testing.assert_array_equal(jax.vmap(NB201_AS_CELL.mutate)(keys, a.ops).ops,
                                jax.vmap(nb201.mutate)(keys, a).ops)
