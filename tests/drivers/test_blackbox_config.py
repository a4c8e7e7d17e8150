"""``configs/blackbox.py``: any optimizer on any tabular space through ``python -m jaxnas.run``,
hyperparameters that follow ``--config.optimizer.name``, and the one-line errors raised before
anything compiles (unknown space, a task or metric the table lacks, a missing or corrupt table,
a table of another space)."""

from __future__ import annotations

import json
import pathlib

import jax
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import config as config_lib
from jaxnas import loops, optimizers, run, spaces
from jaxnas.benchmarks import io, nb201_build, transnas_build
from jaxnas.drivers import blackbox

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "blackbox.py")
SMALL = ["--config.num_seeds=2", "--config.num_queries=24", "--quiet"]
# tiny hyperparameters per optimizer, set on the command line AFTER the name (the point of the test)
TINY = {"re": {"population_size": 8, "sample_size": 3},
        "bananas": {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48,
                    "predictor": "blr"},
        "bohb": {"min_points_in_model": 2, "history_size": 16}}


def _args(space, dataset, name, extra=()):
  tiny = [f"--config.optimizer.{k}={v}" for k, v in TINY[name].items()]
  return (["--config", CONFIG, f"--config.search_space={space}", f"--config.dataset={dataset}",
           f"--config.optimizer.name={name}"] + tiny + SMALL + list(extra))


def _check_results(wd, space_name, dataset, name, bench):
  res = json.loads((wd / "results.json").read_text())
  assert res["optimizer"] == name and res["search_space"] == space_name
  assert res["dataset"] == dataset and res["num_seeds"] == 2 and res["num_queries"] == 24
  # the recorded hyperparameters are exactly the named optimizer's: the tiny ones as set, the
  # rest its defaults (none of another optimizer's keys)
  defaults = optimizers.hyperparameters(name)
  cfg = res["optimizer_config"]
  assert set(cfg) == set(defaults) | {"name"}
  for k, v in defaults.items():
    want = TINY[name].get(k, v)
    got = cfg[k]
    assert (list(got) if isinstance(got, (list, tuple)) else got) == (
        list(want) if isinstance(want, tuple) else want), k
  space = spaces.get_space(space_name)
  for s in res["seeds"]:
    # one trajectory point per step; a step asks k cells for the model-based optimizers
    assert len(s["trajectory"]) == len(s["queries"]) and s["queries"][-1] == 24
    assert s["trajectory"] == sorted(s["trajectory"])
    v = float(bm.query(bench, space.from_string(s["best_arch"]), "val_accuracy", dataset))
    assert v == pytest.approx(s["best_val_accuracy"], abs=1e-4), s["best_arch"]
  assert json.loads((wd / "errors.json").read_text())[0]["optimizer"]["name"] == name
  assert (wd / "trajectory.png").stat().st_size > 1000
  return res


@pytest.fixture(scope="module")
def nb201_hp12(shared_data, tmp_path_factory):
  """NB201 with the 12-epoch fidelity (BOHB's lower rung), built from the shared CSV."""
  csv = shared_data / "nb201" / "hp12_accuracy.csv"
  if not csv.is_file():
    pytest.skip(f"{csv} not found")
  return io.save(tmp_path_factory.mktemp("nb201") / "nb201_hp12.npz",
                 nb201_build.build(None, str(csv)))


@pytest.fixture(scope="module")
def tnb_table(shared_data, tmp_path_factory):
  z = shared_data / "transnas101" / "tnb101_micro_zen.zip"
  if not z.is_file():
    pytest.skip(f"{z} not found")
  return io.save(tmp_path_factory.mktemp("tnb") / "tnb.npz", transnas_build.build(z))


@pytest.mark.parametrize("name", ["re", "bananas"])
def test_nasbench201_embedded(name, tmp_path):
  wd = tmp_path / name
  assert run.main(_args("nasbench201", "cifar10", name, ["--workdir", str(wd)])) == 0
  _check_results(wd, "nasbench201", "cifar10", name, bm.load())


