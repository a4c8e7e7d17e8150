"""NAS-Bench-Graph embedded table: rebuilt byte-identical from the PyPI wheel, its entry counts and
reference values, restricted unpickling, one-line errors."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import safe_pickle
from jaxnas.benchmarks import io, nb_graph_build
from jaxnas.paths import EMBEDDED_DIR
from jaxnas.spaces import nb_graph

NEEDS_WHEEL = "nas-bench-graph==1.4.0 is needed: pip install --no-deps nas-bench-graph==1.4.0"


def _wheel_dir():
  try:
    return nb_graph_build.data_dir()
  except (FileNotFoundError, ValueError):
    pytest.skip(NEEDS_WHEEL)


@pytest.fixture(scope="module")
def bench():
  return bm.load("nasbench_graph")  # the embedded default: no path


def test_entries_and_cora_reference(bench):
  assert bench.datasets == nb_graph_build.DATASETS and bench.num_archs == 26_206
  assert set(bench.metric_names()) == {"val_accuracy", "test_accuracy", "latency", "params"}
  present = np.isfinite(np.asarray(bench.tables["val_accuracy"])).sum(1)
  np.testing.assert_array_equal(present, [26_206] * 8 + [2_021])
  for m in bench.metric_names():  # every metric has exactly the same entries
    np.testing.assert_array_equal(np.isfinite(np.asarray(bench.tables[m])).sum(1), present)
  # Cora: the best validation value 0.8193 is held by key 87072 (test 0.8263) -- and, in float32,
  # by 83102 too (the wheel's float64 values differ by 2e-16; 87072 is the float64 maximum)
  v, _ = bm.best(bench, "val_accuracy", "cora")
  assert v == pytest.approx(0.81933, abs=1e-5)
  val = np.asarray(bench.tables["val_accuracy"][0])
  keys = nb_graph.canonical_keys()
  assert set(keys[val == val.max()].tolist()) == {83102, 87072}
  arch = nb_graph.key_to_arch(87072)
  assert float(bm.query(bench, arch, "test_accuracy", "cora")) == pytest.approx(0.82633, abs=1e-5)
  # proteins: absent entries are NaN, never best; the best is an entry with proteins' ops
  _, i = bm.best(bench, "val_accuracy", "proteins")
  assert np.isin(np.asarray(nb_graph.from_id(i).ops), [1, 4, 5, 7, 8]).all()
  assert np.isnan(float(bm.query(bench, nb_graph.from_id(0), "val_accuracy", "proteins")))
  # a non-canonical input queries its canonical entry
  a = nb_graph.Arch(links=np.array([0, 0, 0, 2]), ops=np.array([1, 2, 3, 4]))
  b = nb_graph.Arch(links=np.array([0, 0, 0, 1]), ops=np.array([2, 1, 3, 4]))
  assert float(bm.query(bench, a, "val_accuracy", "arxiv")) == float(bm.query(bench, b, "val_accuracy", "arxiv"))


def test_rebuild_is_identical_and_float64_maximum(tmp_path):
  d = _wheel_dir()
  out = io.save(tmp_path / "g.npz", nb_graph_build.build())
  committed = EMBEDDED_DIR / "nasbench_graph.npz"
  assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(committed.read_bytes()).hexdigest()
  cora = nb_graph_build.read_bench(d / "cora.bench")
  best = max(cora, key=lambda k: cora[k]["valid_perf"])
  assert best == 87072 and round(cora[best]["perf"], 4) == 0.8263
  assert set(cora) == set(nb_graph.canonical_keys().tolist())


def test_unsafe_and_corrupt_pickles_are_refused(tmp_path):
  evil = tmp_path / "cora.bench"
  evil.write_bytes(pickle.dumps({1: {"valid_perf": np.float64(0.5)}, 2: print}))
  with pytest.raises(safe_pickle.UnsafePickleError, match="refused global builtins.print"):
    nb_graph_build.read_bench(evil)
  evil.write_bytes(b"\x80\x03}q\x00(K\x01")
  with pytest.raises(ValueError, match="cora.bench is corrupt.*pip install --no-deps nas-bench-graph==1.4.0"):
    nb_graph_build.read_bench(evil)
  with pytest.raises(FileNotFoundError, match="not found.*pip install --no-deps"):
    nb_graph_build.build(tmp_path / "nowhere")
  with pytest.raises(FileNotFoundError, match="build it with: pip install --no-deps nas-bench-graph"):
    bm.load("nasbench_graph", tmp_path / "missing.npz")


def test_blackbox_config_makes_the_proteins_space_for_proteins():
  """``configs/blackbox.py --config.search_space=nasbench_graph --config.dataset=proteins`` searches
  the space made with ``proteins=True`` (the table's per-dataset space option: only the five ops
  of the proteins table, never an absent entry); other datasets get all nine ops."""
  import importlib.util  # pylint: disable=import-outside-toplevel

  from jaxnas.drivers import blackbox as driver  # pylint: disable=import-outside-toplevel
  from jaxnas.paths import REPO_ROOT  # pylint: disable=import-outside-toplevel
  spec = importlib.util.spec_from_file_location("cfg_blackbox", REPO_ROOT / "configs" / "blackbox.py")
  cfg_mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(cfg_mod)
  for dataset, proteins in (("proteins", True), ("cora", False)):
    cfg = cfg_mod.get_config()
    cfg.search_space, cfg.dataset = "nasbench_graph", dataset
    space, _, opt, _ = driver.blackbox_setup(cfg)
    assert dict(space.options)["proteins"] is proteins and space is nb_graph.make_space(proteins)
    assert opt.name == "re"
