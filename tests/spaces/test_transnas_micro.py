"""TransNAS-Bench-101 micro space: strings, NASLib tuples, NASLib's intended sampling filter."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import transnas_micro as tnb

SPACE = spaces.get_space("transnas101_micro")


def test_string_round_trip_all():
  archs = SPACE.all_archs()
  assert archs.ops.shape == (4096, 6)
  strings = SPACE.to_string(archs)
  assert len(set(strings)) == 4096
  for i in range(0, 4096, 13):
    assert SPACE.to_id(SPACE.from_string(strings[i])) == i
  a = SPACE.from_string("64-41414-3_33_213")
  np.testing.assert_array_equal(a.ops, [3, 3, 3, 2, 1, 3])
  assert SPACE.to_string(a) == "64-41414-3_33_213"
  assert int(SPACE.to_id(a)) == int("333213", 4)  # the NASLib tuple read in base 4


def test_naslib_tuples():
  a = tnb.from_naslib("(3, 3, 2, 1, 3, 2)")
  assert tnb.to_naslib(a) == (3, 3, 2, 1, 3, 2)
  assert SPACE.to_string(a) == "64-41414-3_32_132"
  np.testing.assert_array_equal(tnb.from_naslib((3, 3, 2, 1, 3, 2)).ops, a.ops)
  assert tnb.to_naslib(SPACE.from_id(jnp.arange(3)))[2] == (0, 0, 0, 0, 0, 2)


def test_sampler_is_naslibs_intended_filter():
  a = SPACE.sample(jax.random.key(0), (20_000,))
  ops = np.asarray(a.ops)
  assert not (ops[:, [0, 1, 3]] == 0).all(-1).any()  # input used
  assert not (ops[:, [3, 4, 5]] == 0).all(-1).any()  # output not dead
  passing = np.asarray(jax.vmap(tnb.naslib_filter)(SPACE.all_archs().ops))
  assert passing.sum() == 4096 - 124  # 64 + 64 rejected, 4 of them twice (a=b=d=e=f=0)
  counts = np.bincount(np.asarray(SPACE.to_id(a)), minlength=4096)
  assert (counts[~passing] == 0).all() and (counts[passing] > 0).mean() > 0.99
  assert counts[passing].std() / counts[passing].mean() < 0.5  # uniform: Poisson(5) spread ~0.45
  # NASLib's literal check (graph coding: op 1 = zero, source-ordered edges) would reject cells
  # with skip connections here, e.g. a = b = c = 1; the intended filter keeps them
  assert ((ops[:, :3] == 1).all(-1)).any()
  # the unfiltered sampler reaches dead cells too: they are in the table
  u = np.asarray(SPACE.with_options(naslib_valid=False).sample(jax.random.key(0), (20_000,)).ops)
  assert (u[:, 3:] == 0).all(-1).any()


def test_bad_inputs():
  with pytest.raises(ValueError, match="not a transnas101_micro architecture string.*64-41414-a_bc_def"):
    SPACE.from_string("64-1234-basic")  # a macro string
  with pytest.raises(ValueError, match="not a transnas101_micro architecture string"):
    SPACE.from_string("64-41414-4_33_213")  # digit 4 is not an op
  with pytest.raises(ValueError, match=r"op index 4 out of range: valid are 0..3 = none, skip"):
    tnb.from_naslib("(4, 3, 2, 1, 3, 2)")
  with pytest.raises(ValueError, match="not a NASLib transnas101_micro tuple"):
    tnb.from_naslib("3, 3, 2")
  with pytest.raises(ValueError, match="needs 6 op indices"):
    tnb.from_naslib((1, 2, 3, 4))


def test_adjacency_one_hot_is_naslibs():
  """NASLib's ``encode_adjacency_one_hot_transbench_micro_op_indices``: one-hot (4) of each digit
  of the zip's tuple, in order."""
  a = tnb.from_naslib("(3, 0, 1, 2, 3, 1)")
  x = np.asarray(SPACE.encode(a, "adjacency_one_hot"))
  np.testing.assert_array_equal(x, np.concatenate([np.eye(4)[d] for d in (3, 0, 1, 2, 3, 1)]))
  assert SPACE.encoding_dim("path") == 4 + 16 + 64
