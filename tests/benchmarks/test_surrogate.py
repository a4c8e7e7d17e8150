"""A surrogate benchmark: a linear model on NB201's one-hot encoding, fitted by least squares to
the table; ``query``, ``loops.run`` and the black-box driver use it like a table."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.drivers import blackbox

SPACE = spaces.get_space("nasbench201")
ENC = "adjacency_one_hot"
METRICS = (bm.Metric("val_accuracy", higher_is_better=True, unit="%"),
           bm.Metric("train_time", higher_is_better=False, unit="s"))


@pytest.fixture(scope="module")
def table():
  return bm.load()


@pytest.fixture(scope="module")
def sur(table):
  archs = SPACE.all_archs()
  values = {m: np.asarray(bm.query(table, archs, m, ("cifar10", "cifar100")[0]))[None]
            for m in ("val_accuracy", "train_time")}
  params = bm.fit_linear(SPACE, archs, values, ENC)
  return bm.make_surrogate(SPACE, bm.linear_apply, params, encoding=ENC, metrics=METRICS,
                      datasets=("cifar10",), name="nb201_linear",
                      dataset_aliases={"cifar10-valid": "cifar10"})


def test_query_is_the_model(sur, table):
  archs = SPACE.all_archs()
  x = np.asarray(SPACE.encode(archs, ENC), np.float64)
  p = sur.params["val_accuracy"]
  want = x @ np.asarray(p["w"][0], np.float64) + float(p["b"][0])
  got = bm.query(sur, archs, ("val_accuracy", "train_time"), "cifar10-valid")
  np.testing.assert_allclose(got["val_accuracy"], want, rtol=1e-5, atol=1e-3)
  assert np.asarray(bm.contains(sur, SPACE, archs)).all()
  # the fit is least squares (residual orthogonal to the features, up to the small ridge) and a
  # real, if linear, model of the table (correlation 0.54 on all cells)
  y = np.asarray(bm.query(table, archs, "val_accuracy", "cifar10"), np.float64)
  x1 = np.concatenate([x, np.ones((len(x), 1))], 1)
  assert np.abs(x1.T @ (y - want)).max() < 1e-3 * np.abs(x1.T @ y).max()
  assert np.corrcoef(y, np.asarray(got["val_accuracy"]))[0, 1] > 0.5
  assert sur.sign("train_time") == -1.0 and sur.has("val_accuracy") and not sur.has("latency")
  with pytest.raises(ValueError, match="unknown encoding 'onehot' for search space nasbench201; "
                     "valid: adjacency_one_hot"):
    bm.make_surrogate(SPACE, bm.linear_apply, sur.params, encoding="onehot", metrics=METRICS,
                 datasets=("cifar10",))
  with pytest.raises(ValueError, match="unknown metric 'test_accuracy'; valid: val_accuracy, "
                     "train_time"):
    bm.query(sur, archs, "test_accuracy")


def test_re_on_the_surrogate_via_loops_and_driver(sur, tmp_path):
  # the loop carries architectures: the same space without its enumeration is searched alike
  plain = dataclasses.replace(SPACE, num_archs=None, to_id=None, from_id=None, all_archs=None)
  opt = optimizers.make("re", plain, population_size=10, sample_size=3)
  r = loops.run(sur, optimizer=opt, space=plain, objective=loops.Objective(), num_queries=40,
                num_seeds=4)
  o = r.outputs
  assert (o.arch_id == loops.NO_ID).all() and (o.best_id == loops.NO_ID).all()
  pred = np.asarray(bm.lookup(sur, SPACE, o.arch, "val_accuracy", "cifar10"))[..., 0]
  np.testing.assert_allclose(o.fitness[..., 0], pred, rtol=1e-6)
  np.testing.assert_array_equal(o.best_fitness, np.maximum.accumulate(o.fitness[..., 0], axis=1))
  best = np.asarray(bm.lookup(sur, SPACE, jax.tree.map(lambda x: x[:, -1], o.best_arch),
                              "val_accuracy", "cifar10"))
  np.testing.assert_allclose(best, o.best_fitness[:, -1], rtol=1e-6)
  tt = np.asarray(bm.lookup(sur, SPACE, o.arch, "train_time", "cifar10")).sum(-1)
  np.testing.assert_allclose(o.train_time, tt, rtol=1e-6)
  # the black-box driver, unchanged, on the same searches
  cfg = blackbox.blackbox_config("re", population_size=10, sample_size=3)
  cfg.num_seeds, cfg.num_queries = 4, 40
  res = blackbox.run_blackbox(cfg, tmp_path, quiet=True, bench=sur)
  assert res["summary"]["mean_best_val_accuracy"] == pytest.approx(float(best.mean()), abs=1e-4)
  assert res["summary"]["mean_best_test_accuracy"] is None
  ids = np.asarray(SPACE.to_id(jax.tree.map(lambda x: x[:, -1], o.best_arch)))
  for s, b, i in zip(res["seeds"], best, ids):
    assert s["best_id"] == int(i) and SPACE.to_id(SPACE.from_string(s["best_arch"])) == int(i)
    assert s["best_val_accuracy"] == pytest.approx(float(b), abs=1e-4)
  cfg_json, errors = json.loads((tmp_path / "errors.json").read_text())
  assert cfg_json["benchmark"]["name"] == "nb201_linear" and len(errors["train_time"]) == 40
