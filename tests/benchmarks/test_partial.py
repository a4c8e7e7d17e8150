"""Partial (fingerprint-indexed) tables: every 7th NB201 cell as a partial table; present cells give
the dense table's values exactly, absent ones NaN / not contained, never another row; RE through
``loops.run`` on it never reports an absent best and reports the best present cell it found."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.benchmarks import io, partial

SPACE = spaces.get_space("nasbench201")
N = SPACE.num_archs


@pytest.fixture(scope="module")
def dense():
  return bm.load()


@pytest.fixture(scope="module")
def sub(dense, tmp_path_factory):
  arrays = bm.partial_from_dense(dense, SPACE, np.arange(0, N, 7), name="nb201_every7th")
  path = io.save(tmp_path_factory.mktemp("partial") / "sub.npz", arrays)
  return bm.load("nb201_every7th", path)


def test_file_declares_its_index_kind(sub, tmp_path):
  assert sub.partial and sub.index_kind == "fingerprint" and sub.num_rows == len(range(0, N, 7))
  assert sub.index.shape == (sub.num_rows, 1) and sub.space_name == "nasbench201"
  assert sub.dataset_index("cifar10-valid") == 0  # the dense table's aliases travel with it
  bad = bm.partial_from_dense(bm.load(), SPACE, np.arange(0, 20, 7), name="bad")
  bad["fingerprint_index"] = bad["fingerprint_index"][::-1].copy()
  with pytest.raises(ValueError, match="fingerprint_index rows 0 and 1 are unsorted"):
    bm.from_arrays(bad)
  bad["index_kind"] = np.array("hash")
  with pytest.raises(ValueError, match="index_kind 'hash'; valid: id, fingerprint"):
    io.save(tmp_path / "bad.npz", bad)


def test_present_exact_absent_nan(dense, sub):
  archs = SPACE.all_archs()
  ids = np.arange(N)
  present = ids % 7 == 0
  got = bm.query(sub, archs, ("val_accuracy", "train_time"), "cifar100")
  want = bm.query(dense, archs, ("val_accuracy", "train_time"), "cifar100")
  for m in got:
    g, w = np.asarray(got[m]), np.asarray(want[m])
    np.testing.assert_array_equal(g[present], w[present])
    assert np.isnan(g[~present]).all()
  np.testing.assert_array_equal(np.asarray(bm.contains(sub, SPACE, archs)), present)
  # one training seed, under jit, and by dense id: the same rows
  seed = jnp.arange(N) % 3
  q = jax.jit(lambda b, a, s: bm.lookup(b, SPACE, a, "val_accuracy", "ImageNet16-120", seed=s))
  g, w = np.asarray(q(sub, archs, seed)), np.asarray(q(dense, archs, seed))
  np.testing.assert_array_equal(g[present], w[present])
  assert np.isnan(g[~present]).all()
  np.testing.assert_array_equal(np.asarray(bm.query(sub, ids[:30], "val_accuracy")),
                                np.asarray(bm.query(sub, SPACE.from_id(ids[:30]), "val_accuracy")))


def test_wide_fingerprints_search_lexicographically(dense):
  """A 2-word fingerprint (as NB101's 64-bit hashes will be): signed words, lexicographic order."""
  rng = np.random.default_rng(0)
  index = np.unique(rng.integers(-3, 4, (40, 2)).astype(np.int32), axis=0)  # sorted, unique
  q = rng.integers(-4, 5, (200, 2)).astype(np.int32)
  got = np.asarray(bm.benchmark.searchsorted_rows(jnp.asarray(index), jnp.asarray(q)))
  rows = [tuple(r) for r in index]
  want = [sum(r < tuple(x) for r in rows) for x in q]
  np.testing.assert_array_equal(got, want)
  # a space whose fingerprint is int32[..., 2]: the table answers exactly for its rows
  wide = dataclasses.replace(
      SPACE, fingerprint=lambda a: jnp.stack([SPACE.to_id(a) % 125 - 60, SPACE.to_id(a) // 125], -1))
  ids = np.arange(3, N, 11)
  arrays = partial.partial_arrays(wide, SPACE.from_id(ids), {"val_accuracy": np.asarray(
      dense.seed_means["val_accuracy"])[:, ids]}, name="wide", datasets=dense.datasets,
      metrics=dense.metrics[:1])
  b = bm.from_arrays(arrays)
  assert b.index.shape == (len(ids), 2)
  v = np.asarray(bm.lookup(b, wide, SPACE.all_archs(), "val_accuracy", "cifar10"))
  w = np.asarray(bm.query(dense, np.arange(N), "val_accuracy", "cifar10"))
  hit = np.isin(np.arange(N), ids)
  np.testing.assert_array_equal(v[hit], w[hit])
  assert np.isnan(v[~hit]).all()


def test_re_on_a_partial_table_reports_present_bests(dense, sub):
  opt = optimizers.make("re", SPACE, population_size=10, sample_size=3)
  r = loops.run(sub, optimizer=opt, space=SPACE, objective=loops.Objective(), num_queries=60,
                num_seeds=6)
  o = r.outputs
  fit = o.fitness[..., 0]  # [seeds, steps]
  present = o.arch_id[..., 0] % 7 == 0
  assert present.any() and (~present).any()
  assert np.isnan(fit[~present]).all() and np.isfinite(fit[present]).all()
  # best so far = the best present result so far; -inf until the first present one
  run_best = np.fmax.accumulate(np.where(present, fit, -np.inf), axis=1)
  np.testing.assert_array_equal(o.best_fitness, run_best)
  found = np.isfinite(o.best_fitness)
  assert found[:, -1].all()
  np.testing.assert_array_equal(o.best_id[found] % 7, 0)  # never an absent best
  best_val = np.asarray(bm.lookup(sub, SPACE, o.best_arch, "val_accuracy", "cifar10"))
  np.testing.assert_array_equal(best_val[found], o.best_fitness[found])
  np.testing.assert_array_equal(np.asarray(SPACE.to_id(o.best_arch)), o.best_id)
  # absent queries cost no simulated training time
  tt = np.asarray(bm.query(dense, o.arch_id[..., 0], "train_time", "cifar10"))
  np.testing.assert_allclose(o.train_time, np.where(present, tt, 0.0), rtol=1e-6)


def test_bucket_index_equals_binary_search():
  """The bucket index built at load (``bucket_index``) finds exactly the rows the binary search
  finds, absent fingerprints included (first word present, second not: the same bucket), also
  where several rows share a first word; skewed fingerprints get no bucket index."""
  rng = np.random.default_rng(1)
  words = rng.integers(-2**31, 2**31, (3000, 2), dtype=np.int64).astype(np.int32)
  words[1000:1010, 0] = words[999, 0]  # 11 rows with one first word: a window of >= 11
  words[2000:2003, 0] = np.int32(-2**31)  # the extreme words, both ends of the bucket table
  words[2003:2006, 0] = np.int32(2**31 - 1)
  index = np.unique(words, axis=0)
  index = index[partial.sort_rows(index)]
  starts, window = bm.benchmark.bucket_index(index)
  assert starts.shape == (2**12 + 1,) and window >= 11 and starts[-1] == len(index)
  q = np.concatenate([index, index + np.array([0, 1], np.int32),  # present; first word present
                      rng.integers(-2**31, 2**31, (500, 2), dtype=np.int64).astype(np.int32)])
  base = bm.benchmark.Benchmark(tables={}, num_seeds=jnp.zeros((1, len(index)), jnp.int32),
                                iso_class=jnp.arange(len(index)), index=jnp.asarray(index),
                                index_kind="fingerprint")
  fast = base.replace(index_starts=jnp.asarray(starts), index_window=window)
  find = jax.jit(bm.benchmark.fingerprint_rows)
  (r1, p1), (r2, p2) = find(base, jnp.asarray(q)), find(fast, jnp.asarray(q))
  np.testing.assert_array_equal(p1, p2)
  np.testing.assert_array_equal(r1, r2)
  assert np.asarray(p2)[:len(index)].all() and not np.asarray(p2)[len(index):2 * len(index)].any()
  np.testing.assert_array_equal(np.asarray(r2)[:len(index)], np.arange(len(index)))
  # deterministic; small-integer fingerprints (one bucket) fall back to the binary search
  np.testing.assert_array_equal(bm.benchmark.bucket_index(index)[0], starts)
  assert bm.benchmark.bucket_index(np.arange(100, dtype=np.int32)[:, None]) is None
