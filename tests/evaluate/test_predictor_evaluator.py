"""The predictor evaluator end to end on the shrunk config."""

import importlib.util
import json
import pathlib

import pytest

from jaxnas.evaluate import predictors as ev

CONFIG = pathlib.Path(__file__).resolve().parents[2] / "configs" / "nb201_predictors.py"


def _config(arg=None):
  spec = importlib.util.spec_from_file_location("nb201_predictors", CONFIG)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config(arg)


def test_full_config_fields():
  c = _config()
  for k in ("predictors", "train_sizes", "num_test", "num_seeds", "dataset", "encoding"):
    assert k in c
  assert c.train_sizes == "10,20,50,100,200,400" and c.num_test == 1000
  assert ev._names(c.predictors)  # every default name is registered


def test_smoke_run_writes_results_and_plot(tmp_path):
  c = _config("smoke")
  res = ev.run(c, tmp_path)
  data = json.loads((tmp_path / ev.RESULTS_FILE).read_text())
  assert (tmp_path / ev.PLOT_FILE).stat().st_size > 0
  assert set(data) == {"blr"}
  for name in data:
    assert set(data[name]) == {"10", "20"}
    row = data[name]["20"]
    for k in ev.METRIC_KEYS:
      assert k in row and k in row["std"], k
    assert -1 <= row["kendall_tau"] <= 1
  assert res == data
  assert "coverage_1std" in data["blr"]["20"]  # reported for models with a predictive std
  assert 0 <= data["blr"]["20"]["coverage_1std"] <= data["blr"]["20"]["coverage_2std"] <= 1
  md = (tmp_path / ev.SUMMARY_FILE).read_text()
  assert "### kendall_tau" in md and "### coverage_2std" in md
  assert f"| blr | {data['blr']['10']['kendall_tau']:.3f} ± " in md


def test_unknown_predictor_and_sizes():
  c = _config("smoke")
  c.predictors = "blr,oracle"
  with pytest.raises(ValueError, match="unknown predictor.*oracle"):
    ev.run(c, "/tmp/unused")


def test_bench_shrunk(tmp_path):
  out = ev.bench(tmp_path / "bench.json", predictors="blr", train_sizes=(20,))
  row = out["blr"]["20"]
  assert row["fit_seconds"] > 0 and row["predict_seconds"] > 0
  assert json.loads((tmp_path / "bench.json").read_text()) == out