def test_bohb_on_nasbench201_takes_the_declared_fidelities(nb201_hp12, tmp_path):
  wd = tmp_path / "bohb"
  assert run.main(_args("nasbench201", "cifar10", "bohb",
                        [f"--config.benchmark.path={nb201_hp12}", "--workdir", str(wd)])) == 0
  res = _check_results(wd, "nasbench201", "cifar10", "bohb", bm.load(path=nb201_hp12))
  assert res["optimizer_config"]["fidelities"] == [12, 200]  # from the table's declaration


@pytest.mark.parametrize("name", ["re", "bananas"])
def test_transnas101_micro(name, tnb_table, tmp_path):
  wd = tmp_path / name
  assert run.main(_args("transnas101_micro", "jigsaw", name,
                        [f"--config.benchmark.path={tnb_table}", "--workdir", str(wd)])) == 0
  res = _check_results(wd, "transnas101_micro", "jigsaw", name,
                       bm.load("transnas101_micro", path=tnb_table))
  assert all(s["best_arch"].startswith("64-41414-") for s in res["seeds"])
  assert 90.0 < res["summary"]["mean_best_val_accuracy"] <= 95.372  # the jigsaw optimum


def test_bohb_on_transnas101_micro_runs_with_one_fidelity(tnb_table, tmp_path, capsys, monkeypatch):
  """NASLib's TNB micro zip has the final epoch only: BOHB runs with one rung (every query a
  full-budget one proposed by its TPE model), says so in one line, and finds table values."""
  wd = tmp_path / "bohb"
  args = _args("transnas101_micro", "jigsaw", "bohb",
               [f"--config.benchmark.path={tnb_table}", "--workdir", str(wd)])
  args.remove("--quiet")
  assert run.main(args) == 0
  out = capsys.readouterr().out
  notes = [line for line in out.splitlines() if "degenerates to TPE-guided full-budget" in line]
  assert len(notes) == 1 and "one fidelity (the final epoch)" in notes[0], out
  bench = bm.load("transnas101_micro", path=tnb_table)
  # recorded: the table's one fidelity (0 = its final epoch, which it leaves unnamed), not the
  # (12, 200) default; every other hyperparameter as _check_results expects
  monkeypatch.setitem(TINY, "bohb", dict(TINY["bohb"], fidelities=[0]))
  res = _check_results(wd, "transnas101_micro", "jigsaw", "bohb", bench)
  assert all(s["best_arch"].startswith("64-41414-") for s in res["seeds"])
  # every query counts at full budget (no lower rung): each best is a value of the final-epoch
  # table, and the mean best lies above the table's minimum, at most its optimum
  table = np.asarray(bm.query(bench, np.arange(4096), "val_accuracy", "jigsaw"))
  values = {float(v) for v in table}
  assert all(float(s["best_val_accuracy"]) in values for s in res["seeds"])
  assert table.max() == pytest.approx(95.372, abs=1e-3)
  assert table.min() < res["summary"]["mean_best_val_accuracy"] <= table.max()


def _setup(*overrides, spec=CONFIG):
  c = config_lib.load_config(spec)
  for o in overrides:
    k, v = o.split("=", 1)
    config_lib.override(c, k, v)
  return blackbox.blackbox_setup(c, resolved=True)


