"""TransNAS-Bench-101 micro table built from NASLib's zip: the checks ../shared/SPACES.md §3 allows."""

from __future__ import annotations

import ast
import json
import zipfile

import jax
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import spaces
from jaxnas.benchmarks import io, transnas_build

SPACE = spaces.get_space("transnas101_micro")
TASKS = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal",
         "autoencoder")


@pytest.fixture(scope="module")
def zip_path(shared_data):
  p = shared_data / "transnas101" / "tnb101_micro_zen.zip"
  if not p.is_file():
    pytest.skip(f"{p} not found")
  return p


@pytest.fixture(scope="module")
def bench(zip_path, tmp_path_factory):
  out = tmp_path_factory.mktemp("tnb") / "tnb_micro.npz"
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel

  assert main(["build", "transnas101_micro", "--zip", str(zip_path), "--out", str(out)]) == 0
  return bm.load("transnas101_micro", path=out)


def test_arch_set_is_all_tuples_per_task(zip_path):
  rows = transnas_build.read_zip(zip_path)
  assert set(rows) == set(TASKS)
  every = {tuple(int(d) for d in np.base_repr(i, 4).zfill(6)) for i in range(4096)}
  for task in TASKS:
    archs = [ast.literal_eval(r["arch"]) for r in rows[task]]
    assert len(archs) == 4096 and set(archs) == every, task


def test_declarations_and_tasks(bench):
  assert bench.datasets == TASKS and bench.dataset_kind == "task"
  assert bench.space_name == "transnas101_micro" and bench.num_archs == 4096
  assert bench.metric_names() == ("val_accuracy", "zen_score", "zen_time")
  m = bench.metric("val_accuracy")
  assert m.higher_is_better and not m.per_seed and m.fidelities == ()
  assert m.unit_for("room_layout") == "negative L2 loss" and m.unit_for("jigsaw") == "%"
  assert m.unit_for("normal") == "SSIM"
  assert bench.sign("zen_time") == -1.0 and bench.sign("val_accuracy") == 1.0


def test_values_match_the_zip_joined_on_the_tuple(bench, zip_path):
  rows = transnas_build.read_zip(zip_path)
  for task in ("jigsaw", "room_layout"):
    for r in rows[task][::97]:
      a = SPACE.from_string("64-41414-{}_{}{}_{}{}{}".format(*ast.literal_eval(r["arch"])))
      assert float(bm.query(bench, a, "val_accuracy", task)) == pytest.approx(r["val_accuracy"])
      assert float(bm.query(bench, a, "zen_score", task)) == pytest.approx(r["zen"]["score"])


def test_dead_output_cells_share_one_value_per_task(bench):
  """d = e = f = 0 zeroes the cell's output whatever a, b, c are, so the 64 such cells are one
  network: one value per task. This pins the digit semantics (string order and code): read in
  another edge order or op coding, the 64 rows would not be the dead ones.

  Measured on NASLib's zip: val_accuracy is constant over the 64 for the five discriminative tasks
  and the zen score (NASLib's sentinel -1e8) for all seven; the two generative tasks (normal,
  autoencoder: GAN-wrapped decoders) give 29 distinct values over the 64 dead cells (normal
  0.220-0.336 SSIM, autoencoder 0.005-0.073), i.e. their training was not deterministic. That is
  asserted as measured, so a change of the join shows up either way.
  """
  ops = np.asarray(SPACE.all_archs().ops)
  is_dead = (ops[:, 3:] == 0).all(-1)
  dead, alive = np.nonzero(is_dead)[0], np.nonzero(~is_dead)[0]
  assert len(dead) == 64
  for task in TASKS:
    v = np.asarray(bm.query(bench, dead, "val_accuracy", task))
    if task in ("normal", "autoencoder"):
      assert len(np.unique(v)) == 29 and v.max() < 0.34, task
    else:
      assert np.ptp(v) == 0, task
    assert np.ptp(np.asarray(bm.query(bench, alive, "val_accuracy", task))) > 0
    z = np.asarray(bm.query(bench, dead, "zen_score", task))
    assert (z == -1e8).all(), task
    assert (np.asarray(bm.query(bench, alive, "zen_score", task)) == -1e8).sum() == 105  # other dead wirings


def test_task_optima(bench):
  table = np.asarray(bench.tables["val_accuracy"])
  for d, task in enumerate(TASKS):
    value, i = bm.best(bench, "val_accuracy", task)
    assert value == table[d].max()
  v, i = bm.best(bench, "val_accuracy", "jigsaw")
  assert v == pytest.approx(95.372, abs=1e-3)
  v, i = bm.best(bench, "val_accuracy", "class_scene")
  assert v == pytest.approx(54.936, abs=1e-3) and SPACE.to_string(SPACE.from_id(i)) == "64-41414-3_32_132"
  v, i = bm.best(bench, "val_accuracy", "room_layout")  # maximised: closer to 0 is better
  assert v == pytest.approx(-0.601, abs=1e-3) and tuple(np.asarray(SPACE.from_id(i).ops)) == (3, 1, 1, 1, 3, 3)
  assert table[TASKS.index("room_layout")].min() == pytest.approx(-1.094, abs=1e-3)
  v, _ = bm.best(bench, "zen_time", "jigsaw")  # declared lower-is-better: the minimum
  assert v == np.asarray(bench.tables["zen_time"])[2].min()


