"""jaxnas's own DARTS surrogate (``jaxnas.benchmarks.darts_surrogate``): labels files (NASLib's
725 json, a user's JSON/CSV of compact or genotype strings), the build command, the file round
trip (its query is the fitted predictor on the encoding, jitted), one-line errors, and the
black-box searches on it (extended: every registered optimizer, tiny sizes)."""

from __future__ import annotations

import json
import os
import pathlib

import jax
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.benchmarks import __main__ as build_cli
from jaxnas.benchmarks import darts_surrogate as ds
from jaxnas.spaces import darts

SPACE = spaces.get_space("darts")
DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA",
                                   pathlib.Path(__file__).resolve().parents[2].parent / "shared"
                                   / "data")) / "nb301" / "naslib_labeled_725.json"
N = 40  # labelled architectures of the small files (blr fits them in milliseconds)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
  """A user's files: the first N of the 725 as a JSON object of genotype strings and as a CSV of
  compact strings (with a header), plus the surrogate built from the JSON through the CLI."""
  if not DATA.is_file():
    pytest.skip(f"{DATA} absent (set JAXNAS_SHARED_DATA to the shared data folder)")
  rows = list(json.loads(DATA.read_text())["data"]["cifar10"].items())[:N]
  tmp = tmp_path_factory.mktemp("darts_sur")
  js = tmp / "labels.json"
  js.write_text(json.dumps({darts.genotype_string(darts.from_string(k)): v["val_accuracy"]
                            for k, v in rows}))
  cs = tmp / "labels.csv"
  cs.write_text("arch,val_accuracy\n" + "".join(f"\"{k}\",{v['val_accuracy']}\n" for k, v in rows))
  out = tmp / "darts_blr.npz"
  assert build_cli.main(["build", "darts", "--labels", str(js), "--predictor", "blr", "--no-cv",
                         "--out", str(out)]) == 0  # the 5-fold tau: extended test below
  return rows, js, cs, out


def test_labels_files_read_alike(small):
  rows, js, cs, _ = small
  a1, y1, k1 = ds.read_labels(js)
  a2, y2, k2 = ds.read_labels(cs)
  a3, y3, k3 = ds.read_labels(DATA)
  assert k1 == k2 == k3[:N] == [k for k, _ in rows]  # genotype text and compact read alike
  np.testing.assert_array_equal(y1, y2)
  np.testing.assert_array_equal(y1, np.array([v["val_accuracy"] for _, v in rows], np.float32))
  assert len(y3) == 725 and a3.normal.shape == (725, 8, 2)


def test_surrogate_file_query_is_the_fitted_model(small, capsys):
  rows, js, _, out = small
  sur = bm.load("darts", out)
  assert isinstance(sur, bm.SurrogateBenchmark) and sur.space == "darts"
  assert "not NAS-Bench-301" in sur.source and f"fitted on {N} labelled" in sur.source
  archs, y, _ = ds.read_labels(js)
  p, enc, _ = ds.build_predictor("blr")
  assert enc == sur.encoding == "adjacency_one_hot"
  want = np.asarray(jax.jit(p.predict)(sur.params, SPACE.encode(archs, enc))[0])
  got = np.asarray(jax.jit(lambda b, a: bm.lookup(b, SPACE, a, "val_accuracy", "cifar10"))(
      sur, archs))
  np.testing.assert_allclose(got, want, rtol=1e-5)
  assert np.corrcoef(got, y)[0, 1] > 0.5  # it learnt the training labels
  z = np.load(out)
  assert int(z["train_y"].shape[0]) == N and np.isnan(float(z["cv_tau"]))  # built with --no-cv
  np.testing.assert_array_equal(z["train_y"], y)


@pytest.mark.extended
def test_cross_validated_tau_and_deterministic_file(small):
  _, js, _, out = small
  arrays = ds.build(js, "blr")
  assert -1 <= float(arrays["cv_tau"]) <= 1
  a = ds.save(out.with_name("a.npz"), arrays)
  b = ds.save(out.with_name("b.npz"), ds.build(js, "blr"))
  assert a.read_bytes() == b.read_bytes()
  sur = bm.load("darts", a)
  assert f"5-fold Kendall tau {float(arrays['cv_tau']):.3f}" in sur.source


