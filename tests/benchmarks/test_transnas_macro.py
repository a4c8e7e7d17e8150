"""TransNAS-Bench-101 macro table built from NASLib's zip: the checks ../shared/SPACES.md §3 allows
(arch set = the enumeration rule, optima = table maxima, metrics and directions, one-line errors)."""

from __future__ import annotations

import ast
import itertools
import zipfile

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import spaces
from jaxnas.benchmarks import transnas_macro_build
from jaxnas.spaces import transnas_macro

SPACE = spaces.get_space("transnas101_macro")
TASKS = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal",
         "autoencoder")


@pytest.fixture(scope="module")
def zip_path(shared_data):
  p = shared_data / "transnas101" / "tnb101_macro_zen.zip"
  if not p.is_file():
    pytest.skip(f"{p} not found (set JAXNAS_SHARED_DATA)")
  return p


@pytest.fixture(scope="module")
def rows(zip_path):
  return transnas_macro_build.read_zip(zip_path)


@pytest.fixture(scope="module")
def bench(zip_path, tmp_path_factory):
  out = tmp_path_factory.mktemp("tnb") / "tnb_macro.npz"
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel

  assert main(["build", "transnas101_macro", "--zip", str(zip_path), "--out", str(out)]) == 0
  return bm.load("transnas101_macro", path=out)


def test_arch_set_is_the_enumeration_rule_per_task(rows):
  # the rule written out independently of the space: length 4-6 over 1..4, 1-4 digits in {3, 4}
  # (down-sampling), 1-3 digits in {2, 4} (channel doubling)
  rule = {d for n in (4, 5, 6) for d in itertools.product((1, 2, 3, 4), repeat=n)
          if 1 <= sum(v in (3, 4) for v in d) <= 4 and 1 <= sum(v in (2, 4) for v in d) <= 3}
  assert len(rule) == 3256
  assert sorted(np.bincount([len(d) for d in rule])[4:]) == [210, 750, 2296]
  assert set(transnas_macro.to_naslib(SPACE.all_archs())) == rule
  assert set(rows) == set(TASKS)
  for task in TASKS:
    archs = [ast.literal_eval(r["arch"]) for r in rows[task]]
    assert len(archs) == 3256 and set(archs) == rule, task


def test_declarations_and_tasks(bench):
  assert bench.datasets == TASKS and bench.dataset_kind == "task"
  assert bench.space_name == "transnas101_macro" and bench.num_archs == 3256
  assert bench.metric_names() == ("val_accuracy", "zen_score", "zen_time")
  m = bench.metric("val_accuracy")
  assert m.higher_is_better and m.fidelities == ()
  assert m.unit_for("room_layout") == "negative L2 loss" and m.unit_for("jigsaw") == "%"
  assert m.unit_for("segmentsemantic") == "% (pixel accuracy)" and m.unit_for("normal") == "SSIM"
  assert bench.sign("zen_time") == -1.0 and bench.sign("val_accuracy") == 1.0


def test_values_match_the_zip_joined_on_the_tuple(bench, rows):
  for task in ("jigsaw", "room_layout", "autoencoder"):
    got = {tuple(ast.literal_eval(r["arch"])): r for r in rows[task]}
    some = list(got)[::113]
    a = transnas_macro.Arch(ops=np.asarray([list(t) + [0] * (6 - len(t)) for t in some], np.int32))
    v = np.asarray(bm.query(bench, a, "val_accuracy", task))
    np.testing.assert_allclose(v, [got[t]["val_accuracy"] for t in some], rtol=1e-6)


def test_task_optima_and_ranges(bench):
  # SPACES.md §3: macro min...max per task
  ranges = {"class_scene": (46.33, 57.41), "class_object": (39.11, 47.42), "jigsaw": (73.91, 97.02),
            "room_layout": (-2.769, -0.582), "segmentsemantic": (93.78, 94.86),
            "normal": (0.077, 0.644), "autoencoder": (0.224, 0.749)}
  table = np.asarray(bench.tables["val_accuracy"])
  for d, task in enumerate(TASKS):
    value, _ = bm.best(bench, "val_accuracy", task)
    assert value == table[d].max()
    lo, hi = ranges[task]
    assert table[d].min() == pytest.approx(lo, abs=6e-3) and value == pytest.approx(hi, abs=6e-3)
  v, i = bm.best(bench, "val_accuracy", "class_scene")
  assert v == pytest.approx(57.414, abs=1e-3)
  assert SPACE.to_string(SPACE.from_id(i)) == "64-224131-basic"
  v, i = bm.best(bench, "val_accuracy", "jigsaw")
  assert v == pytest.approx(97.019, abs=1e-3)
  assert tuple(np.asarray(SPACE.from_id(i).ops)) == (2, 2, 4, 3, 0, 0)


def test_missing_and_corrupt_zip_errors(tmp_path, capsys):
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel
  hint = "python -m jaxnas.benchmarks build transnas101_macro --zip tnb101_macro_zen.zip"
  missing = tmp_path / "nope.zip"
  with pytest.raises(FileNotFoundError, match=f"{missing}.*not found.*{hint}"):
    transnas_macro_build.read_zip(missing)
  bad = tmp_path / "bad.zip"
  bad.write_bytes(b"not a zip")
  with pytest.raises(ValueError, match=f"{bad} is corrupt or not a zip.*{hint}"):
    transnas_macro_build.read_zip(bad)
  partial = tmp_path / "partial.zip"
  with zipfile.ZipFile(partial, "w") as z:
    z.writestr("zen/benchmark--transbench101_macro--jigsaw--0.json", "[{")
  with pytest.raises(ValueError, match="member .*jigsaw.* is not valid JSON"):
    transnas_macro_build.read_zip(partial)
  for path in (missing, bad):
    assert main(["build", "transnas101_macro", "--zip", str(path), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and hint in err
  assert not (tmp_path / "o.npz").exists()
  with pytest.raises(FileNotFoundError, match=f"has no embedded table; build one with: {hint}"):
    bm.load("transnas101_macro")
