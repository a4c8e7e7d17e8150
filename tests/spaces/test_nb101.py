"""The NAS-Bench-101 space: module hash and fingerprint against the real EC-NAS records and NASLib's
500 labelled cells, the enumeration machinery on the sub-spaces of at most 4 and 5 vertices (whose
cells are exactly the EC-NAS 4V and 5V files' cells), conversions, errors and NASLib's
neighbourhood. The contract (sample, mutate, neighbours, ids, strings, encodings under jit/vmap)
is in ``tests/contracts/test_spaces.py``.
"""

from __future__ import annotations

import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.benchmarks import nb101_enumerate as ne
from jaxnas.benchmarks import tfrecord
from jaxnas.spaces import nb101

DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA",
                                   pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
EC_NAS = DATA / "nb101" / "ec_nas"
NASLIB_500 = DATA / "nb101" / "naslib_labeled_500.json"
INCEPTION = ([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 0]],
             ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
              "maxpool3x3", "output"])


def _records(path: pathlib.Path) -> list[list]:
  """The JSON rows ``[module_hash, epochs, adjacency, ops, metrics]`` of a tfrecord file, read by
  the TensorFlow-free reader (framing and CRC32C checked)."""
  return [json.loads(payload) for _, payload in tfrecord.read_records(path)]


@pytest.fixture(scope="module")
def ec_nas():
  files = sorted(EC_NAS.glob("*.tfrecord"))
  if not files:
    pytest.skip(f"EC-NAS tfrecords absent under {EC_NAS} (set JAXNAS_SHARED_DATA)")
  return {f.name: _records(f) for f in files}


def _spec(row):
  v = int(round(len(row[2]) ** 0.5))
  return np.array([int(c) for c in row[2]]).reshape(v, v), row[3].split(",")


def test_module_hash_equals_stored_hash_for_every_ec_nas_record(ec_nas):
  rows = [r for rs in ec_nas.values() for r in rs]
  assert len(rows) == 3988
  cache = {}
  for r in rows:
    key = (r[2], r[3])
    if key not in cache:
      cache[key] = nb101.module_hash(*_spec(r))
  equal = sum(cache[(r[2], r[3])] == r[0] for r in rows)
  assert equal == 3988, f"{equal}/3988"


def test_fingerprint_classes_are_the_module_hash_classes_on_ec_nas(ec_nas):
  rows = {(r[2], r[3]): r[0] for rs in ec_nas.values() for r in rs}
  archs = [nb101.pad(*_spec((None, None) + k)) for k in rows]
  m = np.stack([np.asarray(a.matrix) for a in archs])
  o = np.stack([np.asarray(a.ops) for a in archs])
  fp = ne.fingerprints(m, o)
  hashes = np.array(list(rows.values()))
  _, hi = np.unique(hashes, return_inverse=True)
  _, fi = np.unique(fp, axis=0, return_inverse=True)
  assert len(set(hashes)) == 2532
  assert len(set(zip(hi.ravel(), fi.ravel()))) == len(set(hi.ravel())) == len(set(fi.ravel()))


@pytest.mark.parametrize("n, fname, count", [(4, "energy_4V9E.tfrecord", 91),
                                             (5, "energy_5V9E.tfrecord", 2532)])
def test_enumeration_of_small_subspaces_is_the_ec_nas_cell_set(ec_nas, n, fname, count):
  r = ne.enumerate_cells(n, quiet=True, check_collisions=False)
  assert len(r["hash"]) == r["stats"]["fingerprint_classes"] == count
  assert r["stats"]["distinct_module_hashes"] == count  # no fingerprint class splits a hash class
  # the EC-NAS files hold every cell on at most 4 (5) vertices with at most 9 edges
  assert set(r["hash"]) == {row[0] for row in ec_nas[fname]}
  assert r["matrix"].dtype == np.uint8 and r["ops"].dtype == np.int8
  assert (r["ops"][:, 0] == nb101.INPUT).all() and (r["ops"][:, -1] == nb101.OUTPUT).all()


def test_enumeration_partition_matches_brute_force_module_hash():
  # every labelled cell on <= 4 vertices: fingerprint classes == classes of the Python MD5 hash
  mats, num_v = ne.padded_matrices(4)
  m, o = ne.labelled_cells(mats, num_v)
  assert len(o) == 97
  fp = ne.fingerprints(m, o)
  h = np.array([nb101.module_hash(a, b) for a, b in zip(m, o)])
  same_fp = (fp[:, None] == fp[None]).all(-1)
  np.testing.assert_array_equal(same_fp, h[:, None] == h[None])