def test_query_under_jit_and_vmap(bench):
  archs = SPACE.sample(jax.random.key(0), (4, 3))
  f = jax.jit(jax.vmap(lambda b, a: bm.query(b, a, "val_accuracy", "jigsaw"), in_axes=(None, 0)))
  v = f(bench, archs)
  assert v.shape == (4, 3)
  np.testing.assert_array_equal(v, np.asarray(bench.tables["val_accuracy"])[2][np.asarray(SPACE.to_id(archs))])


def test_query_several_metrics_at_once(bench):
  archs = SPACE.sample(jax.random.key(1), (5,))
  f = jax.jit(lambda b, a: bm.query(b, a, ("val_accuracy", "zen_score", "zen_time"), "normal"))
  out = f(bench, archs)
  assert set(out) == {"val_accuracy", "zen_score", "zen_time"}
  for m, v in out.items():
    np.testing.assert_array_equal(v, bm.query(bench, archs, m, "normal"))
  with pytest.raises(ValueError, match="unknown metric 'flops'"):
    bm.query(bench, archs, ["val_accuracy", "flops"], "normal")


def test_query_errors(bench):
  with pytest.raises(ValueError, match="unknown metric 'test_accuracy'; valid: val_accuracy, zen_score"):
    bm.query(bench, 0, "test_accuracy", "jigsaw")
  with pytest.raises(ValueError, match="unknown task 'cifar10' for benchmark transnas101_micro; valid: class_scene"):
    bm.query(bench, 0, "val_accuracy", "cifar10")
  with pytest.raises(ValueError, match="no 'val_accuracy' at epoch 200.*final epoch only"):
    bm.query(bench, 0, "val_accuracy", "jigsaw", epoch=200)
  nb = spaces.get_space("nasbench201")
  with pytest.raises(ValueError, match="not an architecture of search space transnas101_micro"):
    bm.query(bench, nb.from_id(0), "val_accuracy", "jigsaw")


def test_missing_corrupt_and_partial_zips(tmp_path, zip_path):
  with pytest.raises(FileNotFoundError, match="nope.zip not found.*python -m jaxnas.benchmarks build transnas101_micro"):
    transnas_build.build(tmp_path / "nope.zip")
  bad = tmp_path / "bad.zip"
  bad.write_bytes(b"not a zip at all")
  with pytest.raises(ValueError, match="bad.zip is corrupt.*build transnas101_micro --zip"):
    transnas_build.build(bad)
  part = tmp_path / "part.zip"
  with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(part, "w") as dst:
    for n in src.namelist():
      if "--jigsaw--" not in n:
        dst.writestr(n, src.read(n))
  with pytest.raises(ValueError, match="part.zip lacks task.s. jigsaw.*build transnas101_micro"):
    transnas_build.build(part)
  broken = tmp_path / "broken.zip"
  with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(broken, "w") as dst:
    for n in src.namelist():
      dst.writestr(n, b"[{" if n.endswith("--jigsaw--0.json") else src.read(n))
  with pytest.raises(ValueError, match="jigsaw--0.json is not valid JSON.*build transnas101_micro"):
    transnas_build.build(broken)
  short = tmp_path / "short.zip"
  with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(short, "w") as dst:
    for n in src.namelist():
      if n.endswith("--jigsaw--4000.json"):
        dst.writestr(n, json.dumps(json.loads(src.read(n))[:-1]))
      else:
        dst.writestr(n, src.read(n))
  with pytest.raises(ValueError, match="task jigsaw has 4095 of the 4096 cells"):
    transnas_build.build(short)


def test_cli_and_loader_errors(tmp_path, capsys):
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel

  assert main(["build", "transnas101_micro", "--out", str(tmp_path / "x.npz")]) == 2
  assert "--zip is required" in capsys.readouterr().err
  assert main(["build", "transnas101_micro", "--zip", str(tmp_path / "no.zip"), "--out",
               str(tmp_path / "x.npz")]) == 2
  assert "no.zip not found" in capsys.readouterr().err and not (tmp_path / "x.npz").exists()
  with pytest.raises(FileNotFoundError, match="no embedded table; build one with: python -m jaxnas"):
    bm.load("transnas101_micro")
  with pytest.raises(FileNotFoundError, match="t.npz not found; build it with: python -m jaxnas.benchmarks build transnas101_micro"):
    bm.load("transnas101_micro", path=tmp_path / "t.npz")


def test_extra_tables_survive_and_undeclared_tables_have_no_direction(tmp_path):
  arrays = {"name": np.array("nasbench201"), "datasets": np.array(["cifar10"]),
            "num_seeds": np.ones((1, 4), np.int32), "iso_class": np.arange(4, dtype=np.int32),
            "val_accuracy": np.arange(4, dtype=np.float32)[None], "energy": np.ones((1, 4), np.float32)}
  b = bm.load("nasbench201", io.save(tmp_path / "t.npz", arrays))
  assert "energy" in b.tables and "energy" in b.metric_names()
  with pytest.raises(ValueError, match="does not declare whether 'energy' is better higher or lower"):
    bm.best(b, "energy", "cifar10")
  assert bm.best(b, "val_accuracy", "cifar10") == (3.0, 3)
