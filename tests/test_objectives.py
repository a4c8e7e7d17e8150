"""jaxnas.objectives: parsing, checks against a table, the constrained-fitness transform."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import objectives as obj


@pytest.fixture(scope="module")
def bench():
  return bm.load("nasbench201")


def test_parse():
  assert obj.parse_constraint("lat_ms_median <= 5") == obj.Constraint("lat_ms_median", "<=", 5.0)
  assert obj.parse_constraint(" pi5/litert/cifar100/energy_mj>1e-2") == obj.Constraint(
      "pi5/litert/cifar100/energy_mj", ">", 0.01)
  assert obj.parse_constraints("a < 1; b >= -2.5") == (obj.Constraint("a", "<", 1.0),
                                                       obj.Constraint("b", ">=", -2.5))
  assert obj.parse_constraints(None) == ()
  assert str(obj.parse_constraint("latency<0.5")) == "latency < 0.5"
  for bad in ("latency", "latency == 3", "<= 3", "latency <= fast"):
    with pytest.raises(ValueError, match="METRIC OP NUMBER") as e:
      obj.parse_constraint(bad)
    assert "\n" not in str(e.value)


def test_make_objective_checks(bench):
  o = obj.make_objective(bench, ["val_accuracy", "latency"], ["params <= 0.5"], dataset="cifar10")
  assert o.metrics == ("val_accuracy", "latency")
  assert o.higher_is_better == (True, False)  # the table's declarations
  assert o.all_metrics() == ("val_accuracy", "latency", "params")
  assert obj.make_objective(bench, [("latency", True)]).higher_is_better == (True,)
  assert obj.make_objective(bench, {"params": None}).signs == (-1.0,)
  with pytest.raises(ValueError, match="unknown metric 'lat_ms_median'; valid: .*latency"):
    obj.make_objective(bench, "lat_ms_median")
  with pytest.raises(ValueError, match=r"constraint 'energy_mj <= 5' is on metric 'energy_mj', "
                     r"which benchmark nasbench201 lacks; it has: .*latency"):
    obj.make_objective(bench, "val_accuracy", "energy_mj <= 5")
  with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
    obj.make_objective(bench, "val_accuracy", dataset="mnist")


def test_constrained_fitness_orders_feasibility_first():
  cons = (obj.Constraint("lat", "<=", 2.0), obj.Constraint("size", ">", 1.0))
  acc = np.array([90.0, 95.0, 99.0, 98.0, 50.0, np.nan])
  lat = np.array([1.0, 2.0, 3.0, 5.0, 1.0, 1.0])
  size = np.array([2.0, 2.0, 2.0, 2.0, 0.0, 2.0])
  f = obj.constrained_fitness(acc, {"lat": lat, "size": size}, cons, higher_is_better=True,
                              worst=0.0, scales=(4.0, 2.0))
  np.testing.assert_allclose(f[:5], [90.0, 95.0, -0.25, -0.75, -0.5])
  assert np.isnan(f[5])  # no result stays no result
  # jax gives the same numbers, under jit
  fj = jax.jit(lambda a, l, s: obj.constrained_fitness(
      a, {"lat": l, "size": s}, cons, higher_is_better=True, worst=0.0, scales=(4.0, 2.0)))(
          jnp.asarray(acc), jnp.asarray(lat), jnp.asarray(size))
  np.testing.assert_allclose(np.asarray(fj), f, rtol=1e-6)
  # a metric to minimise: infeasible ones above every feasible one, less violation = lower
  g = obj.constrained_fitness(lat, {"size": size}, cons[1:], higher_is_better=False, worst=10.0)
  np.testing.assert_allclose(g[:5], [1.0, 2.0, 3.0, 5.0, 11.0])
  assert obj.constrained_fitness(acc, {}, (), higher_is_better=True, worst=0.0) is acc


def test_constrain_benchmark_every_feasible_beats_every_infeasible(bench):
  cons = obj.parse_constraints("latency <= 0.0158")
  cb = obj.constrain_benchmark(bench, "val_accuracy", cons)
  d = bench.dataset_index("cifar100")
  ok = obj.feasible_mask(bench, cons, "cifar100")
  assert 0.4 < ok.mean() < 0.6
  raw = np.asarray(bench.seed_means["val_accuracy"][d])
  new = np.asarray(cb.seed_means["val_accuracy"][d])
  np.testing.assert_array_equal(new[ok], raw[ok])  # feasible: the metric itself
  assert np.nanmin(new[ok]) > np.nanmax(new[~ok])
  lat = np.asarray(bench.tables["latency"][d])[~ok]
  order = np.argsort(lat, kind="stable")
  assert np.all(np.diff(new[~ok][order]) <= 0)  # more latency over the bound: lower fitness
  per_seed = np.asarray(cb.tables["val_accuracy"][d])
  assert np.nanmax(per_seed[~ok]) < np.nanmin(per_seed[ok])
  # the table's best feasible value is what a search on the transformed table would find
  v, i, frac = obj.best_feasible(bench, "val_accuracy", cons, "cifar100")
  assert ok[i] and v == pytest.approx(float(np.nanmax(raw[ok]))) and frac == ok.mean()
  np.testing.assert_array_equal(np.asarray(cb.tables["latency"]),
                                np.asarray(bench.tables["latency"]))  # other metrics unchanged
  assert obj.constrain_benchmark(bench, "val_accuracy", ()) is bench


def test_vector_and_lookup(bench):
  from jaxnas import spaces
  space = spaces.get_space("nasbench201")
  o = obj.make_objective(bench, ["val_accuracy", "latency"], ["params <= 0.5"])
  ids = jnp.arange(4)
  vals = obj.lookup(bench, space, ids, o, "cifar10")
  assert set(vals) == {"val_accuracy", "latency", "params"}
  v = obj.vector(vals, o)
  assert v.shape == (4, 2)
  np.testing.assert_allclose(np.asarray(v[:, 1]), -np.asarray(vals["latency"]))
  assert o.to_json() == {"objectives": [{"metric": "val_accuracy", "higher_is_better": True},
                                        {"metric": "latency", "higher_is_better": False}],
                         "constraints": ["params <= 0.5"]}
