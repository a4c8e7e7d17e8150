"""``python -m jaxnas.bench bbo-report --quick``: the report pipeline end to end on the real table.

One test (few compiles): the CLI writes JSON and markdown; a row of the dataset-stacked program is
the search ``loops.run`` makes for that dataset alone (query budget and traced time budget alike);
the numbers are within what the table allows.
"""

import json

import numpy as np
import pytest

from jaxnas import bench, loops, optimizers, spaces
from jaxnas import benchmarks as bm
from jaxnas.bench_suites import bbo_report


@pytest.mark.extended  # CI's second step (README): the report's smoke run
def test_bbo_report_quick(shared_data, tmp_path, monkeypatch):
  monkeypatch.setenv("JAXNAS_SHARED_DATA", str(shared_data))
  out, md = tmp_path / "report.json", tmp_path / "report.md"
  assert bench.main(["bbo-report", "--quick", "--json", str(out), "--markdown", str(md)]) == 0
  report = json.loads(out.read_text())
  text = md.read_text()
  for ds in bbo_report.DATASETS:
    assert f"#### {ds}: best validation accuracy" in text
  assert "| cifar10 | 12,000 | re (pop 10, sample 3) | 16 |" in text

  table = bbo_report.load_table()
  space = spaces.get_space("nasbench201")
  rows = {(r["optimizer"], r["dataset"]): r for r in report["query_table"]}
  assert sorted({k[0] for k in rows}) == ["hb", "rs"] and len(rows) == 6
  for (name, ds), r in rows.items():
    best_val = bm.best(table, "val_accuracy", ds)[0]
    for q in report["checkpoints"]:
      v, t = r[f"val@{q}"], r[f"test@{q}"]
      assert v["n"] == 4 and 0 < v["mean"] <= best_val + 1e-4, (name, ds, q, v)
      assert t["n"] == 4 and np.isfinite(t["mean"]), (name, ds, q, t)
    # best so far never decreases between checkpoints
    means = [r[f"val@{q}"]["mean"] for q in report["checkpoints"]]
    assert means == sorted(means), (name, ds, means)

  # the stacked program's cifar100 row == loops.run on cifar100 alone (same seeds)
  rs = optimizers.make("rs", space)
  alone = loops.run(table, optimizer=rs, space=space, objective=loops.Objective("cifar100"),
                    num_queries=30, num_seeds=4).outputs
  test = np.asarray(bm.query(table, alone.best_id[:, -1], "test_accuracy", "cifar100"), float)
  got = rows[("rs", "cifar100")]
  assert got["val@30"]["mean"] == pytest.approx(float(alone.best_fitness[:, -1].mean()), abs=1e-5)
  assert got["test@30"]["mean"] == pytest.approx(float(test.mean()), abs=1e-5)

  # the time-budget rows (traced budget) == loops.run with that budget; the budget is respected
  budget = {r["dataset"]: r for r in report["time_budget_table"]}
  assert sorted(budget) == sorted(bbo_report.DATASETS)
  for r in budget.values():
    assert r["optimizer"] == "re" and r["time_budget"] == 12000.0 and r["unfinished_seeds"] == 0
    assert r["simulated_seconds"]["mean"] <= 12000.0 and r["queries"]["mean"] > 10
  re = optimizers.make("re", space, population_size=10, sample_size=3)
  alone = loops.run(table, optimizer=re, space=space,
                    objective=loops.Objective("ImageNet16-120", epoch=12), num_queries=150,
                    num_seeds=16, time_budget=12000.0).outputs
  test = np.asarray(bm.query(table, alone.best_id[:, -1], "test_accuracy", "ImageNet16-120"))
  got = budget["ImageNet16-120"]
  assert got["queries"]["mean"] == pytest.approx(float(alone.counted.sum(-1).mean()))
  assert got["test_accuracy"]["mean"] == pytest.approx(float(test.mean()), abs=1e-5)
