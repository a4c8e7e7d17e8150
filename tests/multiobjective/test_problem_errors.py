"""Bad multi-objective input fails on the host with one line, before anything compiles."""

import ml_collections
import pytest

from jaxnas.drivers import multiobjective as drv
from jaxnas.optimizers.multiobjective import loop


def _one_line(excinfo):
  assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("metrics, combo, constraints, ref, match", [
    (["accuracy", "flops"], "pi5/litert/cifar100", (), None, "unknown metric 'flops'"),
    (["accuracy", "lat_ms_median"], "jetson/litert/cifar100", (), None,
     "unknown combination 'jetson/litert/cifar100'"),
    (["accuracy", "lat_ms_median"], "pi5/litert/cifar100", ("params <= 1",), None,
     "constraint 'params <= 1' is on metric 'params'"),
    (["accuracy", "lat_ms_median"], "pixel/litert/cifar100", ("energy_mj <= 5",), None,
     "no 'energy_mj' values"),
    (["accuracy", "lat_ms_median", "energy_mj"], "pixel/litert/ninapro", (), None,
     "no 'energy_mj' values"),
    (["accuracy", "lat_ms_median"], "pi5/litert/cifar100", (), [50.0, 100.0],
     "not dominated by the true front"),
    (["accuracy", "lat_ms_median"], "pi5/litert/cifar100", (), [0.0], "must have 2 values"),
    (["accuracy"], "pi5/litert/cifar100", (), None, "needs 2 or 3 objectives"),
])
def test_prepare_rejects_bad_input(synthetic_hw, metrics, combo, constraints, ref, match):
  with pytest.raises(ValueError, match=match) as e:
    loop.prepare(synthetic_hw, metrics, combo, constraints, ref)
  _one_line(e)


def test_prepare_default_reference_and_true_front(synthetic_hw):
  problem, rows, front = loop.prepare(synthetic_hw, ["accuracy", "lat_ms_median"],
                                      "pi5/onnx/cifar100", ("lat_ms_median <= 10",))
  acc = synthetic_hw.tables["accuracy"][3]
  lat = synthetic_hw.tables["lat_ms_median"][3]
  # nadir of the whole table (feasible or not) pushed out by 1% of each range, in maximised form
  assert problem.ref[0] == pytest.approx(float(acc.min() - 0.01 * (acc.max() - acc.min())), rel=1e-5)
  assert problem.ref[1] == pytest.approx(float(-lat.max() - 0.01 * (lat.max() - lat.min())), rel=1e-5)
  assert (lat[rows] <= 10).all() and problem.true_front_size == len(rows) > 1
  assert problem.true_hv > 0


def test_driver_config_errors_before_compile(synthetic_hw):
  cfg = drv.mo_config("nsga2")
  assert set(cfg.optimizer) == {"name", "population_size", "sample_size", "archive_size"}
  for key, value, match in [("combination", "pi5/litert", "unknown HW-NAS-Bench-360 combination"),
                            ("optimizer.name", "moead", "unknown multi-objective optimizer 'moead'"),
                            ("reference_point", (99.0, 0.0), "not dominated by the true front")]:
    c = drv.mo_config("nsga2")
    with c.ignore_type():
      node, leaf = (c.optimizer, "name") if key == "optimizer.name" else (c, key)
      node[leaf] = value
    with pytest.raises(ValueError, match=match) as e:
      drv.setup(c, bench=synthetic_hw)
    _one_line(e)
  c = drv.mo_config("parego")
  c.num_queries = 25
  with pytest.raises(ValueError, match="multiple of 10"):
    drv.setup(c, bench=synthetic_hw)
  c = drv.mo_config("rs")
  c.optimizer = ml_collections.ConfigDict({"name": "rs", "population_size": 3})
  with pytest.raises(ValueError, match="no hyperparameter 'population_size'"):
    drv.setup(c, bench=synthetic_hw)