def test_hyperparameters_follow_the_name():
  *_, opt, _, c = _setup("search_space=nasbench201", "optimizer.name=ls", "optimizer.num_init=3")
  assert opt.name == "ls" and c.optimizer.to_dict() == {"name": "ls", "num_init": 3,
                                                        "naslib_valid": True}
  *_, c = _setup(spec=CONFIG + ":bananas")
  assert c.optimizer.name == "bananas" and c.optimizer.num_init == 10
  with pytest.raises(ValueError, match=r"^unknown hyperparameter 'population_size' for optimizer "
                     r"'bananas'; valid: num_init, k, "):
    _setup("optimizer.name=bananas", "optimizer.population_size=5")
  with pytest.raises(ValueError, match=r"^unknown optimizer 'regularised'; "
                     r"valid: bananas, bohb, bp, gp_bo, hb, ls, npenas, re, rs, sh$"):
    _setup("optimizer.name=regularised")
  # the presets keep their explicit hyperparameters, and refuse another optimizer's
  *_, c = _setup(spec=str(ROOT / "configs" / "nb201_re.py"))
  assert c.optimizer.to_dict() == {"name": "re", "population_size": 30, "sample_size": 10,
                                   "naslib_valid": True}
  with pytest.raises(ValueError, match="unknown hyperparameter 'population_size' for optimizer 'rs'"):
    _setup("optimizer.name=rs", spec=str(ROOT / "configs" / "nb201_re.py"))


def test_one_line_errors_before_compiling(tnb_table, tmp_path, capsys):
  """Bad input through the CLI: exit code 2, one line on stderr naming what is valid, nothing
  written."""
  corrupt = tmp_path / "corrupt.npz"
  corrupt.write_bytes(b"not a zip file")
  cases = [
      (["--config.search_space=nasbench301"],
       "unknown search space 'nasbench301'; valid: nasbench201, transnas101_micro"),
      (["--config.search_space=transnas101_micro", f"--config.benchmark.path={tnb_table}",
        "--config.dataset=cifar10"], "class_scene"),  # a task the table lacks: names the tasks
      (["--config.metric=val_loss"], "unknown metric 'val_loss'"),
      (["--config.search_space=transnas101_micro", "--config.dataset=jigsaw"],
       "benchmark transnas101_micro has no embedded table; build one with: python -m "
       "jaxnas.benchmarks build transnas101_micro"),
      (["--config.search_space=transnas101_micro", "--config.dataset=jigsaw",
        f"--config.benchmark.path={tmp_path / 'missing.npz'}"],
       f"benchmark table {tmp_path / 'missing.npz'} not found; build it with: python -m "
       "jaxnas.benchmarks build transnas101_micro"),
      (["--config.search_space=transnas101_micro", "--config.dataset=jigsaw",
        f"--config.benchmark.path={corrupt}"], str(corrupt)),
      (["--config.search_space=nasbench201", "--config.benchmark.name=transnas101_micro",
        f"--config.benchmark.path={tnb_table}"],
       "benchmark transnas101_micro indexes search space 'transnas101_micro', not 'nasbench201'"),
  ]
  for extra, want in cases:
    wd = tmp_path / "wd"
    assert run.main(["--config", CONFIG, "--quiet", "--workdir", str(wd)] + extra) == 2, extra
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and want in err, (extra, err)
    assert not wd.exists()
  # the corrupt file's message also says how to rebuild it
  assert run.main(["--config", CONFIG, "--config.search_space=transnas101_micro",
                   f"--config.benchmark.path={corrupt}"]) == 2
  assert "python -m jaxnas.benchmarks build transnas101_micro" in capsys.readouterr().err


def test_chunks_flatten_architectures_and_old_id_chunks_still_read():
  """Saved chunks hold architecture leaves by name; chunks from before architectures were carried
  (ids only) are read back through the space's from_id."""
  space = spaces.get_space("nasbench201")
  st = loops.init(jax.random.key(0), optimizers.make("rs", space))
  assert st.best_arch.ops.shape == (6,) and not st.best_arch.ops.any()
  ids = np.array([[3, 77], [15624, 0]], np.int32)
  new = {"best_arch.ops": np.asarray(space.from_id(ids).ops), "best_id": ids}
  old = {"best_id": ids}
  for outs in (new, old):
    archs = blackbox.archs_from_outputs(space, outs)
    np.testing.assert_array_equal(np.asarray(space.to_id(archs)), ids)
