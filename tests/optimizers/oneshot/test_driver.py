"""The one-shot search driver end to end on Fashion-MNIST (real NB201 supernet, tiny), resume,
outputs, and the errors raised before anything is compiled."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxnas.drivers import oneshot as drv
from jaxnas.optimizers import oneshot
from jaxnas.config import load_config
from jaxnas.paths import REPO_ROOT
from jaxnas.spaces import nb201


def _tiny(name, shared_data, **kw):
  c = drv.oneshot_config(name, **kw)
  c.data.name = "fashion_mnist"
  c.data.path = str(shared_data / "images" / "fashion_mnist")
  c.data.max_examples = 64
  c.data.image_size = 8
  c.epochs, c.batch_size = 2, 16
  c.network.channels, c.network.cells_per_stage = 4, 1
  c.score_archs, c.score_batches = 10, 1
  return c


@pytest.mark.parametrize("name", ["rsws"])
def test_search_writes_results_and_resumes_exactly(name, shared_data, tmp_path):
  """2 epochs in one go == 1 epoch, 'kill', rerun (resumes from the checkpoint): same state,
  same per-epoch log; results.json / alphas.png / checkpoint written; the pick is scored."""
  c = _tiny(name, shared_data)
  full = drv.run_oneshot(c, tmp_path / "a", quiet=True)
  part = drv.run_oneshot(c, tmp_path / "b", quiet=True, stop_after=1)
  assert part["epochs_done"] == 1
  resumed = drv.run_oneshot(c, tmp_path / "b", quiet=True)
  for a, b in zip(_leaves(full["state"]), _leaves(resumed["state"])):
    np.testing.assert_array_equal(a, b)
  assert full["train_loss"] == resumed["train_loss"]
  res = json.loads((tmp_path / "b" / "results.json").read_text())
  assert (tmp_path / "b" / "alphas.png").stat().st_size > 0
  assert len(list((tmp_path / "b" / "checkpoints").glob("*/epoch_0002.msgpack"))) == 1
  assert res["benchmark_dataset"] == "cifar10" and "benchmark_note" in res
  assert len(res["train_loss"]) == len(res["valid_accuracy"]) == len(res["archs"]) == 2
  assert res["best_arch"] == res["archs"][-1]
  nb201.string_to_ops(res["best_arch"])
  assert res["best_arch_benchmark_val_accuracy"] > 0
  assert "best_score" in res["history"][-1]


def _leaves(tree):
  import jax  # pylint: disable=import-outside-toplevel
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_configs_load_and_bad_input(shared_data, tmp_path, monkeypatch):
  for name in ("darts", "gdas", "drnas", "snas", "pcdarts", "rsws", "oneshot"):
    c = load_config(str(REPO_ROOT / "configs" / f"nb201_{name}.py"))
    assert c.task == "oneshot" and c.optimizer.name == name
    assert set(c.optimizer.keys()) - {"name"} == set(oneshot.hyperparameters(name))
    for k in ("epochs", "batch_size", "seed"):
      assert k in c
    assert {"name", "path", "max_examples"} <= set(c.data.keys())
    assert {"channels", "cells_per_stage"} <= set(c.network.keys())
  c = _tiny("darts", shared_data)
  c.optimizer.name = "enas"
  with pytest.raises(ValueError, match="unknown one-shot optimizer 'enas'"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = _tiny("darts", shared_data, tau=3.0)
  with pytest.raises(ValueError, match="unknown hyperparameter 'tau'"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = _tiny("darts", shared_data)
  monkeypatch.setattr(drv, "_device_count", lambda: 3)
  with pytest.raises(ValueError, match="batch_size 16 is not divisible by the 3 devices"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  monkeypatch.undo()
  c = load_config(str(REPO_ROOT / "configs" / "nb201_darts.py"))
  c.data.path = str(tmp_path / "nowhere")
  with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz.*data.path"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = _tiny("darts", shared_data)
  c.data.name = "svhn"
  with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = _tiny("darts", shared_data)
  c.batch_size = 1000
  with pytest.raises(ValueError, match="exceeds"):
    drv.run_oneshot(c, tmp_path, quiet=True)
