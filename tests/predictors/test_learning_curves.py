"""Learning-curve predictors on synthetic curves and on the official NATS-Bench fixture."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.predictors import learning_curves as lc


def test_sotl_and_early_stopping_shapes_and_values():
  losses = jnp.array([[3.0, 2.0, 1.0], [3.0, 2.5, 2.0]])
  np.testing.assert_allclose(lc.sotl(losses, 2, window=1), [-2.0, -2.5])
  np.testing.assert_allclose(lc.sotl(losses, 3, window=None), [-6.0, -7.5])
  np.testing.assert_allclose(lc.sovl(losses, 3, window=2), [-3.0, -4.5])
  np.testing.assert_allclose(lc.early_stopping(losses, 1), [3.0, 3.0])
  with pytest.raises(ValueError, match="epoch must be in 1..3"):
    lc.sotl(losses, 4)


def test_lce_recovers_a_pow3_curve():
  t = np.arange(1, 201, dtype=np.float32)
  curves = np.stack([90 - 60 * t ** -0.7, 80 - 50 * t ** -0.5]).astype(np.float32)
  pred = lc.lce(curves, epoch=40, final_epoch=200, num_steps=1500)
  np.testing.assert_allclose(pred, curves[:, -1], atol=1.0)
  with pytest.raises(ValueError, match="epoch >= 3"):
    lc.lce(curves, epoch=2, final_epoch=200)


def test_nats_fixture_curves(shared_data):
  folder = shared_data / "nb201" / "nats_fixture" / "NATS-tss-v1_0-3ffb9-simple"
  c = lc.load_nats_curves(folder, "cifar10-valid", "200")
  assert c["val_accuracy"].shape == c["train_losses"].shape == (3, 200)
  assert sorted(c["official_index"].tolist()) == [0, 11, 284]
  score = np.asarray(lc.sotl(c["train_losses"], epoch=12, window=1))
  np.testing.assert_allclose(score, -c["train_losses"][:, 11], rtol=1e-6)
  assert np.all(c["val_accuracy"] > 0) and np.all(c["val_accuracy"] <= 100)
  c12 = lc.load_nats_curves(folder, "cifar10-valid", "12")
  assert c12["val_accuracy"].shape == (3, 12)
  with pytest.raises(FileNotFoundError, match="pickle.pbz2"):
    lc.load_nats_curves(shared_data)
