"""NAS-Bench-Macro space: keys (base 3), the key -> real-network canonicalisation (3,969 networks),
strings and encodings. Table checks: tests/benchmarks/test_nb_macro.py."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import nb_macro

SPACE = spaces.get_space("nasbench_macro")


def test_keys_ids_and_strings():
  assert SPACE.num_archs == 6561 and SPACE.num_neighbours == 16
  assert SPACE.to_string(SPACE.from_id(int("22212220", 3))) == "22212220"
  assert int(SPACE.to_id(SPACE.from_string("00000012"))) == 5
  for bad in ("2221222", "22212223", "64-1234-basic"):
    with pytest.raises(ValueError, match="not a nasbench_macro architecture string"):
      SPACE.from_string(bad)
  assert dict(SPACE.encoding_dims) == {"adjacency_one_hot": 24, "op_indices": 8, "path": 24}


def test_canonicalisation_counts_3969():
  # written out independently: per stage, the first layer stays, the identities (0) of the
  # others go to the end
  def canon(key):
    out = []
    for stage in ((0, 1), (2, 3, 4), (5, 6, 7)):
      rest = [key[i] for i in stage[1:]]
      out += [key[stage[0]]] + [v for v in rest if v] + [v for v in rest if not v]
    return tuple(out)

  keys = list(itertools.product(range(3), repeat=8))
  want = np.asarray([canon(k) for k in keys])
  got = np.asarray(jax.jit(nb_macro.canonical_ops)(np.asarray(keys, np.int32)))
  np.testing.assert_array_equal(got, want)
  assert len({tuple(r) for r in want}) == 3969 == nb_macro.NUM_NETWORKS
  fp = np.asarray(jax.jit(SPACE.fingerprint)(SPACE.all_archs()))
  np.testing.assert_array_equal(fp, want @ 3 ** np.arange(7, -1, -1))
  iso = nb_macro.iso_classes()
  assert (iso <= np.arange(6561)).all() and len(np.unique(iso)) == 3969
