"""The search-space contract, parametrised over the registry and over user-defined cells.

Every registered space (and a 5-node cell built from a networkx DAG, with and without a validity
predicate) must: sample valid architectures deterministically per key; mutate exactly one edge to a
different op; give distinct, valid neighbours one edge away with a mask; have a fingerprint equal
iff the architecture is equal; round-trip ids and strings; encode to the declared dimensions; and
do all of it under ``jit`` and ``vmap``. Validity is checked on raw integers, so the checks can fail
(a test below feeds invalid architectures and expects False).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import cell, nb_macro

# A user's 5-node cell: 0 -> {1, 2}, 1 -> {2, 3}, 2 -> {3, 4}, 3 -> 4 (7 edges, 3 ops: 2,187 cells).
USER_DAG = nx.DiGraph([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)])
USER_OPS = ("none", "skip_connect", "conv3x3")


def _needs_a_conv(ops):
  """A user validity predicate: at least one edge is a conv (op 2)."""
  return jnp.any(ops == 2)


USER = cell.cell_space("user_cell5", USER_DAG, USER_OPS).as_search_space()
USER_PRED = cell.cell_space("user_cell5_pred", USER_DAG, USER_OPS,
                            valid_fn=_needs_a_conv).as_search_space()
# the edge-op cell spaces (``ops: int32[..., E]``) and NAS-Bench-101 (matrix and ops: ``_flat``,
# ``_is_cell`` below); nasbench_graph (links and ops) meets the same contract, written for its
# architecture, in tests/spaces/test_nb_graph.py
OWN_CONTRACT = {"nasbench_graph", "darts"}  # darts: tests/spaces/test_darts.py
ALL = {**{n: s for n, s in spaces.SPACES.items() if n not in OWN_CONTRACT}, USER.name: USER,
       USER_PRED.name: USER_PRED}
NAMES = sorted(ALL)
N = 64  # batch of architectures per check
# registered spaces whose single-edge changes can leave the space (TNB macro: a module removed
# from the middle, or a count rule broken); their mask is checked against is_valid above
PARTLY_VALID_NEIGHBOURS = {"transnas101_macro"}
# registered spaces whose fingerprint reduces equivalent architectures to one network:
# name -> (canonical form of the ops, number of distinct networks)
REDUCED = {"nasbench_macro": (lambda ops: np.asarray(nb_macro.canonical_ops(ops)),
                              nb_macro.NUM_NETWORKS)}


@pytest.fixture(params=NAMES)
def space(request):
  return ALL[request.param]


def _ops(arch):
  return np.asarray(arch.ops)


def _flat(arch):
  """Every leaf of an architecture (batch), flattened per architecture: the ops of a cell space,
  matrix then ops of a node-op DAG space (NAS-Bench-101)."""
  leaves = [np.asarray(x) for x in jax.tree.leaves(arch)]
  batch = leaves[-1].shape[:-1]
  return np.concatenate([x.reshape(batch + (-1,)) for x in leaves], -1)


def _is_cell(space):
  """An edge-op cell space: its architecture is ``ops: int32[..., E]`` alone. The others (the
  NAS-Bench-101 node-op DAG) meet the same contract where it is not about edges, and a
  fingerprint that identifies isomorphic cells (equal iff the module hashes are)."""
  return [f.name for f in dataclasses.fields(space.arch_type)] == ["ops"]


def _sample(space, key, shape):
  return jax.jit(lambda k: space.sample(k, shape))(key)


def test_interface_is_declared(space):
  assert space.fingerprint is not None and space.neighbours_masked is not None
  assert space.check is not None and space.all_archs is not None
  assert set(dict(space.encoding_dims)) == set(space.encodings)
  assert space.num_edges == len(space.edges) > 0 and space.num_ops == len(space.ops) > 1
  if _is_cell(space):
    assert space.categorical == (space.num_ops,) * space.num_edges
    assert space.num_neighbours == space.num_edges * (space.num_ops - 1)
  else:
    assert len(space.categorical) > 0 and space.num_neighbours > 0
  hash(space)  # static jit argument


def test_sample_valid_and_deterministic(space):
  key = jax.random.key(0)
  a = _sample(space, key, (N,))
  assert _ops(a).shape == ((N, space.num_edges) if _is_cell(space) else (N, _ops(a).shape[-1]))
  assert bool(space.is_valid(a).all())
  np.testing.assert_array_equal(_flat(a), _flat(_sample(space, key, (N,))))
  assert not np.array_equal(_flat(a), _flat(_sample(space, jax.random.key(1), (N,))))
  # every op appears (the sampler covers the choices)
  assert set(np.unique(_ops(a))) == set(range(space.num_ops))
  # the space made without NASLib's sampling filter samples valid cells too
  unfiltered = space.with_options(naslib_valid=False)
  assert dict(unfiltered.options)["naslib_valid"] is False
  assert bool(space.is_valid(unfiltered.sample(key, (N,))).all())


def test_validity_can_fail(space):
  if not _is_cell(space):
    good = _sample(space, jax.random.key(2), ())
    n = _ops(good).shape[-1]
    for bad in (np.where(np.arange(n) == 1, space.num_ops, _ops(good)),
                np.where(np.arange(n) == n - 1, -1, _ops(good))):
      arch = good.replace(ops=jnp.asarray(bad, jnp.int32))
      assert not bool(space.is_valid(arch))
      with pytest.raises(ValueError, match="out of range"):
        space.check(arch)
    assert not bool(space.is_valid(good.replace(ops=jnp.zeros((n + 1,), jnp.int32))))  # wrong length
    assert bool(space.is_valid(good))
    return
  e, o = space.num_edges, space.num_ops
  good = _ops(_sample(space, jax.random.key(2), ()))
  for bad in (np.where(np.arange(e) == 0, o, good), np.where(np.arange(e) == e - 1, -1, good)):
    assert not bool(space.is_valid(space.arch_type(ops=jnp.asarray(bad, jnp.int32))))
    with pytest.raises(ValueError, match="out of range"):
      space.check(space.arch_type(ops=bad))
  assert not bool(space.is_valid(jnp.zeros((e + 1,), jnp.int32)))  # wrong length
  assert bool(space.is_valid(space.arch_type(ops=jnp.asarray(good))))


def test_mutate_changes_exactly_one_edge(space):
  a = _sample(space, jax.random.key(3), (N,))
  keys = jax.random.split(jax.random.key(4), N)
  m = jax.jit(jax.vmap(space.mutate))(keys, a)
  assert bool(space.is_valid(m).all())
  np.testing.assert_array_equal(_flat(m), _flat(jax.vmap(space.mutate)(keys, a)))  # eager == jit
  if not _is_cell(space):  # NASLib's NB101 mutation flips each edge/op at random (may keep all)
    changed = (_flat(m) != _flat(a)).any(-1)
    assert changed.mean() > 0.5 and len({tuple(r) for r in _flat(m)}) > N // 2
    return
  diff = (_ops(m) != _ops(a)).sum(-1)
  assert (diff == 1).all()
  # both the edge and the new op vary with the key
  changed_edge = np.argmax(_ops(m) != _ops(a), -1)
  assert len(set(changed_edge.tolist())) > 1


def test_neighbours(space):
  a = _sample(space, jax.random.key(5), (8,))
  nbrs, mask = jax.jit(jax.vmap(space.neighbours_masked))(a)
  k = space.num_neighbours
  assert _flat(nbrs).shape[:2] == (8, k) and np.asarray(mask).shape == (8, k)
  if _is_cell(space):
    assert _ops(nbrs).shape == (8, k, space.num_edges)
  np.testing.assert_array_equal(_flat(nbrs), _flat(jax.vmap(space.neighbours)(a)))
  for b in range(8):
    rows = _flat(nbrs)[b]
    assert len({tuple(r) for r in rows}) == k  # all distinct
    assert ((rows != _flat(a)[b]).sum(-1) == 1).all()  # one edge (or one op) away
    valid = np.asarray(space.is_valid(nbrs[b]))
    if _is_cell(space):
      np.testing.assert_array_equal(np.asarray(mask)[b], valid)
    else:  # NASLib's NB101 neighbourhood: valid, and the change on an input->output path
      assert (valid | ~np.asarray(mask)[b]).all() and np.asarray(mask)[b].any()
    for j in (0, k // 2, k - 1):
      np.testing.assert_array_equal(_flat(space.neighbour(a[b], j)), rows[j])
  if (_is_cell(space) and not space.name.endswith("_pred")
      and space.name not in PARTLY_VALID_NEIGHBOURS):
    assert bool(np.asarray(mask).all())


def test_fingerprint_equal_iff_same_arch(space):
  fp = jax.jit(space.fingerprint)
  if space.num_archs is not None and space.num_archs <= 20_000:
    archs = space.all_archs()
    assert _ops(archs).shape == (space.num_archs, space.num_edges)
    assert bool(space.is_valid(archs).all())
    f = np.asarray(fp(archs))
    rows = {tuple(r) for r in _ops(archs)}
    canon, distinct = REDUCED.get(space.name, (lambda ops: ops, len(f)))
    assert len(rows) == len(f) and len(np.unique(f)) == distinct
    assert len({tuple(r) for r in canon(_ops(archs))}) == distinct
  canon = REDUCED.get(space.name, (lambda ops: ops, None))[0]
  a = _sample(space, jax.random.key(6), (N,))
  f = np.asarray(fp(a))
  assert f.dtype == np.int32
  if not _is_cell(space):  # isomorphic cells share a fingerprint: equal iff same module hash
    from jaxnas.spaces import nb101  # pylint: disable=import-outside-toplevel
    h = np.asarray(nb101.arch_module_hash(a))
    f = f.reshape(N, -1)
    np.testing.assert_array_equal((f[:, None] == f[None]).all(-1), h[:, None] == h[None])
    return
  c = canon(_ops(a))
  same = (c[:, None] == c[None]).all(-1)
  np.testing.assert_array_equal(f[:, None] == f[None], same)


def test_id_and_string_round_trips(space):
  a = _sample(space, jax.random.key(7), (N,))
  ids = jax.jit(space.to_id)(a)
  np.testing.assert_array_equal(_flat(jax.jit(space.from_id)(ids)), _flat(a))
  strings = space.to_string(a)
  assert len(strings) == N
  for s, row in zip(strings, _flat(a)):
    assert isinstance(s, str)
    np.testing.assert_array_equal(_flat(space.from_string(s)), row)
    assert space.to_string(space.from_string(s)) == s


def test_encode_dims_jit_vmap(space):
  a = _sample(space, jax.random.key(8), (N,))
  for kind, dim in space.encoding_dims:
    x = jax.jit(lambda arch, kind=kind: space.encode(arch, kind))(a)
    assert x.shape == (N, dim) and x.dtype == jnp.float32
    y = jax.vmap(lambda arch, kind=kind: space.encode(arch, kind))(a)
    np.testing.assert_array_equal(x, y)
    assert space.encoding_dim(kind) == dim
  with pytest.raises(ValueError, match="unknown encoding 'nope'"):
    space.encoding_dim("nope")


def test_categorical_view_round_trip(space):
  a = _sample(space, jax.random.key(9), (N,))
  x = space.to_categorical(a)
  assert x.shape == (N, len(space.categorical))
  assert (np.asarray(x) < np.asarray(space.categorical)).all()
  np.testing.assert_array_equal(_flat(space.from_categorical(x)), _flat(a))


def test_architecture_of_another_space_is_rejected():
  tnb, nb = spaces.get_space("transnas101_micro"), spaces.get_space("nasbench201")
  with pytest.raises(ValueError, match="not an architecture of search space transnas101_micro"):
    tnb.to_id(nb.from_id(3))
  with pytest.raises(ValueError, match="not an architecture of search space nasbench201"):
    nb.check(tnb.from_id(3))
  with pytest.raises(ValueError, match="not a transnas101_micro architecture string"):
    tnb.from_string(nb.to_string(nb.from_id(3)))
  with pytest.raises(ValueError, match="not an NB201 architecture string"):
    nb.from_string(tnb.to_string(tnb.from_id(3)))
  with pytest.raises(ValueError, match="unknown search space 'nb999'; valid: nasbench201"):
    spaces.get_space("nb999")


def test_user_cell_predicate_and_errors():
  # predicate: 2**7 of the 3**7 cells have no conv
  assert USER_PRED.num_archs == 3**7 - 2**7
  with pytest.raises(ValueError, match="rejected by the space's validity predicate"):
    USER_PRED.check(np.zeros(7, np.int32))
  assert not bool(USER_PRED.is_valid(jnp.zeros(7, jnp.int32)))
  # generic string form, with node groups joined by '+'
  a = USER.from_id(5)
  assert USER.to_string(a) == "|none~0|+|none~0|none~1|+|none~1|none~2|+|skip_connect~2|conv3x3~3|"
  with pytest.raises(ValueError, match="unknown user_cell5 op 'conv5x5'.*valid ops: none, skip"):
    USER.from_string("|none~0|+|none~0|none~1|+|none~1|none~2|+|skip_connect~2|conv5x5~3|")
  with pytest.raises(ValueError, match="not a user_cell5 architecture string"):
    USER.from_string("|none~0|+|none~0|none~1|")
  with pytest.raises(ValueError, match=r"needs 7 op indices .*got shape \(6,\)"):
    USER.check(np.zeros(6, np.int32))


def test_bad_dags_and_op_lists():
  with pytest.raises(ValueError, match="node 2 has no outgoing edge"):
    cell.cell_space("x", [(0, 1), (0, 2), (1, 3)], ("a", "b"))
  with pytest.raises(ValueError, match="node 1 has no incoming edge"):
    cell.cell_space("x", [(0, 2), (1, 2)], ("a", "b"))
  with pytest.raises(ValueError, match=r"edge \(2, 1\) must go from a lower to a higher node"):
    cell.cell_space("x", [(0, 2), (2, 1), (1, 3)], ("a", "b"))
  with pytest.raises(ValueError, match="nodes must be the integers 0..n-1"):
    cell.cell_space("x", nx.DiGraph([("in", "out")]), ("a", "b"))
  with pytest.raises(ValueError, match="at least 2 distinct"):
    cell.cell_space("x", [(0, 1)], ("a", "a"))
  with pytest.raises(ValueError, match="more than int32"):
    cell.cell_space("x", [(i, j) for j in range(8) for i in range(j)], ("a", "b", "c"))


def test_large_cell_with_predicate_samples_by_rejection():
  # 4**12 op assignments > the id-table limit: the sampler rejects invalid draws in a while_loop
  dag = [(i, j) for j in range(1, 5) for i in range(j)] + [(0, 5), (1, 5), (4, 5)]
  big = cell.cell_space("big", dag, ("none", "skip", "c1", "c3"),
                        valid_fn=lambda ops: jnp.sum(ops == 3) == 2).as_search_space()
  a = jax.jit(lambda k: big.sample(k, (N,)))(jax.random.key(0))
  assert bool(big.is_valid(a).all()) and ((_ops(a) == 3).sum(-1) == 2).all()
  m = jax.vmap(big.mutate)(jax.random.split(jax.random.key(1), N), a)
  assert bool(big.is_valid(m).all()) and ((_ops(m) != _ops(a)).sum(-1) == 1).all()
