"""Final training of a discrete NB201 network: resume == uninterrupted (exactly), accuracy far
above chance on Fashion-MNIST, and bad input."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxnas.config import load_config
from jaxnas.paths import REPO_ROOT
from jaxnas.drivers import train as tr

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def _tiny(shared_data):
  c = tr.train_config(ARCH)
  c.data.name = "fashion_mnist"
  c.data.path = str(shared_data / "images" / "fashion_mnist")
  c.data.max_examples = 2048
  c.data.test_max_examples = 512
  c.data.image_size = 8
  c.epochs, c.batch_size = 2, 64
  c.network.channels, c.network.cells_per_stage = 4, 1
  return c


def test_resume_gives_the_same_weights_and_learns(shared_data, tmp_path):
  c = _tiny(shared_data)
  full = tr.run_train(c, tmp_path / "a", quiet=True)
  part = tr.run_train(c, tmp_path / "b", quiet=True, stop_after=1)
  assert part["epochs_done"] == 1 and part["test_accuracy"] is None
  resumed = tr.run_train(c, tmp_path / "b", quiet=True)
  a, b = full["state"], resumed["state"]
  for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
  assert full["history"][-1]["test_accuracy"] == resumed["history"][-1]["test_accuracy"]
  res = json.loads((tmp_path / "b" / "results.json").read_text())
  assert res["epochs_done"] == 2 and res["arch"] == ARCH
  # 2 epochs of 32 steps of a 4-channel net on 8x8 images (measured 0.670 on 512 test images;
  # the documented full-size run is in the README): far above the 10% chance level
  assert res["test_accuracy"] > 0.6, res["test_accuracy"]
  assert res["train_loss"][1] < res["train_loss"][0]


def test_config_and_bad_input(shared_data, tmp_path):
  c = load_config(str(REPO_ROOT / "configs" / "nb201_train.py"))
  assert c.task == "train"
  for k in ("arch", "epochs", "batch_size", "seed", "lr", "weight_decay", "label_smoothing"):
    assert k in c
  assert (c.lr, c.weight_decay, c.batch_size) == (0.1, 5e-4, 256)
  c = _tiny(shared_data)
  c.arch = "|conv~0|"
  with pytest.raises(ValueError, match="not an architecture of search space nasbench201: "):
    tr.run_train(c, tmp_path, quiet=True)
  c.arch = "64-41414-3_32_132"  # a TransNAS-Bench-101 micro cell
  with pytest.raises(ValueError, match="^'64-41414-3_32_132' is an architecture of search space "
                     "transnas101_micro, not of nasbench201$"):
    tr.run_train(c, tmp_path, quiet=True)
  c = _tiny(shared_data)
  c.label_smoothing = 1.5
  with pytest.raises(ValueError, match="label_smoothing"):
    tr.run_train(c, tmp_path, quiet=True)
  c = load_config(str(REPO_ROOT / "configs" / "nb201_train.py"))
  c.data.path = str(tmp_path / "nowhere")
  with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
    tr.run_train(c, tmp_path, quiet=True)