def test_naslib_500_keys(tmp_path):
  if not NASLIB_500.is_file():
    pytest.skip(f"{NASLIB_500} absent (set JAXNAS_SHARED_DATA)")
  keys = list(json.loads(NASLIB_500.read_text())["data"]["cifar10"])
  assert len(keys) == 500
  tuples = [tuple(int(v) for v in k.strip("()").split(",")) for k in keys]
  archs = [nb101.from_naslib(t) for t in tuples]
  assert all(nb101.to_naslib(a) == t for a, t in zip(archs, tuples))
  hashes = np.array([nb101.arch_module_hash(a) for a in archs])
  assert len(set(hashes)) == 292  # raw 7x7 samples: 292 isomorphism classes
  m = np.stack([np.asarray(a.matrix) for a in archs])
  o = np.stack([np.asarray(a.ops) for a in archs])
  fp = ne.fingerprints(m, o)
  _, fi = np.unique(fp, axis=0, return_inverse=True)
  _, hi = np.unique(hashes, return_inverse=True)
  assert len(set(zip(hi.ravel(), fi.ravel()))) == 292 == len(set(fi.ravel()))
  # the padded (pruned) form has the same hash; the string form round-trips
  a = archs[1]
  spec = nb101.to_spec(a)
  assert nb101.module_hash(*spec) == hashes[1] == nb101.arch_module_hash(nb101.from_spec(*spec))
  assert nb101.to_string(nb101.from_string(nb101.to_string(a))) == nb101.to_string(a)


