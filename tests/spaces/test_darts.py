"""The DARTS space (``jaxnas.spaces.darts``): the registry contract written for its two-cell
architecture (it has no ``ops`` leaf and no ids, so ``tests/contracts/test_spaces.py`` lists it in
``OWN_CONTRACT``), and the checks ``../shared/SPACES.md`` section 2 allows on the 725 labelled
NAS-Bench-301 architectures: every key parses, is valid and round-trips compact <-> Arch <->
genotype text; 120 valid, distinct neighbours each; fingerprints invariant to pair order and 725
distinct."""

from __future__ import annotations

import itertools
import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import darts

SPACE = spaces.get_space("darts")
N = 725  # sampled batches have the 725's shape: every jitted kernel compiles once per file
DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA",
                                   pathlib.Path(__file__).resolve().parents[2].parent / "shared"
                                   / "data")) / "nb301" / "naslib_labeled_725.json"


def _flat(arch):
  """``int[..., 32]``: the compact of each architecture."""
  return np.concatenate([np.asarray(arch.normal).reshape(arch.shape + (-1,)),
                         np.asarray(arch.reduce).reshape(arch.shape + (-1,))], -1)


def _stack(archs):
  return jax.tree.map(lambda *x: jnp.asarray(np.stack(x)), *archs)


@pytest.fixture(scope="module")
def labelled():
  if not DATA.is_file():
    pytest.skip(f"{DATA} absent (set JAXNAS_SHARED_DATA to the shared data folder)")
  return json.loads(DATA.read_text())["data"]["cifar10"]


@pytest.fixture(scope="module")
def sampled():
  return SPACE.sample(jax.random.key(0), (N,))


@pytest.fixture(scope="module")
def archs725(labelled):
  keys = list(labelled)
  return keys, _stack([SPACE.from_string(k) for k in keys])


# ----------------------------------------------------------------------------- registry contract


def test_interface_is_declared():
  assert spaces.SPACES["darts"] is SPACE and SPACE.name == "darts"
  assert SPACE.fingerprint is not None and SPACE.neighbours_masked is not None
  assert SPACE.check is not None and SPACE.all_archs is not None
  assert set(dict(SPACE.encoding_dims)) == set(SPACE.encodings)
  assert SPACE.num_edges == 14 and SPACE.ops == darts.OPS and SPACE.num_ops == 7
  assert SPACE.num_neighbours == 120 and len(SPACE.categorical) == 32
  assert SPACE.num_archs is None and SPACE.to_id is None  # not enumerable: no ids
  hash(SPACE)
  with pytest.raises(ValueError, match="cannot be enumerated"):
    SPACE.all_archs()
  with pytest.raises(ValueError, match="unknown option 'foo' for search space darts"):
    spaces.get_space("darts", foo=1)


def test_size_by_formula():
  # per cell: node j chooses 2 of its j + 2 inputs (unordered: the node sums them) and an op each
  per_cell = 1
  for j in range(4):
    per_cell *= (j + 2) * (j + 1) // 2 * 7 * 7
  assert darts.NUM_CELL == per_cell == 1_037_664_180
  assert darts.NUM_ARCHS == per_cell**2 == 1_076_746_950_455_072_400
  assert darts.NUM_COMPACT == darts.NUM_ARCHS * 2**8  # each of the 8 nodes' pairs in 2 orders


