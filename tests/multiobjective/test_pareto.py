"""Pareto tools against brute force on small random sets (no data needed)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import pareto


def _brute_front(p):
  n = len(p)
  return np.array([not any(np.all(p[j] >= p[i]) and np.any(p[j] > p[i]) for j in range(n))
                   for i in range(n)])


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_matches_inclusion_exclusion(m):
  rng = np.random.default_rng(m)
  hv = jax.jit(pareto.hypervolume)
  for trial in range(4):
    n = int(rng.integers(1, 9))
    # integer grid: ties and duplicates on purpose; some points beyond the reference
    p = rng.integers(0, 5, (n, m)).astype(np.float32)
    ref = np.full(m, 0.5, np.float32)
    valid = rng.random(n) > 0.2
    want = pareto.hypervolume_brute_force(p[valid], ref) if valid.any() else 0.0
    got = float(hv(jnp.asarray(p), jnp.asarray(ref), jnp.asarray(valid)))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6), (trial, p, valid)
    assert pareto.hypervolume_host(p[valid], ref) == pytest.approx(want, rel=1e-12, abs=1e-12)
  p = rng.random((7, m)).astype(np.float32)
  assert float(hv(p, np.zeros(m, np.float32), None)) == pytest.approx(
      pareto.hypervolume_brute_force(p, np.zeros(m)), rel=1e-5)
  with pytest.raises(ValueError, match="2 and 3 objectives"):
    pareto.hypervolume(np.zeros((3, 4)), np.zeros(4))


@pytest.mark.extended
def test_ranks_crowding_and_front_against_brute_force():
  rng = np.random.default_rng(0)
  p = rng.integers(0, 6, (24, 2)).astype(np.float32)
  valid = np.ones(24, bool)
  valid[3] = False
  ranks = np.asarray(jax.jit(pareto.nondominated_ranks)(p, valid))
  assert ranks[3] == 24
  left = valid.copy()
  r = 0
  while left.any():  # peel fronts by brute force
    idx = np.flatnonzero(left)
    nd = idx[_brute_front(p[idx])]
    assert (ranks[nd] == r).all() and (ranks[idx[~np.isin(idx, nd)]] > r).all()
    left[nd] = False
    r += 1
  nd = np.asarray(pareto.non_dominated(p, valid))
  assert (nd == (ranks == 0)).all()
  crowd = np.asarray(pareto.crowding_distance(jnp.asarray(p), jnp.asarray(ranks)))
  assert crowd[3] == 0 and np.isinf(crowd[ranks == 0]).sum() >= 2
  f = pareto.pareto_front(p[valid])
  brute = _brute_front(p[valid])
  assert set(map(tuple, p[valid][f])) == set(map(tuple, p[valid][brute]))
  assert len(f) == len(set(map(tuple, p[valid][brute])))  # one row per distinct vector


@pytest.mark.extended
def test_archive_keeps_the_non_dominated_set_and_its_hypervolume():
  rng = np.random.default_rng(1)
  p = rng.integers(0, 8, (40, 3)).astype(np.float32)
  ids = np.arange(40, dtype=np.int32)
  a = pareto.archive_init(jnp.zeros((6,), jnp.int32), 32, 3)
  a = jax.jit(pareto.archive_insert_many)(a, jnp.zeros((40, 6), jnp.int32), ids, p,
                                          np.ones(40, bool))
  got = set(map(tuple, np.asarray(a.values)[np.asarray(a.valid)]))
  assert got == set(map(tuple, p[pareto.pareto_front(p)])) and int(a.overflow) == 0
  ref = np.full(3, -1.0, np.float32)
  assert float(pareto.archive_hypervolume(a, ref)) == pytest.approx(
      float(pareto.hypervolume(p, ref)), rel=1e-6)
  # the 2-D archive hypervolume (sort-free, for mutually non-dominated members) equals the generic
  a2 = pareto.archive_insert_many(pareto.archive_init(jnp.zeros((6,), jnp.int32), 32, 2),
                                  jnp.zeros((40, 6), jnp.int32), ids, p[:, :2], np.ones(40, bool))
  assert float(pareto.archive_hypervolume(a2, ref[:2])) == pytest.approx(
      pareto.hypervolume_host(p[:, :2], ref[:2]), rel=1e-6)
  # a full archive stays full of non-dominated points
  small = pareto.archive_insert_many(pareto.archive_init(jnp.zeros((6,), jnp.int32), 3, 3),
                                     jnp.zeros((40, 6), jnp.int32), ids, p, np.ones(40, bool))
  v = np.asarray(small.values)
  assert np.asarray(small.valid).all() and _brute_front(v).all()


def test_igd_reference_point_and_its_errors():
  front = np.array([[0.0, 1.0], [1.0, 0.0]])
  assert float(pareto.igd(front, front)) == 0.0
  assert float(pareto.igd(front, np.array([[0.0, 0.0]]))) == pytest.approx(1.0)
  assert np.isinf(float(pareto.igd(front, front, np.zeros(2, bool))))
  table = np.array([[0.0, -10.0], [2.0, -20.0], [1.0, -15.0]])
  ref = pareto.default_reference(table)
  np.testing.assert_allclose(ref, [-0.02, -20.1])
  assert pareto.to_metric_units(ref, (1.0, -1.0)) == pytest.approx([-0.02, 20.1])
  np.testing.assert_allclose(pareto.from_metric_units([-0.02, 20.1], (1.0, -1.0)), ref)
  pareto.check_reference(ref, table, ("accuracy", "lat_ms_median"))
  with pytest.raises(ValueError, match="not dominated by the true front") as e:
    pareto.check_reference([0.5, -30.0], table, ("accuracy", "lat_ms_median"))
  assert "\n" not in str(e.value)
  with pytest.raises(ValueError, match="must have 2 finite values"):
    pareto.check_reference([0.5], table, ("accuracy", "lat_ms_median"))
