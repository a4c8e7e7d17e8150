"""TransNAS-Bench-101 macro space: the enumeration (3,256, id order), strings and NASLib tuples,
the two samplers, single-slot neighbours (never empty) and options. Table checks:
tests/benchmarks/test_transnas_macro.py; the generic contract: tests/contracts."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import transnas_macro as tm

SPACE = spaces.get_space("transnas101_macro")


@pytest.fixture(scope="module")
def all_ops():
  return np.asarray(SPACE.all_archs().ops)


def test_enumeration_ids_and_strings(all_ops):
  assert SPACE.num_archs == 3256 and all_ops.shape == (3256, 6)
  lengths = (all_ops != 0).sum(-1)
  assert np.bincount(lengths)[4:].tolist() == [210, 750, 2296]
  # ids follow the lexicographic order of the zero-padded tuple; to_id inverts from_id
  assert [tuple(r) for r in all_ops] == sorted(tuple(r) for r in all_ops)
  np.testing.assert_array_equal(np.asarray(jax.jit(SPACE.to_id)(SPACE.all_archs())), np.arange(3256))
  assert bool(SPACE.is_valid(SPACE.all_archs()).all())
  # the declared count (no JAX call at import) is the count of the validity rule over all 4^6
  from jaxnas.spaces import cell, transnas_macro  # pylint: disable=import-outside-toplevel
  counted = dataclasses.replace(transnas_macro._CELL, known_num_archs=None)  # pylint: disable=protected-access
  assert len(cell._allowed_ids(counted, False)) == SPACE.num_archs == 3256  # pylint: disable=protected-access
  # string round trips for every skeleton (host-side forms), and through the space for a few
  strings = [tm.format_string(r) for r in all_ops]
  assert len(set(strings)) == 3256 and strings[0] == "64-111114-basic"
  assert all(tm.parse_string(s) == r.tolist() for s, r in zip(strings, all_ops))
  for i in (0, 1337, 3255):
    s = SPACE.to_string(SPACE.from_id(i))
    assert int(SPACE.to_id(SPACE.from_string(s))) == i and SPACE.to_string(SPACE.from_string(s)) == s
  for bad in ("64-1111-basic", "64-1234567-basic", "64-12340-basic", "64-41414-1_11_111"):
    with pytest.raises(ValueError, match="not a transnas101_macro architecture string"):
      SPACE.from_string(bad)


def test_naslib_tuples_padded_or_not():
  a = tm.from_naslib((2, 2, 4, 3))
  np.testing.assert_array_equal(a.ops, [2, 2, 4, 3, 0, 0])
  np.testing.assert_array_equal(tm.from_naslib("(1, 2, 4, 2, 0, 0)").ops, [1, 2, 4, 2, 0, 0])
  assert tm.to_naslib(a) == (2, 2, 4, 3) and tm.to_naslib(a, padded=True) == (2, 2, 4, 3, 0, 0)
  assert spaces.arch_from_string(SPACE, "(2, 2, 4, 1, 3, 1)").ops.tolist() == [2, 2, 4, 1, 3, 1]
  with pytest.raises(ValueError, match="rejected by the space's validity predicate"):
    tm.from_naslib((1, 1, 1, 1))  # no down-sampling, no doubling
  with pytest.raises(ValueError, match="rejected"):
    tm.from_naslib((2, 3, 0, 1, 1, 1))  # a gap


def test_samplers():
  n = 2048
  uni = SPACE.sample(jax.random.key(0), (n,))
  nas_space = spaces.get_space("transnas101_macro", sampler="naslib")
  assert dict(nas_space.options) == {"naslib_valid": True, "sampler": "naslib"}
  nas = jax.jit(lambda k: nas_space.sample(k, (n,)))(jax.random.key(0))
  for a in (uni, nas):
    assert bool(SPACE.is_valid(a).all())
  len_uni = np.bincount((np.asarray(uni.ops) != 0).sum(-1), minlength=7)[4:] / n
  len_nas = np.bincount((np.asarray(nas.ops) != 0).sum(-1), minlength=7)[4:] / n
  # uniform over the 3,256: lengths 4/5/6 in proportion 210/750/2296; NASLib's: about 1/3 each
  np.testing.assert_allclose(len_uni, np.array([210, 750, 2296]) / 3256, atol=0.02)
  np.testing.assert_allclose(len_nas, [1 / 3] * 3, atol=0.03)
  # NASLib's is concentrated: 2,048 draws hit far fewer skeletons than uniform ones
  assert 300 < len(np.unique(np.asarray(SPACE.to_id(nas)))) < len(np.unique(np.asarray(SPACE.to_id(uni))))
  with pytest.raises(ValueError, match="option sampler .* must be one of uniform, naslib"):
    spaces.get_space("transnas101_macro", sampler="rpq")
  with pytest.raises(ValueError, match="unknown option 'foo' .* valid: naslib_valid, sampler"):
    spaces.get_space("transnas101_macro", foo=1)


def test_every_skeleton_has_valid_single_slot_neighbours():
  nbrs, mask = jax.jit(SPACE.neighbours_masked)(SPACE.all_archs())
  assert mask.shape == (3256, 24) and bool(mask.any(-1).all())
  counts = np.asarray(mask).sum(-1)
  assert counts.min() >= 1 and counts.max() < 24
  # the valid neighbours are exactly the skeletons one slot away
  ops = np.asarray(SPACE.all_archs().ops)
  i = 1337
  one_away = {tuple(r) for r in ops if (r != ops[i]).sum() == 1}
  assert {tuple(r) for r in np.asarray(nbrs.ops[i])[np.asarray(mask[i])]} == one_away
  child = jax.vmap(SPACE.mutate)(jax.random.split(jax.random.key(1), 64), SPACE.from_id(np.full(64, i)))
  assert bool(SPACE.is_valid(child).all()) and {tuple(r) for r in np.asarray(child.ops)} <= one_away


def test_encodings():
  a = SPACE.from_string("64-224131-basic")
  np.testing.assert_array_equal(SPACE.encode(a, "counts"), [6, 2, 3, 2])
  assert SPACE.encode(a, "adjacency_one_hot").shape == (30,)
  assert dict(SPACE.encoding_dims) == {"adjacency_one_hot": 30, "op_indices": 6, "counts": 4,
                                           "path": 30}


def test_mutate_draws_uniformly_among_the_valid_neighbours():
  """The direct draw (the r-th of a precomputed neighbour list) has the mask-and-sample
  operator's distribution: exact support = the masked neighbours, uniform frequencies (chi-square
  with a fixed key), for a short and a long skeleton."""
  import scipy.stats  # pylint: disable=import-outside-toplevel
  n = 4000

  @jax.jit
  def draw(key, i):
    parent = SPACE.from_id(i)
    kids = jax.vmap(SPACE.mutate, in_axes=(0, None))(jax.random.split(key, n), parent)
    nbrs, m = SPACE.neighbours_masked(parent)
    return (kids.ops[:, None] == nbrs.ops[None]).all(-1), m

  for i in (0, 1337):
    same, m = jax.tree_util.tree_map(np.asarray, draw(jax.random.key(3), i))
    assert (same.sum(-1) == 1).all()  # neighbours are distinct; every child is one of them
    hits = np.bincount(same.argmax(-1), minlength=24)
    assert set(np.flatnonzero(hits)) == set(np.flatnonzero(m))
    expected = n / m.sum()
    chi2 = ((hits[m] - expected) ** 2 / expected).sum()
    assert chi2 < scipy.stats.chi2.ppf(0.999, m.sum() - 1)
