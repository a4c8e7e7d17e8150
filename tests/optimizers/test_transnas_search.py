"""Black-box search through ``jaxnas.loops`` on the TransNAS-Bench-101 micro table: the optimizers
that have no NB201-specific code run unchanged, and a metric declared lower-is-better is minimised.
"""

from __future__ import annotations

import json
import pathlib

import jax
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.benchmarks import io, transnas_build

SPACE = spaces.get_space("transnas101_micro")
_TINY_MODEL = {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48, "predictor": "blr"}
SMALL = {"re": {"population_size": 8, "sample_size": 3}, "rs": {}, "ls": {"num_init": 3},
         "bananas": _TINY_MODEL}


ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table(shared_data, tmp_path_factory):
  z = shared_data / "transnas101" / "tnb101_micro_zen.zip"
  if not z.is_file():
    pytest.skip(f"{z} not found")
  return io.save(tmp_path_factory.mktemp("tnb") / "tnb.npz", transnas_build.build(z))


@pytest.fixture(scope="module")
def bench(table):
  return bm.load("transnas101_micro", path=table)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_search_on_tnb_micro(name, bench):
  opt = optimizers.make(name, SPACE, **SMALL[name])
  obj = loops.Objective(dataset="jigsaw")
  r = loops.run(bench, optimizer=opt, space=SPACE, objective=obj, num_queries=40, num_seeds=8)
  o = r.outputs
  assert bool(SPACE.is_valid(SPACE.from_id(o.arch_id)).all())
  table = np.asarray(bench.tables["val_accuracy"])[bench.dataset_index("jigsaw")]
  np.testing.assert_allclose(o.fitness, table[o.arch_id])
  np.testing.assert_allclose(o.best_fitness[:, -1], np.max(table[o.arch_id].reshape(8, -1), -1))
  assert (o.best_fitness[:, -1] <= table.max()).all() and o.best_fitness[:, -1].mean() > 80


def test_lower_is_better_metric_is_minimised(bench):
  opt = optimizers.make("re", SPACE, population_size=8, sample_size=3)
  obj = loops.Objective(dataset="class_scene", metric="zen_time")
  assert loops.direction(bench, obj) == -1.0
  o = loops.search(jax.random.key(0), bench, optimizer=opt, space=SPACE, objective=obj,
                   num_queries=60)
  fit = np.asarray(o.fitness).reshape(-1)
  np.testing.assert_allclose(o.best_fitness, np.minimum.accumulate(np.asarray(o.fitness).min(-1)))
  assert float(o.best_fitness[-1]) == fit.min()
  # evolution drives the time down: the second half's queries are faster than random cells
  table = np.asarray(bench.tables["zen_time"])[0]
  assert np.median(fit[30:]) < np.median(table)


@pytest.mark.parametrize("name", ["sh", "hb", "bohb"])
def test_multi_fidelity_on_a_stand_in_fidelity(name, bench):
  """TNB's table has the final epoch only: a multi-fidelity optimizer is refused before
  compiling; with a stand-in lower fidelity (declared on the benchmark) it runs on the cell's
  categorical view."""
  import dataclasses  # pylint: disable=import-outside-toplevel

  kw = {"fidelities": (10, 100)} | ({"min_points_in_model": 2, "history_size": 16}
                                     if name == "bohb" else {})
  opt = optimizers.make(name, SPACE, **kw)
  obj = loops.Objective(dataset="jigsaw")
  with pytest.raises(ValueError, match="queries 'val_accuracy' at epoch 10, which benchmark "
                     "transnas101_micro does not have; fidelities present: the final epoch only"):
    loops.run(bench, optimizer=opt, space=SPACE, objective=obj, num_queries=10)
  tables = dict(bench.tables, **{"val_accuracy@10": bench.tables["val_accuracy"] * 0.9})
  metrics = tuple(dataclasses.replace(m, final_epoch=100, fidelities=(10, 100))
                  if m.name == "val_accuracy" else m for m in bench.metrics)
  b = bench.replace(tables=tables, metrics=metrics)
  o = loops.search(jax.random.key(0), b, optimizer=opt, space=SPACE, objective=obj, num_queries=60)
  assert set(np.unique(o.epoch)) == {10, 100}
  assert bool(SPACE.is_valid(SPACE.from_id(o.arch_id)).all())
  top = np.where(np.asarray(o.epoch) == 100, np.asarray(o.fitness), -np.inf).max(-1)
  np.testing.assert_allclose(o.best_fitness, np.maximum.accumulate(top))


