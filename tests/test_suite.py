"""``python -m jaxnas.bench suite``, shrunk: 2 tasks x 2 optimizers x 3 seeds x 10 queries through the
CLI; the JSON schema the issue fixes, and the average ranks recomputed from the results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxnas import bench
from jaxnas.bench_suites import suite

TASK_KEYS = {"space", "dataset", "metric", "higher_is_better", "optimum", "num_archs", "results"}
RESULT_KEYS = {"optimizer", "seeds", "queries", "mean_best", "sem", "mean_best_at",
               "seconds_per_seed_run"}


def test_suite_schema_and_ranks(tmp_path):
  out, md = tmp_path / "suite.json", tmp_path / "suite.md"
  assert bench.main(["suite", "--json", str(out), "--markdown", str(md), "--tasks",
                     "nasbench_graph/cora,nasbench_graph/citeseer", "--optimizers", "rs,ls",
                     "--seeds", "3", "--queries", "10", "--repeats", "2"]) == 0
  rep = json.loads(out.read_text())
  assert rep["repeats"] == 2
  assert [(t["space"], t["dataset"]) for t in rep["tasks"]] == [("nasbench_graph", "cora"),
                                                                ("nasbench_graph", "citeseer")]
  for t in rep["tasks"]:
    assert TASK_KEYS <= set(t) and t["num_archs"] == 26_206 and t["higher_is_better"] is True
    assert [r["optimizer"] for r in t["results"]] == ["rs", "ls"]
    for r in t["results"]:
      assert RESULT_KEYS <= set(r) and r["seeds"] == 3 and r["queries"] == 10
      assert set(r["mean_best_at"]) == {"10"} and r["mean_best_at"]["10"] == pytest.approx(r["mean_best"])
      assert t["optimum"] >= r["mean_best"] > 0 and r["sem"] >= 0 and r["seconds_per_seed_run"] > 0
      assert r["cpu_seconds_per_seed_run"] > 0
  assert rep["tasks"][0]["optimum"] == pytest.approx(0.81933, abs=1e-5)  # Cora's best validation
  # ranks recomputed by hand: per task, 1 for the larger mean best, ties share 1.5
  want = {"rs": [], "ls": []}
  for t in rep["tasks"]:
    a, b = (r["mean_best"] for r in t["results"])
    ra = 1.0 if a > b else 2.0 if a < b else 1.5
    want["rs"].append(ra)
    want["ls"].append(3.0 - ra)
  assert rep["average_rank"] == {k: pytest.approx(np.mean(v)) for k, v in want.items()}
  text = md.read_text()
  assert "nasbench_graph/cora" in text and "python -m jaxnas.bench suite" in text
  assert "load average" in text


def test_rank_ties_and_errors():
  np.testing.assert_array_equal(suite._rank(np.array([3.0, 1.0, 3.0, np.nan]), True), [1.5, 3, 1.5, 4])
  np.testing.assert_array_equal(suite._rank(np.array([3.0, 1.0, 2.0]), False), [3, 1, 2])
  with pytest.raises(ValueError, match="unknown task 'nb999/x'; tasks are SPACE/DATASET"):
    suite.discover(tasks=["nb999/x"])


def test_merge_joins_results_and_recomputes_ranks():
  def rep(opt, vals, cmd):
    return {"tasks": [{"space": "s", "dataset": d, "higher_is_better": True, "optimum": 1.0,
                       "worst": 0.0, "metric": "m", "results": [
                           {"optimizer": opt, "mean_best": v, "seeds": 3, "queries": 10}]}
                      for d, v in zip("ab", vals)],
            "optimizers": [opt], "command": cmd, "wall_seconds": 1.0, "load_before": "1",
            "load_after": "2", "num_seeds": 3, "num_queries": 10, "average_rank": {}, "machine": "x"}
  m = suite.merge([rep("rs", [0.5, 0.9], "one"), rep("re", [0.7, 0.8], "two")])
  assert m["average_rank"] == {"rs": 1.5, "re": 1.5} and m["command"] == "one\ntwo"
  assert [len(t["results"]) for t in m["tasks"]] == [2, 2] and "rs 3 x 10" in suite.markdown(m)


def test_merge_cli_joins_report_files(tmp_path):
  def rep(opt, val):
    return {"tasks": [{"space": "s", "dataset": "a", "higher_is_better": True, "optimum": 1.0,
                       "worst": 0.0, "metric": "m", "results": [
                           {"optimizer": opt, "mean_best": val, "seeds": 3, "queries": 10}]}],
            "optimizers": [opt], "command": opt, "wall_seconds": 1.0, "load_before": "1",
            "load_after": "2", "num_seeds": 3, "num_queries": 10, "average_rank": {}, "machine": "x"}
  a, b, out, md = (tmp_path / n for n in ("a.json", "b.json", "m.json", "m.md"))
  a.write_text(json.dumps(rep("rs", 0.5)))
  b.write_text(json.dumps(rep("re", 0.7)))
  assert bench.main(["suite", "--merge", f"{a},{b}", "--json", str(out), "--markdown", str(md)]) == 0
  assert json.loads(out.read_text())["average_rank"] == {"rs": 2.0, "re": 1.0}
  other = rep("re", 0.6)
  other["tasks"][0]["dataset"] = "b"  # a task only the second report ran: kept
  b.write_text(json.dumps(other))
  assert bench.main(["suite", "--merge", f"{a},{b}", "--json", str(out)]) == 0
  assert [t["dataset"] for t in json.loads(out.read_text())["tasks"]] == ["a", "b"]
  assert "| s/a | m |" in md.read_text()
  with pytest.raises(FileNotFoundError, match="suite report .*nope.json not found"):
    bench.main(["suite", "--merge", str(tmp_path / "nope.json")])
  md.write_text("{")
  with pytest.raises(ValueError, match="is not a suite report"):
    bench.main(["suite", "--merge", str(md)])


def test_markdown_counts_tasks_when_coverage_differs():
  def task(d, results):
    return {"space": "s", "dataset": d, "higher_is_better": True, "optimum": 1.0, "worst": 0.0,
            "metric": "m", "results": [{"optimizer": o, "mean_best": v, "seeds": 3, "queries": 10}
                                       for o, v in results]}
  tasks = [task("a", [("rs", 0.5), ("re", 0.7)]), task("b", [("rs", 0.9)])]
  rep = {"tasks": tasks, "average_rank": suite.average_rank(tasks), "command": "c",
         "wall_seconds": 1.0, "load_before": "1", "load_after": "2", "machine": "x"}
  text = suite.markdown(rep)
  assert rep["average_rank"] == {"rs": 1.5, "re": 1.0}
  assert "| tasks | 2 | 1 |" in text and "average rank over the 1 tasks all of them ran on" in text
  assert text.rstrip().endswith("| 2.00 | 1.00 |") or "| 2.00 | 1.00 |" in text