def test_spec_examples_and_errors():
  m, ops = INCEPTION
  assert nb101.module_hash(m, ops) == "28cfc7874f6d200472e1a9dcd8650aa0"
  perm = [0, 2, 1, 3, 4, 5, 6]  # the same cell with vertices 1 and 2 swapped
  m2 = np.asarray(m)[np.ix_(perm, perm)]
  assert nb101.module_hash(m2, [ops[i] for i in perm]) == "28cfc7874f6d200472e1a9dcd8650aa0"
  # a dead vertex is pruned away; padding moves the output to slot 6
  a = nb101.from_spec([[0, 1, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
                      ["input", "maxpool3x3", "conv1x1-bn-relu", "output"])
  np.testing.assert_array_equal(np.asarray(a.ops), [0, 3, 1, 1, 1, 1, 4])
  assert np.asarray(a.matrix)[[0, 0, 1], [1, 6, 6]].tolist() == [1, 1, 1] and int(a.matrix.sum()) == 3
  with pytest.raises(ValueError, match="input does not reach the output"):
    nb101.from_spec([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
  dense = np.triu(np.ones((7, 7), np.int32), 1)
  with pytest.raises(ValueError, match="21 edges after pruning, at most 9"):
    nb101.from_spec(dense, ["input"] + ["conv3x3-bn-relu"] * 5 + ["output"])
  with pytest.raises(ValueError, match="unknown nasbench101 op 'conv5x5'"):
    nb101.module_hash(m, ops[:1] + ["conv5x5"] + ops[2:])
  with pytest.raises(ValueError, match="56 ints"):
    nb101.from_naslib((0,) * 55)
  with pytest.raises(ValueError, match="not a nasbench101 architecture string"):
    nb101.from_string("|nor_conv_3x3~0|+|none~0|none~1|")
  with pytest.raises(ValueError, match="not an architecture of search space nasbench101"):
    nb101.is_valid(jnp.zeros((7,), jnp.int32))


def _valid(arch) -> bool:
  try:
    nb101.check(arch)
    return True
  except ValueError:
    return False


def _naslib_nbhd(m: np.ndarray, ops: np.ndarray) -> set:
  """NASLib's ``get_nbhd`` for NB101, in plain Python (valid neighbours as (matrix, ops) keys)."""
  def paths(mat):
    out = []

    def walk(v, path):
      if v == 6:
        out.append(path)
      for w in range(v + 1, 7):
        if mat[v, w]:
          walk(w, path + [w])
    walk(0, [0])
    return out

  def on_path_vertex(mat, v):
    return any(v in p for p in paths(mat))

  def on_path_edge(mat, s, d):
    return any(any(p[i] == s and p[i + 1] == d for i in range(len(p) - 1)) for p in paths(mat))

  def valid(mat, o):
    return _valid(nb101.Arch(matrix=mat, ops=o))

  out = set()
  for v in range(1, 6):
    if on_path_vertex(m, v):
      for op in (1, 2, 3):
        if op != ops[v]:
          o = ops.copy()
          o[v] = op
          if valid(m, o):
            out.add((m.tobytes(), o.tobytes()))
  for s in range(6):
    for d in range(s + 1, 7):
      new = m.copy()
      new[s, d] = 1 - new[s, d]
      ok = on_path_edge(m, s, d) if m[s, d] else on_path_edge(new, s, d)
      if ok and valid(new, ops):
        out.add((new.tobytes(), ops.tobytes()))
  return out


def test_neighbourhood_is_naslibs():
  # valid raw specs (some with dead vertices) from fixed raw-spec ids, on the host
  gen = np.random.default_rng(0)
  m = np.triu(gen.integers(0, 2, (400, 7, 7)), 1).astype(np.int32)
  o = np.concatenate([np.zeros((400, 1)), gen.integers(1, 4, (400, 5)), np.full((400, 1), 4)],
                     1).astype(np.int32)
  ok = np.array([i for i in range(400) if _valid(nb101.Arch(matrix=m[i], ops=o[i]))][:6])
  a = nb101.Arch(matrix=jnp.asarray(m[ok]), ops=jnp.asarray(o[ok]))
  nbrs, mask = jax.jit(nb101.neighbours_masked)(a)
  for b in range(6):
    m0 = np.asarray(a.matrix[b], np.int32)
    o0 = np.asarray(a.ops[b], np.int32)
    got = {(np.asarray(nbrs.matrix[b, k], np.int32).tobytes(), np.asarray(nbrs.ops[b, k], np.int32).tobytes())
           for k in np.flatnonzero(np.asarray(mask[b]))}
    assert got == _naslib_nbhd(m0, o0)
    assert int(np.asarray(mask[b]).sum()) == len(got)  # no duplicates among the masked ones


def test_enumerate_cli_writes_a_loadable_file(tmp_path, capsys):
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel
  out = tmp_path / "cells.npz"
  assert main(["enumerate", "nasbench101", "--max-vertices", "4", "--out", str(out)]) == 0
  assert "91 unique cells" in capsys.readouterr().out
  archs, hashes = nb101.load_enumeration(out)
  assert archs.matrix.shape == (91, 7, 7) and len(hashes) == 91
  nb101.check(archs)  # all valid (host-side check: raises otherwise)
  assert list(hashes) == nb101.arch_module_hash(archs)
  with pytest.raises(FileNotFoundError, match="enumerate nasbench101 --out"):
    nb101.load_enumeration(tmp_path / "missing.npz")
  (tmp_path / "bad.npz").write_bytes(b"not a zip")
  with pytest.raises(ValueError, match="bad.npz is not a NAS-Bench-101 enumeration"):
    nb101.load_enumeration(tmp_path / "bad.npz")


def test_mutation_rates_are_naslibs():
  # NASLib's NB101 mutate: each interior op changes with p = 1/len(OPS) = 1/3 (to one of the two
  # others); validity depends on the matrix only, so the op changes are exact Bernoulli(1/3)
  # draws even after the redraws (10,000 trials: std 0.005)
  parent = nb101.from_naslib(tuple(int(v) for v in (
      "0 1 1 0 0 1 0 0 0 0 1 1 1 1 0 0 0 0 0 0 1 0 0 0 0 0 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0 0 0 0 0 0 0 "
      "0 0 0 4 2 3 3 2 1").split()))
  n = 2000
  batch = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + x.shape), parent)
  child = jax.jit(jax.vmap(nb101.mutate))(jax.random.split(jax.random.key(0), n), batch)
  nb101.check(child)
  op_rate = float((np.asarray(child.ops) != np.asarray(parent.ops)).mean() * 7 / 5)
  assert abs(op_rate - 1 / 3) < 0.02, op_rate
  flips = (np.asarray(child.matrix) != np.asarray(parent.matrix)).sum((1, 2))
  assert 1.5 < flips.mean() < 4.0  # 21/7 = 3 expected before the validity redraws


def test_tpe_sees_three_equal_ops():
  """The categorical view has 21 edge bits and one 3-way variable per op (it had 2 bits per op
  with code 3 read as maxpool, so BOHB's TPE drew maxpool for half its model-free draws). After
  one result for an all-conv3x3 chain, the model's proposals draw conv1x1 and maxpool equally
  often: measured 0.447 / 0.276 / 0.277 for conv3x3 / conv1x1 / maxpool (the 2-bit view gave
  0.409 / 0.255 / 0.336: maxpool 1/3 and conv1x1 2/9 of the model's draws)."""
  from jaxnas import optimizers  # pylint: disable=import-outside-toplevel

  assert nb101.CATEGORICAL == (2,) * 21 + (3,) * 5
  codes = nb101.to_categorical(nb101.Arch(matrix=jnp.zeros((3, 7, 7), jnp.int32),
                                          ops=jnp.array([[0, o, o, o, o, o, 4] for o in (1, 2, 3)])))
  np.testing.assert_array_equal(np.asarray(codes)[:, 21:], np.arange(3)[:, None] * np.ones(5))
  space = nb101.SPACE
  opt = optimizers.make("bohb", space, fidelities=(4,), random_fraction=0.0,
                        min_points_in_model=1, num_samples=1, history_size=4)
  chain = np.eye(7, k=1, dtype=np.int32)  # few edges: most model proposals are valid cells
  cell = nb101.Arch(matrix=jnp.asarray(chain), ops=jnp.array([0, 1, 1, 1, 1, 1, 4]))
  state, _ = opt.tell(None, opt.init(jax.random.key(0)), jax.tree.map(lambda x: x[None], cell),
                      jnp.ones(1))
  n = 3000
  archs, _ = jax.jit(jax.vmap(opt.ask, (0, None)))(jax.random.split(jax.random.key(1), n), state)
  ops = np.asarray(archs.ops)[:, 0, 1:6]
  f = [(ops == o).mean() for o in (1, 2, 3)]
  assert abs(f[2] - f[1]) < 0.03 and f[0] > f[1] + 0.05, f  # conv3x3 (the good cell's) favoured


def test_bitmask_pruning_and_fingerprint_match_the_matrix_forms():
  # the fingerprint's bit-packed pruning (successor masks, one forward and one reverse pass) keeps
  # exactly prune()'s vertices, also with entries below the diagonal (ignored) and values > 1
  rng = np.random.default_rng(0)
  m = rng.integers(0, 3, (512, 7, 7)) * (rng.random((512, 7, 7)) < 0.45)

  @jax.jit
  def both(m):
    keep = nb101._keep_mask(nb101._succ_masks(nb101._edge_code(m)))  # pylint: disable=protected-access
    return keep, nb101.prune(nb101.Arch(matrix=m, ops=jnp.zeros(m.shape[:-1], jnp.int32)))[1]

  keep, want = jax.tree.map(np.asarray, both(jnp.asarray(m, jnp.int32)))
  got = (keep[:, None] >> np.arange(7)) & 1
  np.testing.assert_array_equal(got.astype(bool), want)
  assert 0 < want[:, 0].sum() < 512  # both connected and unconnected specs were drawn
  # a raw spec (dead vertices, lower junk ignored) and its padded pruned form: one fingerprint
  raw = jax.jit(jax.vmap(nb101.sample))(jax.random.split(jax.random.key(3), 64))
  raw = jax.tree.map(np.asarray, raw)
  padded = [nb101.pad(*nb101.to_spec(raw[i])) for i in range(64)]
  padded = nb101.Arch(matrix=jnp.stack([p.matrix for p in padded]),
                      ops=jnp.stack([p.ops for p in padded]))
  junk = raw.matrix + np.tril(np.ones((7, 7), raw.matrix.dtype), -1)  # below the diagonal
  fp = ne.fingerprints(np.concatenate([raw.matrix, np.asarray(padded.matrix), junk]),
                       np.concatenate([raw.ops, np.asarray(padded.ops), raw.ops]))  # one compile
  np.testing.assert_array_equal(fp[:64], fp[64:128])
  np.testing.assert_array_equal(fp[:64], fp[128:])


def test_fingerprint_compiler_options_change_no_value():
  # nb101.compiler_options() (512-bit vectors on CPU) only changes how XLA vectorises the
  # fingerprint's loop: the same words as a plain jit on raw specs of every kind (valid, with dead
  # vertices, disconnected, too many edges, entries below the diagonal and > 1, odd op labels)
  rng = np.random.default_rng(5)
  n = 1024
  m = rng.integers(0, 2, (n, 7, 7)) * (rng.random((n, 7, 7)) < 0.5)
  m[: n // 2] = np.triu(m[: n // 2], 1)
  m[-64:] *= 2
  ops = rng.integers(0, 5, (n, 7))
  ops[: n // 2, 0], ops[: n // 2, -1] = nb101.INPUT, nb101.OUTPUT
  arch = nb101.Arch(matrix=jnp.asarray(m, jnp.int32), ops=jnp.asarray(ops, jnp.int32))
  want = np.asarray(jax.jit(nb101.fingerprint)(arch))
  got = np.asarray(jax.jit(nb101.fingerprint, compiler_options=nb101.compiler_options())(arch))
  np.testing.assert_array_equal(got, want)
  assert len(np.unique(want, axis=0)) > 100  # distinct cells, not one constant
  assert nb101.compiler_options("cpu") == {"xla_cpu_prefer_vector_width": 512}
  assert nb101.compiler_options("gpu") == {}
