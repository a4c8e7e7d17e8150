"""Multi-fidelity optimizers and budget semantics: bracket schedules, promotions, simulated
training-time budgets, results.json / plot outputs, and bad fidelities."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.drivers import blackbox as experiments
import importlib

SPACE = spaces.get_space("nasbench201")
hb_lib = importlib.import_module("jaxnas.optimizers.blackbox.hyperband")  # the package exports the function
OBJ = loops.Objective(dataset="cifar10")


@pytest.fixture(scope="module")
def bench():
  """The embedded table plus a stand-in 12-epoch fidelity (the real one needs the hp12 CSV)."""
  b = bm.load()
  tables = dict(b.tables)
  tables["val_accuracy@12"] = jnp.nanmean(b.tables["val_accuracy"], -1) - 5.0
  return b.replace(tables=tables)


def test_bracket_schedules():
  # Hyperband, 2 rungs, eta 3: 3 cells at rung 0, the best promoted; then 2 cells at rung 1
  s = hb_lib.bracket_schedule(2, 3, [1, 0])
  np.testing.assert_array_equal(s[:, 0], [0, 0, 0, 1, 1, 1])  # rung
  np.testing.assert_array_equal(s[:, 1], [1, 1, 1, 0, 1, 1])  # new cell
  np.testing.assert_array_equal(s[:, 3], [1, 0, 0, 0, 1, 0])  # bracket start
  # successive halving with 9 cells, eta 3, 3 rungs: 9 -> 3 -> 1
  s = hb_lib.bracket_schedule(3, 3, [2], num_archs=9)
  assert np.bincount(s[:, 0]).tolist() == [9, 3, 1]


def test_successive_halving_promotes_the_best(bench):
  opt = optimizers.make("sh", SPACE, eta=3, num_archs=6)  # 6 at 12 epochs, best 2 at 200
  out = loops.search(jax.random.key(0), bench, optimizer=opt, space=SPACE, objective=OBJ,
                     num_queries=16)
  ep = np.asarray(out.epoch)[:, 0]
  ids = np.asarray(out.arch_id)[:, 0]
  f = np.asarray(out.fitness)[:, 0]
  np.testing.assert_array_equal(ep[:8], [12] * 6 + [200] * 2)
  top2 = ids[:6][np.argsort(-f[:6])[:2]]
  assert ids[6:8].tolist() == top2.tolist()
  # only 200-epoch results count as best-so-far; 12-epoch queries cost 12/200 of the time
  assert np.all(np.isneginf(np.asarray(out.best_fitness)[:6]))
  tt = np.asarray(bm.query(bench, ids, "train_time", "cifar10"))
  np.testing.assert_allclose(np.asarray(out.train_time), tt * ep / 200, rtol=1e-6)


def test_time_budget_semantics(bench):
  opt = optimizers.make("rs", SPACE)
  budget = 20000.0
  r = loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ, num_queries=40, num_seeds=6,
                time_budget=budget)
  o = r.outputs
  tt = np.asarray(bm.query(bench, o.arch_id[..., 0], "train_time", "cifar10"))
  for s in range(6):
    c = o.counted[s]
    n = int(c.sum())
    assert c[:n].all() and not c[n:].any()  # counted steps are a prefix
    assert o.train_time[s].sum() <= budget
    assert tt[s, :n].sum() + tt[s, n] > budget  # the first uncounted query would overrun
    np.testing.assert_array_equal(o.best_fitness[s, n:], o.best_fitness[s, n - 1])
  # without a budget the same seeds ask the same archs and the best keeps improving
  free = loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ, num_queries=40, num_seeds=6)
  np.testing.assert_array_equal(free.outputs.arch_id, o.arch_id)
  assert (free.outputs.best_fitness[:, -1] >= o.best_fitness[:, -1]).all()


def test_results_json_records_queries_and_time(bench, tmp_path, monkeypatch):
  monkeypatch.setattr(bm, "load", lambda *a, **k: bench)
  c = experiments.blackbox_config("hb", eta=3)
  c.num_seeds, c.num_queries, c.time_budget, c.plot_x = 3, 40, 15000.0, "train_time"
  res = experiments.run_blackbox(c, tmp_path, quiet=True)
  s = json.loads((tmp_path / "results.json").read_text())["seeds"][0]
  assert len(s["queries"]) == len(s["train_time"]) == len(s["trajectory"]) == 40
  assert s["train_time"][-1] <= 15000.0 and s["queries"][-1] < 40
  assert res["summary"]["mean_queries"] < 40 and res["time_budget"] == 15000.0
  assert (tmp_path / "trajectory.png").stat().st_size > 1000


def test_bad_fidelities_and_budgets(bench):
  plain = bm.load()  # no 12-epoch table
  opt = optimizers.make("hb", SPACE)
  with pytest.raises(ValueError, match="queries 'val_accuracy' at epoch 12, which benchmark"):
    loops.run(plain, optimizer=opt, space=SPACE, objective=OBJ, num_queries=10)
  odd = optimizers.make("sh", SPACE, fidelities=(12, 50, 200))
  with pytest.raises(ValueError, match="at epoch 50, which benchmark nasbench201 does not have"):
    loops.run(bench, optimizer=odd, space=SPACE, objective=OBJ, num_queries=10)
  with pytest.raises(ValueError, match="strictly increasing"):
    optimizers.make("bohb", SPACE, fidelities=(200, 12))
  with pytest.raises(ValueError, match="top fidelity 200 epochs but the objective is at epoch 12"):
    loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ._replace(epoch=12),
              num_queries=10)
  with pytest.raises(ValueError, match="time_budget must be > 0"):
    loops.run(bench, optimizer=optimizers.make("rs", SPACE), space=SPACE, objective=OBJ,
              num_queries=10, time_budget=-5)
  c = experiments.blackbox_config("rs")
  c.plot_x = "epochs"
  with pytest.raises(ValueError, match="unknown plot_x 'epochs'"):
    experiments.blackbox_setup(c)
