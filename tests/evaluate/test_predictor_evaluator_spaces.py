"""Predictors and their evaluator on a second space: TransNAS-Bench-101 micro (table built from
NASLib's zip), plus the space-generic GCN graph encoding against its NB201 form."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import jax
import numpy as np
import pytest

from jaxnas import predictors as P
from jaxnas import spaces
from jaxnas.drivers import predictors as drv

CONFIG = pathlib.Path(__file__).resolve().parents[2] / "configs" / "nb201_predictors.py"
TNB = spaces.get_space("transnas101_micro")


def _config(arg=None):
  spec = importlib.util.spec_from_file_location("nb201_predictors", CONFIG)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config(arg)


@pytest.fixture
def tnb_table(tnb_micro_table):  # the session's table, built once (tests/conftest.py)
  return tnb_micro_table


def test_graph_encoding_on_a_second_space():
  archs = TNB.sample(jax.random.key(0), (3,))
  g = np.asarray(P.encode(archs, "graph", TNB))
  # 6 edges + input + output = 8 nodes; labels input, output and 4 ops
  assert g.shape == (3, P.encoding_size("graph", TNB)) == (3, 8 * 8 + 8 * 6)
  assert P.encodings_for(TNB)[-1] == "graph"
  feats = g[:, 64:].reshape(3, 8, 6)
  np.testing.assert_array_equal(feats[:, 1:7].argmax(-1) - 2, np.asarray(archs.ops))
  # inferred from the architecture class through the registry
  np.testing.assert_array_equal(np.asarray(P.encode(archs, "adjacency_one_hot")),
                                np.asarray(TNB.encode(archs, "adjacency_one_hot")))
  with pytest.raises(ValueError, match="cannot tell the search space.*transnas101_micro"):
    P.encode(np.zeros((2, 6), np.int32))


def test_predictor_evaluator_on_transnas_micro(tnb_table, tmp_path):
  c = _config("smoke")
  c.search_space = "transnas101_micro"
  c.benchmark = ""
  c.benchmark_path = str(tnb_table)
  c.dataset = "class_scene"
  c.predictors = "blr,gcn"
  c.train_sizes = "20"
  c.num_test = 100
  c.num_seeds = 1
  c.plot = False
  c.hparams = {"blr": {"num_steps": 5}, "gcn": {"num_steps": 20, "hidden": 8, "num_layers": 1}}
  res = drv.run(c, tmp_path, quiet=True)
  assert set(res) == {"blr", "gcn"}
  for name in res:
    row = res[name]["20"]
    assert np.isfinite(row["kendall_tau"]) and -1 <= row["kendall_tau"] <= 1, name
    assert row["mae"] > 0 and np.isfinite(row["rmse"]), name
  assert json.loads((tmp_path / drv.RESULTS_FILE).read_text()) == res


def test_evaluator_rejects_a_table_of_another_space(tnb_table):
  c = _config("smoke")
  c.search_space = "nasbench201"
  c.benchmark = "transnas101_micro"
  c.benchmark_path = str(tnb_table)
  c.dataset = "class_scene"
  with pytest.raises(ValueError, match="table of search space transnas101_micro, not of"):
    drv.run(c, "/tmp/unused")
  c.search_space = "nasbench301"
  with pytest.raises(ValueError, match="unknown search space 'nasbench301'; valid: nasbench201"):
    drv.run(c, "/tmp/unused")
