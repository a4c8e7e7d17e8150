"""Gaussian-process predictors: an exact GP and a sparse variational GP (SGPR).

Both standardise the targets, fit kernel hyperparameters (lengthscale(s), signal variance, noise
variance) by maximising the (collapsed) marginal likelihood with a fixed number of Adam steps in a
``lax.scan``, and handle the training buffer's mask exactly: masked rows get a kernel row/column of
zeros, unit diagonal and target 0, which leaves the likelihood's dependence on the hyperparameters
and every prediction identical to a GP on the valid subset.

References:
  Rasmussen & Williams, "Gaussian Processes for Machine Learning", MIT Press 2006 (ch. 2, 5).
  Titsias, "Variational Learning of Inducing Variables in Sparse Gaussian Processes", AISTATS 2009.
  White et al., "How Powerful are Performance Predictors in NAS?", NeurIPS 2021 (GP, sparse GP
  and var. sparse GP baselines).
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas.predictors import _base

KERNELS = ("rbf", "matern52", "matern32")
_MIN_NOISE = 1e-3  # in standardised units; float32 Cholesky needs the floor
_JITTER = 1e-5


def _sqdist(a, b, ls):
  a = a / ls
  b = b / ls
  d = jnp.sum(a * a, -1)[:, None] + jnp.sum(b * b, -1)[None, :] - 2.0 * a @ b.T
  return jnp.maximum(d, 0.0)


def kernel_matrix(kind: str, params: dict, a: jax.Array, b: jax.Array) -> jax.Array:
  """Stationary kernel ``k(a_i, b_j)`` with (ARD) lengthscales ``exp(params["log_ls"])`` and
  signal variance ``exp(params["log_amp"])``; ``kind`` in ``KERNELS``."""
  ls = jnp.exp(params["log_ls"])
  amp = jnp.exp(params["log_amp"])
  d2 = _sqdist(a, b, ls)
  if kind == "rbf":
    return amp * jnp.exp(-0.5 * d2)
  # sqrt has an infinite gradient at 0; the epsilon keeps the hyperparameter gradient finite.
  r = jnp.sqrt(d2 + 1e-12)
  if kind == "matern52":
    s = math.sqrt(5.0) * r
    return amp * (1.0 + s + s * s / 3.0) * jnp.exp(-s)
  if kind == "matern32":
    s = math.sqrt(3.0) * r
    return amp * (1.0 + s) * jnp.exp(-s)
  raise ValueError(f"unknown kernel {kind!r}; valid: {', '.join(KERNELS)}")


def _init_params(x, mask, num_features: int, ard: bool):
  """Data-driven start: lengthscale = RMS distance between valid points, unit signal, noise 0.1."""
  m = mask.astype(jnp.float32)
  d2 = _sqdist(x, x, jnp.ones(()))
  pair = m[:, None] * m[None, :]
  mean_d2 = jnp.sum(d2 * pair) / jnp.maximum(jnp.sum(pair) - jnp.sum(m), 1.0)
  log_ls = 0.5 * jnp.log(jnp.maximum(mean_d2, 1e-6))
  if ard:
    log_ls = jnp.full((num_features,), log_ls)
  return {"log_ls": log_ls, "log_amp": jnp.zeros(()), "log_noise": jnp.log(jnp.asarray(0.1))}


def _noise(params):
  return jnp.exp(params["log_noise"]) + _MIN_NOISE


def _hyper_prior(params):
  # A weak log-normal prior keeps the marginal-likelihood fit away from degenerate optima
  # (zero noise, infinite lengthscale) when there are only ~10 points.
  return 0.5 * (jnp.sum(jnp.square(params["log_amp"])) + jnp.square(params["log_noise"] + 2.0)) / 4.0


@flax.struct.dataclass
class GPState:
  """A fitted exact GP (``N`` = buffer size, ``D`` features)."""

  params: dict  # log_ls [] or [D], log_amp [], log_noise []
  x: jax.Array  # [N, D] training inputs (masked rows zeroed)
  mask: jax.Array  # [N] bool
  chol: jax.Array  # [N, N] Cholesky factor of the masked K + noise
  alpha: jax.Array  # [N] K^-1 y (standardised)
  y_mean: jax.Array  # []
  y_std: jax.Array  # []
  num_valid: jax.Array  # [] int32


def _masked_gram(kind, params, x, mask):
  m = mask.astype(jnp.float32)
  k = kernel_matrix(kind, params, x, x) * (m[:, None] * m[None, :])
  diag = jnp.where(mask, _noise(params) + _JITTER, 1.0)
  return k + jnp.diag(diag)


def _gp_nll(params, kind, x, y, mask):
  k = _masked_gram(kind, params, x, mask)
  chol = jnp.linalg.cholesky(k)
  alpha = jax.scipy.linalg.cho_solve((chol, True), y)
  n = jnp.maximum(jnp.sum(mask), 1).astype(jnp.float32)
  logdet = jnp.sum(jnp.log(jnp.diag(chol)))  # masked rows contribute log 1 = 0
  nll = 0.5 * jnp.dot(y, alpha) + logdet + 0.5 * n * jnp.log(2 * jnp.pi)
  return nll / n + _hyper_prior(params) / n


def gp(num_features: int, *, kernel: str = "matern52", ard: bool = False, num_steps: int = 100,
       learning_rate: float = 0.05, include_noise: bool = True) -> _base.Predictor:
  """Exact GP regression with marginal-likelihood-fitted kernel hyperparameters.

  Args:
    num_features: feature size ``D`` (30 for NB201 ``adjacency_one_hot``).
    kernel: one of ``KERNELS``.
    ard: one lengthscale per feature instead of a shared one.
    num_steps: Adam steps on the negative log marginal likelihood (static: sets the scan length).
    learning_rate: Adam step size on the log hyperparameters.
    include_noise: whether ``std`` includes the fitted observation noise (the predictive std of
      a new observation, which is what calibration against held-out targets measures) or only the
      latent function's.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` whose state is :class:`GPState`. Fit cost is
    ``num_steps`` Cholesky factorisations of the ``N x N`` buffer.

  References:
    Rasmussen & Williams 2006, Algorithm 2.1 and section 5.4.1.
  """
  if kernel not in KERNELS:
    raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")

  def fit_fn(key, x, y, mask):
    del key  # deterministic given the data
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    p0 = _init_params(x, mask, num_features, ard)
    params, _ = _base.adam_scan(_gp_nll, p0, num_steps, learning_rate, kernel, x, ys, mask)
    chol = jnp.linalg.cholesky(_masked_gram(kernel, params, x, mask))
    alpha = jax.scipy.linalg.cho_solve((chol, True), ys)
    return GPState(params=params, x=x, mask=mask, chol=chol, alpha=alpha, y_mean=mu, y_std=sd,
                   num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del key
    x = jnp.zeros((buffer_size, num_features))
    mask = jnp.zeros((buffer_size,), bool)
    params = _init_params(x, mask, num_features, ard)
    return GPState(params=params, x=x, mask=mask, chol=jnp.eye(buffer_size),
                   alpha=jnp.zeros((buffer_size,)), y_mean=jnp.zeros(()), y_std=jnp.ones(()),
                   num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, xq):
    m = state.mask.astype(jnp.float32)
    ks = kernel_matrix(kernel, state.params, xq, state.x) * m[None, :]  # [M, N]
    mean = ks @ state.alpha
    v = jax.scipy.linalg.solve_triangular(state.chol, ks.T, lower=True)  # [N, M]
    var = jnp.exp(state.params["log_amp"]) - jnp.sum(v * v, 0)
    if include_noise:
      var = var + _noise(state.params)
    std = jnp.sqrt(jnp.maximum(var, 1e-12))
    ok = state.num_valid >= 1
    mean = jnp.where(ok, mean, 0.0) * state.y_std + state.y_mean
    std = jnp.where(ok, std * state.y_std, jnp.inf)
    return mean, std

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)


@flax.struct.dataclass
class SparseGPState:
  """A fitted sparse variational GP with ``P`` inducing points."""

  params: dict
  z: jax.Array  # [P, D] inducing inputs
  z_mask: jax.Array  # [P] bool: inducing slots that hold a valid training point
  mean_w: jax.Array  # [P] such that mean(x) = k(x, Z) @ mean_w
  chol_kzz: jax.Array  # [P, P]
  chol_a: jax.Array  # [P, P] Cholesky of Kzz + Kzx Kxz / noise
  y_mean: jax.Array
  y_std: jax.Array
  num_valid: jax.Array


def _pick_inducing(x, mask, num_inducing: int):
  """The first ``num_inducing`` valid rows in buffer order (fewer valid: all of them).

  Buffer order, not a random draw: a random draw over buffer slots would depend on where the
  masked rows sit, and the masked fit must equal the fit on the valid subset. In a search loop the
  buffer fills in evaluation order, so these are the first architectures evaluated.
  """
  rank = jnp.cumsum(mask) - 1  # position among valid rows
  score = jnp.where(mask, -rank.astype(jnp.float32), -jnp.inf)
  _, idx = jax.lax.top_k(score, num_inducing)
  return x[idx], mask[idx]


def _sgpr_terms(params, kind, x, y, mask, z, z_mask):
  m = mask.astype(jnp.float32)
  zm = z_mask.astype(jnp.float32)
  noise = _noise(params)
  kzz = kernel_matrix(kind, params, z, z) * (zm[:, None] * zm[None, :])
  kzz = kzz + jnp.diag(jnp.where(z_mask, 1e-4 * jnp.exp(params["log_amp"]), 1.0))
  kzx = kernel_matrix(kind, params, z, x) * (zm[:, None] * m[None, :])  # [P, N]
  lz = jnp.linalg.cholesky(kzz)
  a = kzz + kzx @ kzx.T / noise
  la = jnp.linalg.cholesky(a)
  return noise, kzz, kzx, lz, la


def _sgpr_neg_elbo(params, kind, x, y, mask, z, z_mask):
  # Titsias' collapsed bound: log N(y | 0, Q + s2 I) - tr(K - Q) / (2 s2), Q = Kxz Kzz^-1 Kzx.
  noise, _, kzx, lz, la = _sgpr_terms(params, kind, x, y, mask, z, z_mask)
  m = mask.astype(jnp.float32)
  n = jnp.maximum(jnp.sum(m), 1.0)
  b = jax.scipy.linalg.solve_triangular(la, kzx @ y, lower=True) / noise
  quad = jnp.dot(y, y) / noise - jnp.dot(b, b)
  # log|Q + s2 I| = n log s2 + log|A| - log|Kzz| (matrix determinant lemma)
  logdet = n * jnp.log(noise) + 2 * jnp.sum(jnp.log(jnp.diag(la))) - 2 * jnp.sum(jnp.log(jnp.diag(lz)))
  v = jax.scipy.linalg.solve_triangular(lz, kzx, lower=True)
  trace = (n * jnp.exp(params["log_amp"]) - jnp.sum(v * v)) / noise
  nelbo = 0.5 * (quad + logdet + n * jnp.log(2 * jnp.pi) + trace)
  return nelbo / n + _hyper_prior(params) / n


def sparse_gp(num_features: int, *, num_inducing: int = 64, kernel: str = "matern52",
              ard: bool = False, num_steps: int = 100, learning_rate: float = 0.05,
              include_noise: bool = True) -> _base.Predictor:
  """Sparse variational GP regression (SGPR, Titsias' collapsed evidence lower bound).

  Inducing inputs are the first ``num_inducing`` valid training points (fixed during the
  hyperparameter fit); with fewer valid points than that, every valid point is used and the model
  coincides with an exact GP up to the inducing jitter. Cost per step is ``O(N P^2)``.

  Args:
    num_features: feature size ``D``.
    num_inducing: number of inducing points ``P`` (static).
    kernel, ard, num_steps, learning_rate, include_noise: as for :func:`gp`.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`SparseGPState`.

  References:
    Titsias, AISTATS 2009; predictive equations as in GPflow's ``SGPR.predict_f``.
  """
  if kernel not in KERNELS:
    raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")

  def fit_fn(key, x, y, mask):
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    p = min(num_inducing, x.shape[0])
    del key  # deterministic given the data
    z, z_mask = _pick_inducing(x, mask, p)
    p0 = _init_params(x, mask, num_features, ard)
    params, _ = _base.adam_scan(_sgpr_neg_elbo, p0, num_steps, learning_rate, kernel, x, ys, mask,
                                z, z_mask)
    noise, _, kzx, lz, la = _sgpr_terms(params, kernel, x, ys, mask, z, z_mask)
    mean_w = jax.scipy.linalg.cho_solve((la, True), kzx @ ys) / noise
    return SparseGPState(params=params, z=z, z_mask=z_mask, mean_w=mean_w, chol_kzz=lz,
                         chol_a=la, y_mean=mu, y_std=sd,
                         num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del key
    p = min(num_inducing, buffer_size)
    params = _init_params(jnp.zeros((1, num_features)), jnp.zeros((1,), bool), num_features, ard)
    return SparseGPState(params=params, z=jnp.zeros((p, num_features)), z_mask=jnp.zeros((p,), bool),
                         mean_w=jnp.zeros((p,)), chol_kzz=jnp.eye(p), chol_a=jnp.eye(p),
                         y_mean=jnp.zeros(()), y_std=jnp.ones(()),
                         num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, xq):
    zm = state.z_mask.astype(jnp.float32)
    ksz = kernel_matrix(kernel, state.params, xq, state.z) * zm[None, :]  # [M, P]
    mean = ksz @ state.mean_w
    v1 = jax.scipy.linalg.solve_triangular(state.chol_kzz, ksz.T, lower=True)
    v2 = jax.scipy.linalg.solve_triangular(state.chol_a, ksz.T, lower=True)
    var = jnp.exp(state.params["log_amp"]) - jnp.sum(v1 * v1, 0) + jnp.sum(v2 * v2, 0)
    if include_noise:
      var = var + _noise(state.params)
    std = jnp.sqrt(jnp.maximum(var, 1e-12))
    ok = state.num_valid >= 1
    return (jnp.where(ok, mean, 0.0) * state.y_std + state.y_mean,
            jnp.where(ok, std * state.y_std, jnp.inf))

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)
