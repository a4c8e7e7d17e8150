"""DARTS configs end to end: ``configs/zero_cost.py`` with ``search_space=darts`` scores a user's
``archs_file`` (NASLib compact strings as JSON, DARTS genotypes one per line) on NASLib's DARTS
zero-cost network, whose params/flops columns are NASLib's ``params_mb``/``flops_m``; the 13 proxies
run on a tiny DARTS network and ``configs/darts_train.py`` learns and resumes bit-identically
(both ``extended``: they compile DARTS networks)."""

from __future__ import annotations

import csv
import json
import os
import pathlib

import jax
import numpy as np
import pytest

from jaxnas import run
from jaxnas.config import load_config
from jaxnas.drivers import train
from jaxnas.nn import darts
from jaxnas.predictors import zero_cost as zc

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT / "../shared/data"))
NB301_725 = DATA / "nb301" / "naslib_labeled_725.json"
FMNIST = DATA / "images" / "fashion_mnist"


@pytest.fixture(scope="module")
def nb301_rows():
  if not NB301_725.exists():
    pytest.skip(f"{NB301_725} not found (set JAXNAS_SHARED_DATA to the shared data folder)")
  rows = json.loads(NB301_725.read_text())["data"]["cifar10"]
  return list(rows.items())[:12]


def _scores(wd):
  return list(csv.DictReader(open(wd / "zc_scores.csv")))


def test_zero_cost_darts_archs_file_compact_and_genotypes(tmp_path, nb301_rows):
  """The default DARTS zero-cost network is NASLib's (C=32, 8 cells, search-style ops): its
  params/flops columns equal the 725 file's ``params_mb``/``flops_m``; a JSON list of compact
  strings and a .txt of genotypes score the same rows."""
  as_json = tmp_path / "archs.json"
  as_json.write_text(json.dumps([k for k, _ in nb301_rows]))
  as_txt = tmp_path / "archs.txt"
  as_txt.write_text("\n".join(darts.genotype(k) for k, _ in nb301_rows) + "\n\n")
  out = {}
  for f in (as_json, as_txt):
    wd = tmp_path / f.suffix[1:]
    code = run.main(["--config", str(ROOT / "configs" / "zero_cost.py"), "--workdir", str(wd),
                     "--quiet", "--config.search_space=darts", f"--config.archs_file={f}",
                     "--config.proxies=params,flops"])
    assert code == 0
    out[f.suffix] = _scores(wd)
  assert out[".json"] == out[".txt"]
  rows = out[".json"]
  assert [r["arch"] for r in rows] == [k for k, _ in nb301_rows]  # the space's compact string
  for r, (_, want) in zip(rows, nb301_rows):
    assert float(r["params"]) == pytest.approx(want["params_mb"], abs=1e-9)
    assert float(r["flops"]) == pytest.approx(want["flops_m"], abs=1e-9)


def test_zero_cost_darts_bad_line_is_one_line_error(tmp_path, capsys):
  bad = tmp_path / "bad.txt"
  bad.write_text(darts.genotype(darts.DARTS_V2) + "\n[[(0, 3)]]\n")
  code = run.main(["--config", str(ROOT / "configs" / "zero_cost.py"), "--workdir",
                   str(tmp_path / "wd"), "--quiet", "--config.search_space=darts",
                   f"--config.archs_file={bad}", "--config.proxies=params"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code != 0 and len(err) == 1 and f"archs_file {bad} line 2" in err[0]


@pytest.mark.extended
def test_all_13_proxies_on_a_tiny_darts_network(tmp_path):
  """Every proxy on a DARTS cell through the driver (``:darts_smoke``: C=2, 3 cells)."""
  if not FMNIST.exists():
    pytest.skip(f"{FMNIST} not found (set JAXNAS_SHARED_DATA)")
  f = tmp_path / "archs.txt"
  f.write_text(darts.genotype(darts.DARTS_V2) + "\n")  # one cell: one program of 13 proxies
  wd = tmp_path / "wd"
  code = run.main(["--config", str(ROOT / "configs" / "zero_cost.py") + ":darts_smoke",
                   "--workdir", str(wd), "--quiet", f"--config.archs_file={f}",
                   "--config.proxies=" + ",".join(zc.names())])
  assert code == 0
  rows = _scores(wd)
  assert len(rows) == 1
  for name in zc.names():
    vals = np.array([float(r[name]) for r in rows])
    assert np.isfinite(vals).all(), name
  assert float(rows[0]["params"]) == pytest.approx(
      darts.count_params(darts.DARTS_V2, C=2, layers=3, style="search") / 1e6)


@pytest.mark.extended
def test_darts_train_smoke_learns_and_resumes(tmp_path):
  """DARTS's recipe (aux head, drop-path, cutout, clipping) on a tiny network: the training loss
  falls from epoch 1 to 2, and a run killed after epoch 1 resumes to the same weights."""
  if not FMNIST.exists():
    pytest.skip(f"{FMNIST} not found (set JAXNAS_SHARED_DATA)")
  c = load_config(str(ROOT / "configs" / "darts_train.py") + ":smoke")
  c.epochs = 2
  whole = train.run_train(c, tmp_path / "whole", quiet=True)
  part = train.run_train(c, tmp_path / "part", quiet=True, stop_after=1)
  assert part["epochs_done"] == 1
  resumed = train.run_train(c, tmp_path / "part", quiet=True)
  assert whole["train_loss"][1] < whole["train_loss"][0]
  assert resumed["train_loss"] == whole["train_loss"]
  for a, b in zip(jax.tree.leaves(whole["state"].params), jax.tree.leaves(resumed["state"].params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert whole["test_accuracy"] is not None
