"""The one-shot driver (task ``oneshot``) on a space other than NB201: TransNAS-Bench-101 micro,
tiny (one module of the skeleton, 4 channels, Fashion-MNIST 16x16), looked up in the table built
from NASLib's zip; and its config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.config import load_config
from jaxnas.paths import REPO_ROOT
from jaxnas.drivers import oneshot as drv

TNB = spaces.get_space("transnas101_micro")


def _tiny(name, shared_data, table=None):
  c = drv.oneshot_config(name, search_space="transnas101_micro")
  c.data.name = "fashion_mnist"
  c.data.path = str(shared_data / "images" / "fashion_mnist")
  c.data.max_examples = 32
  c.data.image_size = 16
  c.epochs, c.batch_size = 1, 16
  # one module (digit 4: channels x2, stride 2) instead of 41414: the full 10-cell supernet takes
  # minutes to compile here
  c.network.channels, c.network.skeleton = 4, "4"
  c.score_archs, c.score_batches = 10, 1
  if table is not None:
    c.benchmark.path = str(table)
    c.benchmark.dataset = "class_scene"
  return c


def test_config_defaults_of_a_second_space():
  c = drv.oneshot_config("darts", search_space="transnas101_micro")
  assert c.search_space == "transnas101_micro"
  assert dict(c.network) == {"channels": 64, "skeleton": "41414"}
  assert c.benchmark.name == "" and c.benchmark.dataset == ""
  nb = drv.oneshot_config("darts")
  assert nb.search_space == "nasbench201" and dict(nb.network) == {"channels": 16,
                                                                   "cells_per_stage": 5}
  assert nb.benchmark.name == "nasbench201"
  f = load_config(str(REPO_ROOT / "configs" / "transnas101_micro_darts.py"))
  assert f.search_space == "transnas101_micro" and f.optimizer.name == "darts"
  assert f.benchmark.dataset == "class_scene"
  smoke = load_config(str(REPO_ROOT / "configs" / "transnas101_micro_darts.py") + ":smoke")
  assert dict(smoke.network) == {"channels": 8, "skeleton": "4"}


# ~35 CPU-s, mostly compile: DARTS on the TNB micro supernet, end to end (CI's second step)
@pytest.mark.extended
def test_darts_on_transnas_micro_supernet(shared_data, tnb_micro_table, tmp_path):
  """Also the proof that DARTS learns on this supernet (a library-level test of it compiled a
  second program of the same network for ~50 CPU-s): loss falls, the alphas leave their 1e-3
  init, and the discretised cell is the alphas' argmax, valid and looked up in the table."""
  c = _tiny("darts", shared_data, tnb_micro_table)
  c.epochs = 3
  c.optimizer.lr, c.optimizer.arch_lr = 0.1, 3e-2
  res = drv.run_oneshot(c, tmp_path, quiet=True)
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["search_space"] == "transnas101_micro" and saved["epochs_done"] == 3
  loss = saved["train_loss"]
  assert np.all(np.isfinite(loss)) and loss[-1] < loss[0] - 0.05, loss
  arch = TNB.from_string(saved["best_arch"])  # the space's string form, 64-41414-a_bc_def
  assert saved["best_arch"].startswith("64-41414-") and bool(TNB.is_valid(arch))
  assert saved["benchmark_dataset"] == "class_scene" and "benchmark_note" in saved
  assert 0 < saved["best_arch_benchmark_val_accuracy"] < 100
  w = np.asarray(saved["history"][-1]["op_weights"])
  assert w.shape == (TNB.num_edges, TNB.num_ops)  # [6, 4]
  np.testing.assert_array_equal(np.asarray(arch.ops), w.argmax(-1))  # DARTS' discretisation
  assert np.abs(w - 1 / TNB.num_ops).max() > 1e-2, w  # the alphas moved (init: softmax ~ uniform)
  assert res["best_arch"] == saved["best_arch"]
  assert (tmp_path / "alphas.png").stat().st_size > 0


def test_errors_before_compiling(shared_data, tmp_path):
  c = _tiny("darts", shared_data)
  c.network.cells_per_stage = 2  # ignored where the network has no stages of N cells
  c.network.depth = 3
  with pytest.raises(ValueError, match="unknown network key 'depth' for search space "
                                       "transnas101_micro; valid: channels, skeleton"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = _tiny("darts", shared_data)
  c.search_space = "nasbench301"
  with pytest.raises(ValueError, match="unknown search space 'nasbench301'; valid: nasbench201"):
    drv.run_oneshot(c, tmp_path, quiet=True)
  c = _tiny("darts", shared_data)
  c.benchmark.name = "nasbench201"
  with pytest.raises(ValueError, match="indexes search space 'nasbench201', not "
                                       "'transnas101_micro'"):
    drv.run_oneshot(c, tmp_path, quiet=True)