def test_sample_valid_deterministic_and_naslib_law(sampled):
  key = jax.random.key(0)
  a = sampled  # SPACE.sample(key, (N,)), jitted inside (one compile per shape)
  assert a.normal.shape == (N, 8, 2) and a.normal.dtype == jnp.int32
  assert bool(SPACE.is_valid(a).all())
  np.testing.assert_array_equal(_flat(a), _flat(SPACE.sample(key, (N,))))
  assert not np.array_equal(_flat(a), _flat(SPACE.sample(jax.random.key(1), (N,))))
  x = _flat(a).reshape(N, 2, 8, 2)
  # ops uniform over 7, inputs of node j uniform over 0..j+1 and in both orders
  counts = np.bincount(x[..., 1].ravel(), minlength=7) / x[..., 1].size
  assert np.abs(counts - 1 / 7).max() < 0.015
  for p in range(8):
    c = np.bincount(x[:, :, p, 0].ravel(), minlength=p // 2 + 2) / (2 * N)
    assert np.abs(c - 1 / (p // 2 + 2)).max() < 0.05, (p, c)
  assert (x[:, :, 0::2, 0] > x[:, :, 1::2, 0]).mean() == pytest.approx(0.5, abs=0.03)
  assert SPACE.with_options(naslib_valid=False).sample is SPACE.sample


def test_validity_can_fail_and_check_says_why():
  good = darts.DARTS_V2
  assert bool(SPACE.is_valid(good))
  bad_op = good.replace(reduce=np.asarray(good.reduce).copy())
  bad_op.reduce[3, 1] = 7
  bad_in = good.replace(normal=np.asarray(good.normal).copy())
  bad_in.normal[1, 0] = 2  # pair 1 (node 0) reads 0..1
  same = good.replace(normal=np.asarray(good.normal).copy())
  same.normal[7, 0] = 0  # node 3 would read input 0 twice
  neg = good.replace(normal=np.asarray(good.normal).copy())
  neg.normal[0, 1] = -1
  for arch, msg in ((bad_op, "reduce op index 7 out of range: valid are 0..6"),
                    (bad_in, "normal pair 1 input 2 out of range: pair 1 .node 0. reads 0..1"),
                    (same, "normal node 3 reads input 0 twice"),
                    (neg, "normal op index -1 out of range")):
    assert not bool(SPACE.is_valid(arch))
    with pytest.raises(ValueError, match=msg):
      SPACE.check(arch)
  wrong = darts.Arch(normal=jnp.zeros((7, 2), jnp.int32), reduce=jnp.zeros((7, 2), jnp.int32))
  assert not bool(SPACE.is_valid(wrong))
  with pytest.raises(ValueError, match="needs shape"):
    SPACE.check(wrong)
  with pytest.raises(ValueError, match="is not an architecture of search space darts"):
    SPACE.check(spaces.get_space("nasbench201").from_id(3))


def test_mutate_makes_exactly_one_edit_with_naslib_probabilities(sampled):
  a = sampled
  keys = jax.random.split(jax.random.key(4), N)
  m = jax.vmap(SPACE.mutate)(keys, a)
  np.testing.assert_array_equal(_flat(m), _flat(jax.vmap(SPACE.mutate)(keys, a)))
  assert bool(SPACE.is_valid(m).all())
  assert len({tuple(r) for r in np.argwhere(_flat(m) != _flat(a))[:, 1:]}) > 16  # edits vary
  assert ((_flat(m) != _flat(a)).sum(-1) == 1).all()
  # the law: NASLib's (cell, pair, field) uniform, then op over 7 / input over p//2+2, conditioned
  # on an effective change; enumerate NASLib's draws and compare with MUTATE_PROBS
  law = {}
  for c, p in itertools.product(range(2), range(8)):
    for o in range(7):
      law[(c, p, 1, o)] = law.get((c, p, 1, o), 0) + 1 / 32 / 7
    for i in range(p // 2 + 2):
      law[(c, p, 0, i)] = law.get((c, p, 0, i), 0) + 1 / 32 / (p // 2 + 2)
  parent = _flat(a)[0].reshape(2, 8, 2)
  eff = {k: v for k, v in law.items()
         if (k[2] == 1 and k[3] != parent[k[0], k[1], 1])
         or (k[2] == 0 and k[3] not in (parent[k[0], k[1], 0], parent[k[0], k[1] ^ 1, 0]))}
  total = sum(eff.values())
  nbrs = _flat(SPACE.neighbours(a))[0].reshape(120, 2, 8, 2)
  want = np.zeros(120)
  for k, row in enumerate(nbrs):
    c, p, f = np.argwhere(row != parent)[0]
    want[k] = eff[(c, p, f, row[c, p, f])] / total
  np.testing.assert_allclose(darts.MUTATE_PROBS, want, rtol=1e-12)


@pytest.mark.extended
def test_mutate_draws_follow_the_law():
  # 20,000 draws from one parent: total variation to MUTATE_PROBS (exact above) below 0.05
  nbrs = _flat(SPACE.neighbours(darts.DARTS_V2)).reshape(120, -1)
  want = np.asarray(darts.MUTATE_PROBS)
  keys = jax.random.split(jax.random.key(5), 20_000)
  kids = _flat(jax.vmap(lambda k: SPACE.mutate(k, darts.DARTS_V2))(keys))
  index = {tuple(r): k for k, r in enumerate(nbrs)}
  freq = np.bincount([index[tuple(r)] for r in kids], minlength=120) / len(kids)
  assert 0.5 * np.abs(freq - want).sum() < 0.05


def test_neighbours_contract(sampled):
  a = sampled
  nbrs, mask = SPACE.neighbours_masked(a)
  assert nbrs.normal.shape == (N, 120, 8, 2) and mask.shape == (N, 120) and bool(mask.all())
  for b in range(8):
    rows = _flat(nbrs)[b]
    assert len({tuple(r) for r in rows}) == 120
    assert ((rows != _flat(a)[b]).sum(-1) == 1).all()
  for j in (0, 60, 95, 96, 119):
    np.testing.assert_array_equal(_flat(SPACE.neighbour(a, j)), _flat(nbrs)[:, j])


def test_fingerprint_is_exact_and_pair_order_free(sampled):
  a = sampled
  fp = SPACE.fingerprint
  f = np.asarray(fp(a))
  assert f.shape == (N, 4) and f.dtype == np.int32
  # swapping the two pairs of random nodes keeps the fingerprint; a one-edit change never does
  x = _flat(a).reshape(N, 2, 4, 2, 2)
  swap = np.random.default_rng(0).random((N, 2, 4)) < 0.5
  y = np.where(swap[..., None, None], x[:, :, :, ::-1], x).reshape(N, 2, 8, 2)
  s = darts.Arch(normal=jnp.asarray(y[:, 0]), reduce=jnp.asarray(y[:, 1]))
  np.testing.assert_array_equal(np.asarray(fp(s)), f)
  np.testing.assert_array_equal(_flat(darts.canonical(s)), _flat(darts.canonical(a)))
  nf = np.asarray(fp(SPACE.neighbours(a)))
  assert (nf != f[:, None]).any(-1).all()


def test_string_round_trips_and_errors(sampled):
  a = sampled[np.arange(32)]
  strings = SPACE.to_string(a)
  assert len(strings) == 32
  for s, row in zip(strings, _flat(a)):
    np.testing.assert_array_equal(_flat(SPACE.from_string(s)), row)
    assert SPACE.to_string(SPACE.from_string(s)) == s
    g = darts.genotype_string(SPACE.from_string(s))
    assert SPACE.to_string(SPACE.from_string(g)) == s
    assert SPACE.to_string(darts.from_genotype(darts.to_genotype(SPACE.from_string(s)))) == s
    assert SPACE.to_string(darts.from_naslib(darts.to_naslib(SPACE.from_string(s)))) == s
  # DARTS's own file writes range(2, 6) for the concat, and tuples for NASLib's compact
  v2 = darts.genotype_string(darts.DARTS_V2).replace("[2, 3, 4, 5]", "range(2, 6)")
  np.testing.assert_array_equal(_flat(SPACE.from_string(v2)), _flat(darts.DARTS_V2))
  np.testing.assert_array_equal(_flat(spaces.arch_from_string("darts", darts.to_naslib(
      darts.DARTS_V2))), _flat(darts.DARTS_V2))
  for text, msg in (("[[(0, 1)]]", "not a darts architecture"),
                    ("hello", "not a darts architecture string"),
                    (v2.replace("sep_conv_3x3", "conv_7x7", 1), "unknown darts op 'conv_7x7'"),
                    (v2.replace("range(2, 6)", "[2, 3]", 1), "normal_concat must be .2, 3, 4, 5."),
                    ("Genotype(normal=[])", "needs normal, normal_concat, reduce, reduce_concat")):
    with pytest.raises(ValueError, match=msg):
      SPACE.from_string(text)
  with pytest.raises(ValueError, match="is an architecture of search space nasbench201"):
    spaces.arch_from_string("darts", "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_darts_v2_genotype():
  g = darts.to_genotype(darts.DARTS_V2)
  assert g.normal[-1] == ("dil_conv_3x3", 2) and g.reduce[2] == ("skip_connect", 2)
  assert g.normal_concat == g.reduce_concat == [2, 3, 4, 5]
  assert darts.genotype_string(darts.DARTS_V2).startswith(
      "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)")


def test_encode_dims(sampled):
  a = sampled
  for kind, dim in SPACE.encoding_dims:
    x = SPACE.encode(a, kind)
    assert x.shape == (N, dim) and x.dtype == jnp.float32
  with pytest.raises(ValueError, match="unknown encoding 'nope' for search space darts"):
    SPACE.encode(a, "nope")


@pytest.mark.extended
def test_encode_under_jit_and_vmap():
  a = SPACE.sample(jax.random.key(8), (N,))
  for kind, _ in SPACE.encoding_dims:
    np.testing.assert_array_equal(SPACE.encode(a, kind), jax.jit(jax.vmap(
        lambda arch, kind=kind: SPACE.encode(arch, kind)))(a))


def _naslib_adj(compact):
  """NASLib's ``encode_adj`` for DARTS (nasbench301/encodings.py), written out on the host."""
  out = []
  for cell in compact:
    m = np.zeros((7, 7))
    for i, (inp, _) in enumerate(cell):
      m[inp][i // 2 + 2] = 1
    m[2:6, -1] = 1
    out += [*m.ravel(), *[op for _, op in cell]]
  return np.array(out)


def _naslib_paths(compact):
  """NASLib's ``encode_paths`` over all 8 pairs (NASLib's loop stops at 7, see darts.py)."""
  enc = np.zeros(4 * 2801)
  for c, cell in enumerate(compact):
    builder = [[] for _ in range(4)]
    for j, (inp, op) in enumerate(cell):
      new = [[inp, op]] if inp < 2 else [p + [op] for p in builder[inp - 2]]
      builder[j // 2] += new
      for path in new:
        index = c * 2 * 2801 + path[0] * 2801
        for k, o in enumerate(path[1:]):
          index += 7**k * (o + 1)
        enc[index] = 1
  return enc


@pytest.mark.extended
def test_encodings_match_naslib_on_the_725(archs725):
  keys, a = archs725
  compacts = [darts.to_naslib(a[i]) for i in range(0, 725, 25)]
  sub = a[np.arange(0, 725, 25)]
  np.testing.assert_array_equal(np.asarray(SPACE.encode(sub, "adjacency_one_hot")),
                                np.stack([_naslib_adj(c) for c in compacts]))
  np.testing.assert_array_equal(np.asarray(SPACE.encode(sub, "path")),
                                np.stack([_naslib_paths(c) for c in compacts]))
  np.testing.assert_array_equal(np.asarray(SPACE.encode(sub, "compact")),
                                np.asarray([np.ravel(c) for c in compacts], np.float32))
  g = np.asarray(SPACE.encode(sub, "graph"))
  adj = g[:, :22 * 22].reshape(-1, 22, 22)
  assert (np.triu(adj, 1) == adj).all()  # a DAG in vertex order
  assert (adj.sum(1)[:, [2 + p for p in range(8)] + [13 + p for p in range(8)]] >= 1).all()
  feats = g[:, 22 * 22:].reshape(-1, 22, 7)
  assert (feats.sum(-1) == np.array([0, 0] + [1] * 8 + [0] + [0, 0] + [1] * 8 + [0])).all()


def test_categorical_view_round_trip(sampled):
  a = sampled
  x = SPACE.to_categorical(a)
  assert x.shape == (N, 32) and (np.asarray(x) < np.asarray(SPACE.categorical)).all()
  np.testing.assert_array_equal(_flat(SPACE.from_categorical(x)), _flat(a))


# ----------------------------------------------------------------------------- the 725 (must show)


def test_725_keys_parse_valid_and_round_trip(archs725):
  keys, a = archs725
  assert len(keys) == 725 and bool(SPACE.is_valid(a).all())
  assert SPACE.to_string(a) == keys  # compact -> Arch -> compact, character for character
  for k, g in zip(keys, darts.genotype_string(a)):
    assert SPACE.to_string(SPACE.from_string(g)) == k  # Arch -> genotype text -> Arch


def test_725_have_120_valid_distinct_neighbours(archs725):
  _, a = archs725
  nbrs, mask = SPACE.neighbours_masked(a)  # mask = is_valid of the neighbours
  assert bool(mask.all())
  rows = _flat(nbrs)  # [725, 120, 32]
  assert ((rows != _flat(a)[:, None]).sum(-1) == 1).all()
  # distinct as compacts and as fingerprints (no two neighbours are the same network either)
  fp = np.asarray(SPACE.fingerprint(nbrs))  # [725, 120, 4]
  for r in (rows, fp):
    s = np.sort(r.view(np.dtype((np.void, r.dtype.itemsize * r.shape[-1]))).reshape(725, 120), 1)
    assert (s[:, 1:] != s[:, :-1]).all()


def test_725_fingerprints_distinct_and_pair_order_free(archs725):
  _, a = archs725
  f = np.asarray(SPACE.fingerprint(a))
  assert len({tuple(r) for r in f}) == 725
  x = _flat(a).reshape(725, 2, 4, 2, 2)[:, :, :, ::-1].reshape(725, 2, 8, 2)  # every node swapped
  swapped = darts.Arch(normal=jnp.asarray(x[:, 0]), reduce=jnp.asarray(x[:, 1]))
  np.testing.assert_array_equal(np.asarray(SPACE.fingerprint(swapped)), f)
  # the compact keys are not canonical (pairs in either order), the canonical form is
  firsts = _flat(a).reshape(725, 2, 4, 2, 2)[..., 0]
  assert 0 < (firsts[..., 0] < firsts[..., 1]).sum() < 5800
