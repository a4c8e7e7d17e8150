"""NAS-Bench-Macro table built from its json: 6,561 keys -> 3,969 trained networks, reference
values (../shared/SPACES.md §4), one-line errors for a missing or corrupt json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import spaces
from jaxnas.benchmarks import nb_macro_build

SPACE = spaces.get_space("nasbench_macro")
HINT = "python -m jaxnas.benchmarks build nasbench_macro --json nas-bench-macro_cifar10.json"


@pytest.fixture(scope="module")
def json_path(shared_data):
  p = shared_data / "nas_bench_macro" / "nas-bench-macro_cifar10.json"
  if not p.is_file():
    pytest.skip(f"{p} not found (set JAXNAS_SHARED_DATA)")
  return p


@pytest.fixture(scope="module")
def records(json_path):
  return json.loads(json_path.read_text())


@pytest.fixture(scope="module")
def bench(json_path, tmp_path_factory):
  out = tmp_path_factory.mktemp("nbm") / "nb_macro.npz"
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel

  assert main(["build", "nasbench_macro", "--json", str(json_path), "--out", str(out)]) == 0
  return bm.load("nasbench_macro", path=out)


def test_keys_to_real_networks(records):
  keys = SPACE.to_string(SPACE.all_archs())
  assert set(keys) == set(records) and len(keys) == 6561
  fp = np.asarray(SPACE.fingerprint(SPACE.all_archs()))
  assert len(np.unique(fp)) == 3969
  # a key's fingerprint is the id of its canonical (trained) key, which maps to itself, and every
  # field of every key equals its canonical key's record
  assert (fp[np.unique(fp)] == np.unique(fp)).all()
  for key, f in zip(keys, fp):
    assert records[key] == records[keys[f]], key
  # the 3,969 networks are told apart by their records (no two classes share params, FLOPs and runs)
  distinct = {(r["params"], r["flops"], tuple(r["test_acc"])) for r in records.values()}
  assert len(distinct) == 3969
  # identities of non-first layers move to the end of their stage (stages: 2, 3, 3 layers)
  canon = SPACE.from_id(SPACE.fingerprint(SPACE.from_string("20102210")))
  assert SPACE.to_string(canon) == "20120210" and records["20102210"] == records["20120210"]


def test_table_values_and_reference(bench, records):
  assert bench.space_name == "nasbench_macro" and bench.num_archs == 6561
  assert bench.datasets == ("cifar10",)
  assert bench.higher_is_better("val_accuracy") and not bench.higher_is_better("params")
  ids = np.arange(0, 6561, 37)
  keys = SPACE.to_string(SPACE.from_id(ids))
  for metric, field, scale in (("test_accuracy", "mean_acc", 1), ("val_accuracy", "mean_acc", 1),
                               ("params", "params", 1e-6), ("flops", "flops", 1e-6)):
    v = np.asarray(bm.query(bench, ids, metric, "cifar10"))
    np.testing.assert_allclose(v, [records[k][field] * scale for k in keys], rtol=1e-6)
  v, i = bm.best(bench, "val_accuracy", "cifar10")
  # the best trained network is 22212220; its equivalent key 22212202 has the smaller id
  assert SPACE.to_string(SPACE.from_id(i)) == "22212202" and v == pytest.approx(93.127, abs=1e-3)
  assert SPACE.to_string(SPACE.from_id(SPACE.fingerprint(SPACE.from_id(i)))) == "22212220"
  assert float(bm.query(bench, SPACE.from_string("00000000"), "test_accuracy", "cifar10")) == pytest.approx(45.36, abs=5e-3)
  iso = np.asarray(bench.iso_class)
  assert len(np.unique(iso)) == 3969 and (iso <= np.arange(6561)).all()
  # mean_acc = mean of the 3 runs, std = their population std (SPACES.md §4)
  acc = np.asarray([records[k]["test_acc"] for k in keys])
  np.testing.assert_allclose(acc.mean(1), [records[k]["mean_acc"] for k in keys], rtol=1e-6)
  np.testing.assert_allclose(acc.std(1), [records[k]["std"] for k in keys], rtol=1e-4, atol=1e-6)


def test_missing_and_corrupt_json_errors(tmp_path, capsys):
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel
  missing = tmp_path / "nope.json"
  with pytest.raises(FileNotFoundError, match=f"{missing} not found.*{HINT}"):
    nb_macro_build.read_json(missing)
  bad = tmp_path / "bad.json"
  bad.write_text("{not json")
  with pytest.raises(ValueError, match=f"{bad} is corrupt.*{HINT}"):
    nb_macro_build.read_json(bad)
  short = tmp_path / "short.json"
  short.write_text(json.dumps({"00000000": {}}))
  with pytest.raises(ValueError, match="has 1 of the 6561 keys"):
    nb_macro_build.read_json(short)
  for path in (missing, bad):
    assert main(["build", "nasbench_macro", "--json", str(path), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and HINT in err
  with pytest.raises(FileNotFoundError, match=f"has no embedded table; build one with: {HINT}"):
    bm.load("nasbench_macro")
