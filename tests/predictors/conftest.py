"""Fixtures of the predictor tests."""

import importlib

import jax
import jax.numpy as jnp
import pytest

from jaxnas import predictors as P
from jaxnas.spaces import nb201

G = importlib.import_module("jaxnas.predictors.gp")


def _nb201_gp_draw(key, n: int = 400):
  """``(x, f, noise_key)``: ``n`` random NB201 cells one-hot encoded and ``f``, a Matern-5/2 GP
  draw (lengthscale 3, amplitude 1) on them; traceable (use under ``jit``)."""
  ka, kf, kn = jax.random.split(key, 3)
  ids = jax.random.choice(ka, nb201.NUM_ARCHS, (n,), replace=False)
  x = P.encode(nb201.Arch(ops=nb201.all_archs().ops[ids]))
  k = G.kernel_matrix("matern52", {"log_ls": jnp.log(3.0), "log_amp": jnp.zeros(())}, x, x)
  f = jnp.linalg.cholesky(k + 1e-5 * jnp.eye(n)) @ jax.random.normal(kf, (n,))
  return x, f, kn


@pytest.fixture
def nb201_gp_draw():
  return _nb201_gp_draw