def test_driver_on_tnb_micro_and_space_mismatch(table, tmp_path, capsys):
  """``python -m jaxnas.run`` with an NB201 preset pointed at the TNB space and table; a table of
  another space is refused in one line (its ids would be gathered from the wrong rows)."""
  from jaxnas import run  # pylint: disable=import-outside-toplevel

  args = ["--config", str(ROOT / "configs/nb201_re.py"), "--config.benchmark.name=transnas101_micro",
          f"--config.benchmark.path={table}", "--config.dataset=room_layout",
          "--config.num_seeds=4", "--config.num_queries=40", "--quiet"]
  wd = tmp_path / "wd"
  assert run.main(args + ["--config.search_space=transnas101_micro", "--workdir", str(wd)]) == 0
  res = json.loads((wd / "results.json").read_text())
  s = res["seeds"][0]
  assert res["search_space"] == "transnas101_micro" and s["best_arch"].startswith("64-41414-")
  assert -1.1 < s["best_val_accuracy"] < -0.6 and s["trajectory"] == sorted(s["trajectory"])
  assert run.main(args + ["--workdir", str(tmp_path / "bad")]) == 2
  err = capsys.readouterr().err.strip()
  assert "benchmark transnas101_micro indexes search space 'transnas101_micro', not 'nasbench201'" in err
  assert len(err.splitlines()) == 1 and not (tmp_path / "bad" / "results.json").exists()


def test_bench_bbo_on_tnb_micro(table, tmp_path):
  """``python -m jaxnas.bench bbo --space transnas101_micro`` (quick sizes; the NASLib-style
  Python baseline is NB201's and is skipped)."""
  from jaxnas import bench as bench_cli  # pylint: disable=import-outside-toplevel

  out = tmp_path / "bbo.json"
  assert bench_cli.main(["bbo", "--quick", "--no-model-based", "--space", "transnas101_micro",
                         "--benchmark-path", str(table), "--dataset", "jigsaw",
                         "--json", str(out)]) == 0
  rep = json.loads(out.read_text())
  assert rep["space"] == "transnas101_micro" and rep["dataset"] == "jigsaw"
  assert [r["optimizer"] for r in rep["results"]] == ["rs", "re", "ls"]
  assert all(r["mean_best_val_accuracy"] > 80 for r in rep["results"]) and "baseline" not in rep


def test_predictor_evaluator_on_tnb_micro(table, tmp_path):
  """The predictor evaluator encodes the benchmark's own space (the cell's encodings); an
  unknown encoding is refused by name."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  from jaxnas.evaluate import predictors as ev  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict(dict(
      predictors="blr", train_sizes="20,100", num_test=300, num_seeds=2, seed=0,
      benchmark="transnas101_micro", benchmark_path=str(table), dataset="class_scene",
      metric="val_accuracy", encoding="adjacency_one_hot", target_transform="log_gap",
      pad_buffer=True, plot=False, hparams={"blr": {"num_steps": 20}}))
  res = ev.run(c, tmp_path, quiet=True)
  assert res["blr"]["100"]["kendall_tau"] > 0.3
  # the GCN's graph encoding is derived from any cell's edges and ops now (NB201 only before); the
  # GCN itself runs through this evaluator on TNB micro in tests/evaluate/test_predictor_evaluator_spaces.py
  from jaxnas import predictors, spaces  # pylint: disable=import-outside-toplevel
  assert "graph" in predictors.encodings_for(spaces.get_space("transnas101_micro"))
  c.encoding = "nope"
  with pytest.raises(ValueError, match="unknown encoding 'nope'"):
    ev.run(c, tmp_path, quiet=True)
