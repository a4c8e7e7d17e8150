"""Multi-process runs on ``jax.distributed`` (issue 17's "must show"), through the public path:
``python -m jaxnas.launch --num-processes 2 -- python -m jaxnas.run ...``.

ONE launched run (a module-scoped fixture: each process pays its JAX import and compiles once)
does RE on NB201 (1,000 seeds x 150 queries, two chunks of 500), two data-parallel DARTS steps
of a tiny supernet (C=4, N=1, 8x8 Fashion-MNIST, batch 8: one epoch of two steps, the batch
sharded over the two processes' devices) and two data-parallel final-training steps of a tiny
NB201 network (2 epochs of one batch of 8, and the same stopped after epoch 1); the
single-device references run in this process.
Also: ``initialize`` settings and errors, and ``bench device --quick``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxnas import distributed, run

ROOT = pathlib.Path(__file__).resolve().parents[1]
RE = ["--config", str(ROOT / "configs/nb201_re.py"), "--config.num_seeds=1000",
      "--config.num_queries=150", "--config.chunk_seeds=500", "--quiet"]


def _darts(shared_data) -> list[str]:
  return ["--config", str(ROOT / "configs/nb201_darts.py"), "--config.data.name=fashion_mnist",
          f"--config.data.path={shared_data / 'images' / 'fashion_mnist'}",
          "--config.data.max_examples=16", "--config.data.image_size=8", "--config.epochs=1",
          "--config.batch_size=8", "--config.network.channels=4",
          "--config.network.cells_per_stage=1", "--quiet"]


def _train(shared_data) -> list[str]:
  """Final training of a tiny NB201 network: 8 Fashion-MNIST images at 8x8, batch 8 (one step
  per epoch, the batch sharded over the devices), 2 epochs, 8 test images."""
  return ["--config", str(ROOT / "configs/nb201_train.py"), "--config.data.name=fashion_mnist",
          f"--config.data.path={shared_data / 'images' / 'fashion_mnist'}",
          "--config.data.max_examples=8", "--config.data.test_max_examples=8",
          "--config.data.image_size=8", "--config.epochs=2", "--config.batch_size=8",
          "--config.network.channels=4", "--config.network.cells_per_stage=1", "--quiet"]


@pytest.fixture(scope="module")
def launched(shared_data, tmp_path_factory):
  """Workdirs of RE, DARTS and final training run by ``jaxnas.launch --num-processes 2`` (one
  device each), in one launch: each process imports JAX once. ``train_part`` is the training
  run stopped after its first epoch (``run_train(stop_after=1)``, as if killed; the same
  compiled programs)."""
  wd = tmp_path_factory.mktemp("launched")
  train = _train(shared_data)
  overrides = [a[len("--config."):].split("=", 1) for a in train if a.startswith("--config.")]
  child = "\n".join([
      "import sys",
      "from jaxnas import run",
      "from jaxnas.config import load_config, override",
      "from jaxnas.drivers.train import run_train",
      f"rc = run.main({RE + ['--workdir', str(wd / 're')]!r})",
      f"rc = rc or run.main({_darts(shared_data) + ['--workdir', str(wd / 'darts')]!r})",
      f"rc = rc or run.main({train + ['--workdir', str(wd / 'train')]!r})",
      "if not rc:",
      f"  c = load_config({train[1]!r})",
      f"  for k, v in {overrides!r}: override(c, k, v)",
      f"  run_train(c, {str(wd / 'train_part')!r}, quiet=True, stop_after=1)",
      "sys.exit(rc)"])
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  p = subprocess.run([sys.executable, "-m", "jaxnas.launch", "--num-processes", "2", "--",
                      sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True,
                     text=True, timeout=900)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  return wd, p.stdout + p.stderr


@pytest.mark.extended
@pytest.mark.slow  # two processes each import JAX and compile RE and a DARTS step
def test_two_processes_give_single_process_re_results_and_resume_on_one(launched, tmp_path):
  wd2, _ = launched
  two = json.loads((wd2 / "re" / "results.json").read_text())
  assert two["num_seeds"] == 1000 and len(two["seeds"]) == 1000
  assert run.main(RE + ["--workdir", str(tmp_path / "one")]) == 0
  one = json.loads((tmp_path / "one" / "results.json").read_text())
  assert one["seeds"] == two["seeds"] and one["summary"] == two["summary"]
  # resume across process counts: the run of two processes "killed" after its first chunk
  # (second chunk and outputs removed), finished by one process
  resumed = tmp_path / "resumed"
  shutil.copytree(wd2 / "re", resumed)
  chunks = sorted((resumed / "chunks").rglob("*.npz"))
  assert [c.name for c in chunks] == ["seeds_000000_500.npz", "seeds_000500_500.npz"]
  chunks[1].unlink()
  (resumed / "results.json").unlink()
  assert run.main(RE + ["--workdir", str(resumed)]) == 0
  assert json.loads((resumed / "results.json").read_text())["seeds"] == one["seeds"]
  assert len(list((resumed / "chunks").rglob("*.npz"))) == 2


@pytest.mark.extended
@pytest.mark.slow  # compiles the tiny supernet's DARTS step here and in each of two processes
def test_data_parallel_darts_steps_equal_single_device(launched, shared_data, tmp_path):
  wd2, log = launched
  two = json.loads((wd2 / "darts" / "results.json").read_text())
  assert run.main(_darts(shared_data) + ["--workdir", str(tmp_path)]) == 0
  one = json.loads((tmp_path / "results.json").read_text())
  assert len(two["history"]) == len(one["history"]) == 1
  for k in ("train_loss", "valid_loss", "train_accuracy", "valid_accuracy"):
    np.testing.assert_allclose(two[k], one[k], atol=1e-5, rtol=0, err_msg=k)
  np.testing.assert_allclose(two["history"][0]["op_weights"], one["history"][0]["op_weights"],
                             atol=1e-5)
  assert "[p0/2]" not in log  # --quiet: no progress lines, and only process 0 wrote
  # the checkpoint written by two processes restores on one device, equal to the one made here
  from jaxnas.drivers.io import load_checkpoint  # pylint: disable=import-outside-toplevel
  from flax import serialization  # pylint: disable=import-outside-toplevel
  (c2,) = (wd2 / "darts" / "checkpoints").rglob("epoch_0001.msgpack")
  (c1,) = (tmp_path / "checkpoints").rglob("epoch_0001.msgpack")
  template = serialization.msgpack_restore(c1.read_bytes())["state"]
  _, s2, _ = load_checkpoint(c2.parent, template)
  _, s1, _ = load_checkpoint(c1.parent, template)
  assert s2 is not None and len(jax.tree.leaves(s2)) == len(jax.tree.leaves(s1)) > 10
  for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s2)):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-5)


@pytest.mark.extended
@pytest.mark.slow  # compiles the tiny network's training programs here and in each of 2 processes
def test_data_parallel_training_equals_single_device_and_restores_on_one(launched, shared_data,
                                                                          tmp_path):
  """Final training data parallel over 2 processes (the batch of 8 sharded, BN over the whole
  batch) gives the single-device losses and weights; its checkpoint after epoch 1 resumes on one
  device and ends where the single-device run ends."""
  from jaxnas.drivers.io import load_checkpoint  # pylint: disable=import-outside-toplevel
  from flax import serialization  # pylint: disable=import-outside-toplevel
  wd2, _ = launched
  two = json.loads((wd2 / "train" / "results.json").read_text())
  assert run.main(_train(shared_data) + ["--workdir", str(tmp_path / "one")]) == 0
  one = json.loads((tmp_path / "one" / "results.json").read_text())
  assert two["epochs_done"] == one["epochs_done"] == 2 and two["num_train"] == 8
  for k in ("train_loss", "train_accuracy", "test_accuracy_per_epoch"):
    np.testing.assert_allclose(two[k], one[k], atol=1e-5, rtol=0, err_msg=k)
  assert 0.5 < one["train_loss"][0] < 2 * np.log(10), one["train_loss"]
  # the epoch-1 checkpoint written by 2 processes, resumed (epoch 2) on this one device
  resumed = tmp_path / "resumed"
  shutil.copytree(wd2 / "train_part", resumed)
  assert json.loads((resumed / "results.json").read_text())["epochs_done"] == 1
  assert run.main(_train(shared_data) + ["--workdir", str(resumed)]) == 0
  res = json.loads((resumed / "results.json").read_text())
  np.testing.assert_allclose(res["train_loss"], one["train_loss"], atol=1e-5, rtol=0)
  ckpts = {}
  for name, folder in (("one", tmp_path / "one"), ("two", wd2 / "train"), ("resumed", resumed)):
    (path,) = (folder / "checkpoints").rglob("epoch_0002.msgpack")
    ckpts[name] = path
  template = serialization.msgpack_restore(ckpts["one"].read_bytes())["state"]
  states = {k: load_checkpoint(v.parent, template)[1] for k, v in ckpts.items()}
  ref = jax.tree.leaves(states["one"])
  assert len(ref) > 10
  for name in ("two", "resumed"):
    leaves = jax.tree.leaves(states[name])
    assert len(leaves) == len(ref), name
    for a, b in zip(ref, leaves):
      np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-5,
                                 err_msg=name)


def test_settings_from_config_and_environment(monkeypatch):
  for k in (distributed.ENV_COORDINATOR, distributed.ENV_NUM_PROCESSES,
            distributed.ENV_PROCESS_ID, distributed.ENV_AUTO):
    monkeypatch.delenv(k, raising=False)
  assert distributed._settings(None) is None
  assert distributed._settings({"distributed": {}}) is None
  assert distributed.initialize(None) is False  # one process: nothing starts, nothing changes
  monkeypatch.setenv(distributed.ENV_COORDINATOR, "host:1234")
  monkeypatch.setenv(distributed.ENV_NUM_PROCESSES, "4")
  monkeypatch.setenv(distributed.ENV_PROCESS_ID, "3")
  assert distributed._settings(None) == {"coordinator_address": "host:1234", "num_processes": 4,
                                         "process_id": 3}
  # config keys win over the environment
  cfg = {"distributed": {"coordinator_address": "other:1", "process_id": 0}}
  assert distributed._settings(cfg) == {"coordinator_address": "other:1", "num_processes": 4,
                                        "process_id": 0}
  monkeypatch.setenv(distributed.ENV_PROCESS_ID, "4")
  with pytest.raises(ValueError, match=r"process_id must be in \[0, 4\), got 4"):
    distributed._settings(None)
  monkeypatch.delenv(distributed.ENV_PROCESS_ID)
  with pytest.raises(ValueError, match="needs coordinator_address, num_processes and process_id"):
    distributed._settings(None)
  monkeypatch.delenv(distributed.ENV_COORDINATOR)
  monkeypatch.delenv(distributed.ENV_NUM_PROCESSES)
  monkeypatch.setenv(distributed.ENV_AUTO, "auto")  # JAX's own Slurm / MPI / TPU detection
  assert distributed._settings(None) == {}
  assert distributed._settings({"distributed": {"num_processes": 1}}) == {"num_processes": 1}


def test_single_process_helpers_change_nothing():
  assert distributed.is_writer() and distributed.log_prefix() == ""
  x = {"a": np.arange(3)}
  assert distributed.gather(x)["a"].tolist() == [0, 1, 2] and distributed.agree(x) is x
  assert distributed.padded_size(5) == -(-5 // jax.device_count()) * jax.device_count()


def test_bad_distributed_override_is_one_line(tmp_path, capsys):
  rc = run.main(["--config", str(ROOT / "configs/nb201_re.py"), "--workdir", str(tmp_path),
                 "--config.distributed.num_processes=2", "--quiet"])
  err = capsys.readouterr().err.strip()
  assert rc == 2 and len(err.splitlines()) == 1 and "needs coordinator_address" in err, err


@pytest.mark.extended
@pytest.mark.slow  # every part's program compiles (tiny sizes): the only proof of the suite
def test_bench_device_quick(tmp_path):
  """``python -m jaxnas.bench device --quick`` on two forced CPU devices (so the seeds, the jacov
  cells and the supernet batch are sharded): every part reports finite figures."""
  out = tmp_path / "device.json"
  env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu",
             XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") +
                        " --xla_force_host_platform_device_count=2").strip())
  p = subprocess.run([sys.executable, "-m", "jaxnas.bench", "device", "--quick", "--json",
                      str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
  r = json.loads(out.read_text())
  assert r["quick"] and r["device_count"] == 2 and r["sizes"]["re_queries"] == 30
  # --quick compiles with XLA's cheapest settings, added to the flags the caller set
  assert set(device_quick_flags()) <= set(r["xla_flags"].split()), r["xla_flags"]
  assert "--xla_force_host_platform_device_count=2" in r["xla_flags"].split()
  assert set(r["results"]) == {"re", "synflow", "jacov", "darts", "gdas", "bananas"}
  # one process: the programs were built by one thread per core (at most one per part) first
  assert r["build_threads"] == min(6, os.cpu_count()) and 0 < r["build_s"] < r["total_s"]
  for part in ("re", "bananas"):
    assert r["results"][part]["us_per_seed_run"] > 0
    assert 85 < r["results"][part]["mean_best_val_accuracy"] < 92
  for part in ("synflow", "jacov"):
    assert r["results"][part]["finite"] == r["results"][part]["num_archs"]
    assert r["results"][part]["archs_per_s"] > 0
  # jacov with the cells sharded over the 2 devices == score_many on one (float rounding)
  assert r["results"]["jacov"]["max_abs_diff_vs_unsharded"] < 1e-4
  for part in ("darts", "gdas"):
    x = r["results"][part]
    assert x["step_ms"] > 0 and x["epoch_s"] == pytest.approx(x["steps_per_epoch"] * x["step_ms"] / 1e3)
    assert 0.5 < x["train_loss"] < 2 * np.log(10)


def device_quick_flags():
  from jaxnas.bench_suites import device  # pylint: disable=import-outside-toplevel
  return device.QUICK_XLA_FLAGS


def test_bench_device_quick_flags_keep_the_callers():
  """``with_quick_flags`` adds each quick compile flag the caller's ``XLA_FLAGS`` does not set and
  keeps the caller's value of one it does."""
  from jaxnas.bench_suites import device  # pylint: disable=import-outside-toplevel
  assert device.with_quick_flags("") == " ".join(device.QUICK_XLA_FLAGS)
  got = device.with_quick_flags(" --xla_backend_optimization_level=2  --xla_foo=1 ").split()
  assert got == ["--xla_backend_optimization_level=2", "--xla_foo=1",
                 "--xla_cpu_use_fusion_emitters=false"]


def test_bench_device_bad_names_and_lazy_build():
  """Unknown parts or sizes are one-line errors before anything compiles; RE and BANANAS have no
  build phase, and one build thread (several processes) builds each part lazily, when it runs."""
  from jaxnas.bench_suites import device  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match="unknown device bench part 'dart'; valid: re, synflow"):
    device.run(None, quick=True, parts=["re", "dart"])
  with pytest.raises(ValueError, match="unknown device bench size 'seeds'; valid: re_seeds"):
    device.run(None, quick=True, sizes={"seeds": 4})
  assert device._build(["re", "bananas"], dict(device.QUICK), True, 2) == {}
  lazy = device._build(["re", "darts", "jacov"], dict(device.QUICK), True, 1)
  assert sorted(lazy) == ["darts", "jacov"] and all(callable(f) for f in lazy.values())
