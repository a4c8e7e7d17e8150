"""The ``configs/nb101_*.py`` presets: final training with NAS-Bench-101's recipe (RMSProp, cosine)
resumes; the zero-cost config scores NASLib 56-int tuples with each cell's own network (params and
FLOPs = the closed-form counts, a data-dependent proxy on Fashion-MNIST); the search presets name
the NB101 space and table."""

from __future__ import annotations

import csv
import json

import jax
import numpy as np
import pytest

from jaxnas import run, spaces
from jaxnas.config import load_config
from jaxnas.drivers import train as tr
from jaxnas.nn import nb101
from jaxnas.paths import REPO_ROOT

CONFIGS = REPO_ROOT / "configs"
# two NASLib 56-int tuples in NASLib's padded 7x7 form (unused vertices labelled conv3x3, no
# edges): input -> conv3x3 -> output; and a max-pool and a conv1x1 vertex fed by projections of
# the input, concatenated, plus the input->output projection (small cells: each compiles its own
# program; the shapes of larger cells are traced in tests/nn/test_nn_nb101.py)
NASLIB = [
    (0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 1),
    (0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 4, 4, 1),
]


def _smoke_train(shared_data):
  c = load_config(str(CONFIGS / "nb101_train.py") + ":smoke")
  c.data.path = str(shared_data / "images" / "fashion_mnist")
  # a 3-vertex cell and one stack keep the compiles small (the default is the Inception-like cell)
  c.arch = "010001000:input,conv3x3-bn-relu,output"
  c.network.num_stacks = 1
  return c


def test_train_smoke_rmsprop_and_resume(shared_data, tmp_path):
  """``configs/nb101_train.py:smoke``: RMSProp (TF1's mean square starting at 1) with a cosine lr,
  one epoch, then a rerun resumes for the second; the loss falls."""
  full = load_config(str(CONFIGS / "nb101_train.py"))
  assert (full.optimizer, full.lr, full.weight_decay, full.epochs, full.batch_size) == (
      "rmsprop", 0.2, 1e-4, 108, 256)
  assert (full.network.channels, full.network.cells_per_stage, full.network.num_stacks) == (
      128, 3, 3)
  c = _smoke_train(shared_data)
  part = tr.run_train(c, tmp_path, quiet=True, stop_after=1)
  assert part["epochs_done"] == 1 and part["test_accuracy"] is None
  names = {type(s).__name__ for s in jax.tree_util.tree_leaves(
      part["state"].opt_state, is_leaf=lambda s: hasattr(s, "_fields"))}
  assert "ScaleByRmsState" in names, names
  res = tr.run_train(c, tmp_path, quiet=True)
  assert res["epochs_done"] == 2 and res["test_accuracy"] is not None
  assert res["train_loss"][1] < res["train_loss"][0]
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["config"]["optimizer"] == "rmsprop" and saved["epochs_done"] == 2
  c.optimizer = "adam"
  with pytest.raises(ValueError, match="unknown optimizer 'adam'; valid: sgd, rmsprop"):
    tr.run_train(c, tmp_path / "x", quiet=True)


def test_zero_cost_scores_naslib_tuples(shared_data, tmp_path):
  """The zero-cost config with ``search_space=nasbench101`` on an ``archs_file`` of NASLib 56-int
  tuple strings: params and flops equal
  the closed-form counts of the smoke network, NWOT (data-dependent, Fashion-MNIST) is a real
  score."""
  f = tmp_path / "archs.json"
  f.write_text(json.dumps([str(t) for t in NASLIB]))
  wd = tmp_path / "wd"
  # configs/nb101_zc.py is configs/zero_cost.py (zero_cost_config) with search_space=nasbench101
  # and the NB101 network; its smoke network (C=8, one stack of one module) compiles ~2x faster
  # than the generic smoke network (C=4, three stacks), measured 5.6 vs 9.6 CPU-s for this test
  code = run.main(["--config", str(CONFIGS / "nb101_zc.py") + ":smoke", "--workdir", str(wd),
                   "--quiet", f"--config.archs_file={f}", "--config.search_space=nasbench101",
                   "--config.proxies=nwot",
                   f"--config.data.path={shared_data / 'images' / 'fashion_mnist'}"])
  assert code == 0
  rows = list(csv.DictReader(open(wd / "zc_scores.csv")))
  assert len(rows) == 2 and set(rows[0]) == {"index", "arch", "params", "flops", "nwot"}
  space = spaces.get_space("nasbench101")
  assert [r["arch"] for r in rows] == [space.to_string(spaces.arch_from_string(space, str(t)))
                                       for t in NASLIB]  # the space's string form, file order
  for r, t in zip(rows, NASLIB):
    kw = dict(C=8, N=1, num_stacks=1)  # the smoke network, cifar10 (10 classes, 32x32)
    assert float(r["params"]) == pytest.approx(nb101.count_params(t, 10, **kw) / 1e6)
    assert float(r["flops"]) == pytest.approx(nb101.count_flops(t, 10, **kw) / 1e6)
    assert np.isfinite(float(r["nwot"])) and float(r["nwot"]) > 0
  meta = json.loads((wd / "zc_correlations.json").read_text())["_meta"]
  assert meta["search_space"] == "nasbench101" and meta["data"] == "fashion_mnist"


def test_search_presets():
  """RE, BANANAS, zero-cost and predictor presets name the NB101 space and its table (a path the
  user gives: ``--config.benchmark.path`` / ``--config.benchmark_path``)."""
  re_c = load_config(str(CONFIGS / "nb101_re.py"))
  assert (re_c.optimizer.name, re_c.optimizer.population_size, re_c.optimizer.sample_size) == (
      "re", 30, 10)
  ba = load_config(str(CONFIGS / "nb101_bananas.py"))
  assert (ba.optimizer.name, ba.optimizer.encoding_type, ba.optimizer.acq_fn_type) == (
      "bananas", "path", "its")
  for c in (re_c, ba):
    assert c.search_space == "nasbench101" and c.benchmark.name == "nasbench101"
  zc = load_config(str(CONFIGS / "nb101_zc.py"))
  assert zc.search_space == "nasbench101" and zc.network.channels == 128
  pred = load_config(str(CONFIGS / "nb101_predictors.py"))
  assert pred.search_space == "nasbench101" and "gcn" in pred.predictors
