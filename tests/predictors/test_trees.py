"""Host-side tree predictors (optional extra ``jaxnas[trees]``): same interface, outside jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import predictors as P
from jaxnas.spaces import nb201

SETTINGS = {
    "xgboost": ("xgboost", dict(n_estimators=20)),
    "lightgbm": ("lightgbm", dict(n_estimators=20)),
    "ngboost": ("ngboost", dict(n_estimators=20)),
    "random_forest": ("sklearn", dict(n_estimators=10)),
    "omni_xgboost": ("xgboost", dict(n_estimators=20)),
}


def _data(n=40, seed=0, omni=False):
  archs = nb201.sample(jax.random.key(seed), (n,))
  x = np.asarray(P.encode(archs))
  if omni:
    x = np.asarray(P.omni_features(x, np.arange(n) * 1e6))
  y = np.asarray(jnp.sum(archs.ops == nb201.CONV3X3, -1), np.float32)
  return x, y


@pytest.mark.parametrize("name", list(SETTINGS))
def test_tree_contract(name):
  module, kwargs = SETTINGS[name]
  pytest.importorskip(module)
  assert name in P.HOST_SIDE
  x, y = _data(omni=name.startswith("omni_"))
  pred = P.PREDICTORS[name](x.shape[1], **kwargs)
  assert not pred.jittable
  mask = np.arange(40) < 30
  key = jax.random.key(0)
  s1 = pred.fit(key, x, np.where(mask, y, np.nan), mask)
  s2 = pred.fit(key, x[mask], y[mask])
  m1, sd1 = pred.predict(s1, x[30:])
  m2, sd2 = pred.predict(s2, x[30:])
  assert m1.shape == sd1.shape == (10,)
  np.testing.assert_allclose(m1, m2, rtol=1e-5)  # masked rows are dropped; same seed, same model
  assert np.all(np.isfinite(m1)) and np.all(sd1 >= 0)
  with pytest.raises(ValueError, match="features but the predictor was built for"):
    pred.fit(key, x[:, :-1], y)
  with pytest.raises(ValueError, match="not finite"):
    pred.fit(key, x, np.where(np.arange(40) == 2, np.nan, y))
  with pytest.raises(ValueError, match="valid training points"):
    pred.fit(key, x[:1], y[:1])
  with pytest.raises(ValueError, match="inside jit"):
    jax.jit(pred.fit)(key, x, y)


def test_rf_std_is_tree_spread():
  pytest.importorskip("sklearn")
  x, y = _data()
  pred = P.PREDICTORS["random_forest"](30, n_estimators=10)
  mean, std = pred.predict(pred.fit(jax.random.key(0), x, y), x)
  assert np.all(std >= 0) and np.any(std > 0)