def test_one_line_errors(small, tmp_path, capsys):
  _, js, _, out = small
  bad = tmp_path / "bad.csv"
  bad.write_text("arch,acc\n[[(0, 1)]],93.1\n")
  nan = tmp_path / "nan.json"
  nan.write_text(json.dumps({darts.to_string(darts.DARTS_V2): "x"}))
  corrupt = tmp_path / "corrupt.npz"
  corrupt.write_bytes(b"not a zip")
  cases = [
      (["--labels", str(tmp_path / "none.json")], "labels file .*none.json not found"),
      (["--labels", str(bad)], "bad.csv line 2: not a darts architecture"),
      (["--labels", str(nan)], "accuracy 'x' is not a finite number"),
      (["--labels", str(js), "--predictor", "xgboost"], "runs on the host .not jittable."),
      (["--labels", str(js), "--predictor", "nope"], "unknown predictor 'nope'; valid for a"),
      ([], "--labels is required"),
  ]
  for args, msg in cases:
    assert build_cli.main(["build", "darts", *args, "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and __import__("re").search(msg, err), (args, err)
  with pytest.raises(ValueError, match="corrupt.npz is corrupt or not a jaxnas file.*build darts"):
    bm.load("darts", corrupt)
  with pytest.raises(FileNotFoundError, match="build it with: python -m jaxnas.benchmarks build"):
    bm.load("darts", tmp_path / "missing.npz")
  with pytest.raises(FileNotFoundError, match="benchmark darts has no embedded table"):
    bm.load("darts")


@pytest.mark.extended
def test_re_searches_it_through_the_driver(small, tmp_path):
  from jaxnas.drivers import blackbox  # pylint: disable=import-outside-toplevel
  _, _, _, out = small
  cfg = blackbox.generic_blackbox_config("re")
  cfg.search_space, cfg.num_seeds, cfg.num_queries = "darts", 3, 12
  cfg.benchmark.path = str(out)
  cfg.optimizer.population_size, cfg.optimizer.sample_size = 6, 2
  res = blackbox.run_blackbox(cfg, tmp_path, quiet=True)
  sur = bm.load("darts", out)
  for s in res["seeds"]:
    arch = SPACE.from_string(s["best_arch"])
    assert float(bm.lookup(sur, SPACE, arch, "val_accuracy", "cifar10")) == pytest.approx(
        s["best_val_accuracy"], abs=1e-3)
  assert res["summary"]["mean_best_test_accuracy"] is None  # the surrogate has no test accuracy


# RE, LS and RS here (mutation, neighbours, sampling on the space); the model-based optimizers'
# compiles on DARTS's encodings exceed this file's extended budget: BANANAS is measured at 100
# seeds x 150 queries through the CLI by ``python -m jaxnas.bench darts-surrogate`` instead.
@pytest.mark.extended
@pytest.mark.parametrize("name", ["ls", "re", "rs"])
def test_every_blackbox_optimizer_searches_it(small, name):
  _, _, _, out = small
  sur = bm.load("darts", out)
  tiny = {"re": {"population_size": 8, "sample_size": 3}, "ls": {"num_init": 3}, "rs": {},
          "bananas": {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48,
                      "predictor": "blr", "encoding_type": "adjacency_one_hot"},
          "npenas": {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48,
                     "predictor": "blr", "encoding_type": "adjacency_one_hot"},
          "bp": {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48, "predictor": "blr"},
          "gp_bo": {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48, "gp_steps": 3}}
  if name in ("sh", "hb", "bohb"):
    pytest.skip("multi-fidelity: the surrogate has one fidelity (the final epoch)")
  opt = optimizers.make(name, SPACE, **tiny.get(name, {}))
  r = loops.run(sur, optimizer=opt, space=SPACE, objective=loops.Objective(), num_queries=16,
                num_seeds=2)
  o = r.outputs
  assert bool(SPACE.is_valid(o.arch).all())
  pred = np.asarray(bm.lookup(sur, SPACE, o.arch, "val_accuracy", "cifar10"))
  np.testing.assert_allclose(o.fitness[..., 0], pred.reshape(o.fitness[..., 0].shape), rtol=1e-5)
