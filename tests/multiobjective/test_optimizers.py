"""The multi-objective optimizers in the scanned loop (extended: each compiles a search)."""

import numpy as np
import pytest

from jaxnas import pareto, spaces
from jaxnas.optimizers import multiobjective as mo
from jaxnas.optimizers.multiobjective import loop

SMALL = {"rs": {}, "nsga2": {"population_size": 8, "sample_size": 3}, "mo_ls": {},
         "parego": {"num_init": 5, "k": 5, "num_candidates": 20, "buffer_size": 40,
                    "num_ensemble": 2}}


@pytest.fixture(scope="module")
def space():
  return spaces.get_space("nasbench201")


@pytest.mark.extended
@pytest.mark.parametrize("name", list(mo.MO_OPTIMIZERS))
def test_search_keeps_an_exact_archive_and_hypervolume(synthetic_hw, space, name):
  constraints = ("lat_ms_median <= 12",) if name in ("nsga2", "parego") else ()
  problem, _, _ = loop.prepare(synthetic_hw, ["accuracy", "lat_ms_median"], "pi5/litert/ninapro",
                               constraints)
  opt = mo.make(name, space, num_objectives=2, archive_size=32, **SMALL[name])
  r = loop.run(synthetic_hw, optimizer=opt, space=space, problem=problem, num_queries=40,
               num_seeds=3)
  again = loop.run(synthetic_hw, optimizer=opt, space=space, problem=problem, num_queries=40,
                   num_seeds=3)
  o = r.outputs
  np.testing.assert_array_equal(o.ids, again.outputs.ids)  # deterministic per key
  assert again.compile_seconds < 1.0  # the compiled program is reused, not retraced
  assert o.ids.shape == (3, 40) and (o.ids >= 0).all() and (o.ids < 15625).all()
  assert (np.diff(o.hv, axis=1) >= -1e-3).all()  # an archive's hypervolume never drops
  k = synthetic_hw.dataset_index("pi5/litert/ninapro")
  acc = np.asarray(synthetic_hw.tables["accuracy"][k])
  lat = np.asarray(synthetic_hw.tables["lat_ms_median"][k])
  for s in range(3):
    np.testing.assert_allclose(o.values[s], np.stack([acc[o.ids[s]], -lat[o.ids[s]]], 1))
    feas = lat[o.ids[s]] <= 12 if constraints else np.ones(40, bool)
    np.testing.assert_array_equal(o.feasible[s], feas)
    # the archive is the non-dominated set of the feasible queries (no overflow at this size)
    pts = o.values[s][feas]
    want = set(map(tuple, pts[pareto.pareto_front(pts)]))
    got = set(map(tuple, o.front_values[s][o.front_valid[s]]))
    assert got == want and o.overflow[s] == 0
    assert o.hv[s, -1] == pytest.approx(pareto.hypervolume_host(pts, problem.ref), rel=1e-4)


@pytest.mark.extended
def test_three_objectives_on_a_real_combination(shared_data, space):
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  if not (shared_data / hw.FILE).is_file():
    pytest.skip(f"{shared_data / hw.FILE} not found")
  bench = hw.load()
  problem, rows, front = loop.prepare(bench, ["accuracy", "lat_ms_median", "energy_mj"],
                                      "pi5/litert/cifar100")
  assert problem.true_front_size == 34
  assert problem.true_hv == pytest.approx(17209.668, rel=1e-6)
  opt = mo.make("nsga2", space, num_objectives=3, population_size=10, sample_size=3)
  r = loop.run(bench, optimizer=opt, space=space, problem=problem, num_queries=60, num_seeds=4)
  assert (r.outputs.hv[:, -1] > 0.5 * problem.true_hv).all()
  assert (r.outputs.hv[:, -1] <= problem.true_hv * (1 + 1e-5)).all()
  assert len(rows) == len(front) == 34
