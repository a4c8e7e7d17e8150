"""``python -m jaxnas.run`` end to end on shrunk configs, bad input, multi-device equality."""

import json
import math
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import run
from jaxnas.spaces import nb201

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMALL = ["--config.num_seeds=4", "--config.num_queries=40", "--quiet"]


@pytest.mark.parametrize("name", ["rs", "re", "ls"])
def test_blackbox_configs_end_to_end(name, tmp_path):
  wd = tmp_path / name
  t0 = time.perf_counter()
  assert run.main(["--config", str(ROOT / f"configs/nb201_{name}.py"), "--workdir", str(wd)] + SMALL) == 0
  elapsed = time.perf_counter() - t0
  res = json.loads((wd / "results.json").read_text())
  assert res["optimizer"] == name and res["num_seeds"] == 4 and res["num_queries"] == 40
  assert res["search_space"] == "nasbench201" and res["dataset"] == "cifar10"
  assert res["base_seed"] == 0 and res["time_budget"] == 0.0
  assert res["objective"] == {"dataset": "cifar10", "metric": "val_accuracy", "epoch": None,
                              "noisy": False}
  bench = bm.load()
  assert [s["seed"] for s in res["seeds"]] == [0, 1, 2, 3]
  for s in res["seeds"]:
    assert len(s["trajectory"]) == 40 and s["trajectory"] == sorted(s["trajectory"])
    assert s["best_val_accuracy"] == s["trajectory"][-1]
    assert s["best_test_accuracy"] is None  # the embedded table has no test accuracy
    # the reported best cell is the one whose validation accuracy is reported
    best = float(bm.query(bench, nb201.string_to_id(s["best_arch"]), "val_accuracy", "cifar10"))
    assert best == pytest.approx(s["best_val_accuracy"], abs=1e-4), s["best_arch"]
    assert s["best_id"] == nb201.string_to_id(s["best_arch"])  # the carried arch and its id agree
    assert s["queries"] == list(range(1, 41))  # one query per step, no budget: all counted
    assert len(s["train_time"]) == 40 and np.all(np.diff(s["train_time"]) > 0)  # cumulative
  best_val = np.array([s["best_val_accuracy"] for s in res["seeds"]])
  summary = res["summary"]
  assert summary["mean_best_val_accuracy"] == pytest.approx(best_val.mean())
  assert summary["stderr_best_val_accuracy"] == pytest.approx(best_val.std(ddof=1) / 2)
  assert summary["mean_best_test_accuracy"] is None and summary["stderr_best_test_accuracy"] is None
  assert summary["mean_queries"] == 40
  assert summary["mean_train_time"] == pytest.approx(
      np.mean([s["train_time"][-1] for s in res["seeds"]]), rel=1e-5)
  # timings: finite and positive; the search itself (4 seeds x 40 table look-ups) runs far faster
  # than it compiles; both happen inside the call
  compile_s, run_s = res["compile_seconds"], res["wall_seconds"]
  assert math.isfinite(compile_s) and math.isfinite(run_s) and compile_s > 0 and run_s > 0
  assert run_s < compile_s and compile_s + run_s < elapsed, (compile_s, run_s, elapsed)
  cfg, errors = json.loads((wd / "errors.json").read_text())
  assert cfg["optimizer"]["name"] == name and len(errors["valid_acc"]) == 40
  assert errors["valid_acc"] == res["seeds"][0]["trajectory"]
  assert errors["arch"][-1] == res["seeds"][0]["best_arch"] and errors["arch"][:-1] == [None] * 39
  assert errors["runtime"] == pytest.approx([run_s / 40 / 4] * 40)
  assert (wd / "trajectory.png").stat().st_size > 1000


def test_overrides_resume_and_test_accuracy(tmp_path, shared_data):
  from jaxnas.benchmarks import io, nb201_build  # pylint: disable=import-outside-toplevel

  table = tmp_path / "nb201_full.npz"
  io.save(table, nb201_build.build(shared_data / "nb201" / "nats_bench.csv"))
  wd = tmp_path / "wd"
  args = ["--config", str(ROOT / "configs/nb201_re.py"), "--workdir", str(wd),
          f"--config.benchmark.path={table}", "--config.dataset=cifar100",
          "--config.optimizer.population_size=10", "--config.chunk_seeds=2"] + SMALL
  assert run.main(args) == 0
  res = json.loads((wd / "results.json").read_text())
  assert res["dataset"] == "cifar100" and res["optimizer_config"]["population_size"] == 10
  assert all(s["best_test_accuracy"] is not None for s in res["seeds"])
  chunks = sorted((wd / "chunks").rglob("*.npz"))
  assert len(chunks) == 2
  # a rerun resumes from the saved chunks and gives the same results
  (wd / "results.json").unlink()
  assert run.main(args) == 0
  again = json.loads((wd / "results.json").read_text())
  assert again["seeds"] == res["seeds"]


@pytest.mark.parametrize("override,message", [
    ("--config.optimizer.name=bogus", "unknown optimizer 'bogus'; valid: bananas, bohb, bp"),
    ("--config.dataset=svhn", "unknown dataset 'svhn'"),
    ("--config.metric=top5", "unknown metric 'top5'; valid: val_accuracy"),
    ("--config.populaton_size=3", "unknown config key 'populaton_size'"),
    ("--config.optimizer.pop=3", "unknown config key 'optimizer.pop'"),
    ("--config.epoch=12", "no 'val_accuracy' at epoch 12"),
    ("--config.search_space=nb999", "unknown search space 'nb999'"),
    ("--config.num_seeds=abc", "bad value for config key 'num_seeds'"),
])
def test_bad_input_is_one_line_and_writes_nothing(override, message, tmp_path, capsys):
  wd = tmp_path / "wd"
  rc = run.main(["--config", str(ROOT / "configs/nb201_re.py"), "--workdir", str(wd), override,
                 "--quiet"])
  err = capsys.readouterr().err.strip()
  assert rc == 2 and message in err and len(err.splitlines()) == 1, err
  assert not (wd / "results.json").exists()


def test_same_results_on_four_devices(tmp_path):
  """Sharding the seed axis over 4 (virtual CPU) devices gives identical results."""
  outs = []
  for n in (1, 4):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    wd = tmp_path / f"d{n}"
    subprocess.run([sys.executable, "-m", "jaxnas.run", "--config", str(ROOT / "configs/nb201_re.py"),
                    "--workdir", str(wd), "--config.num_seeds=8", "--config.num_queries=40", "--quiet"],
                   check=True, env=env, cwd=ROOT)
    outs.append(json.loads((wd / "results.json").read_text())["seeds"])
  assert outs[0] == outs[1]
