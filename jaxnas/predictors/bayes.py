"""Bayesian regression predictors: Bayesian linear regression, DNGO and BOHAMIANN.

All three are pure and jittable with fixed step counts; masked rows of the training buffer carry
zero features and zero targets, which leaves every sum over data points unchanged.

References:
  Bishop, "Pattern Recognition and Machine Learning", 2006, sections 3.3 and 3.5 (evidence
  maximisation for Bayesian linear regression).
  Snoek et al., "Scalable Bayesian Optimization Using Deep Neural Networks" (DNGO), ICML 2015.
  Springenberg et al., "Bayesian Optimization with Robust Bayesian Neural Networks" (BOHAMIANN),
  NeurIPS 2016; Chen, Fox & Guestrin, "Stochastic Gradient Hamiltonian Monte Carlo", ICML 2014.
"""

from __future__ import annotations

from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas.predictors import _base, _nn


# ----------------------------------------------------------------------------- Bayesian linear regression


@flax.struct.dataclass
class BLRPosterior:
  """Posterior of ``y = phi . w + noise``, ``w ~ N(0, I / alpha)``, noise precision ``beta``."""

  mean: jax.Array  # [P] posterior mean of w
  chol: jax.Array  # [P, P] Cholesky of the posterior precision A = alpha I + beta Phi^T Phi
  log_alpha: jax.Array  # []
  log_beta: jax.Array  # []


def _blr_parts(log_alpha, log_beta, phi, y):
  alpha, beta = jnp.exp(log_alpha), jnp.exp(log_beta)
  p = phi.shape[1]
  a = alpha * jnp.eye(p) + beta * phi.T @ phi
  chol = jnp.linalg.cholesky(a)
  m = beta * jax.scipy.linalg.cho_solve((chol, True), phi.T @ y)
  return alpha, beta, chol, m


def _blr_neg_evidence(hp, phi, y, n):
  # Bishop eq. 3.86, divided by n so one learning rate suits every buffer size.
  alpha, beta, chol, m = _blr_parts(hp[0], hp[1], phi, y)
  p = phi.shape[1]
  e = 0.5 * beta * jnp.sum(jnp.square(y - phi @ m)) + 0.5 * alpha * jnp.dot(m, m)
  logdet = 2 * jnp.sum(jnp.log(jnp.diag(chol)))
  ev = 0.5 * p * hp[0] + 0.5 * n * hp[1] - e - 0.5 * logdet - 0.5 * n * jnp.log(2 * jnp.pi)
  # Weak prior on log alpha / log beta: keeps the evidence fit finite with very few points.
  prior = 0.5 * (jnp.square(hp[0]) + jnp.square(hp[1] - 2.0)) / 9.0
  return (-ev + prior) / jnp.maximum(n, 1.0)


def blr_fit(phi, y, mask, num_steps: int = 100, learning_rate: float = 0.05) -> BLRPosterior:
  """Evidence-maximised Bayesian linear regression on features ``phi: [N, P]`` (masked rows)."""
  m = mask.astype(jnp.float32)
  phi = phi * m[:, None]
  y = y * m
  n = jnp.sum(m)
  hp, _ = _base.adam_scan(_blr_neg_evidence, jnp.array([0.0, 2.0]), num_steps, learning_rate,
                          phi, y, n)
  _, _, chol, mean = _blr_parts(hp[0], hp[1], phi, y)
  return BLRPosterior(mean=mean, chol=chol, log_alpha=hp[0], log_beta=hp[1])


def blr_predict(post: BLRPosterior, phi):
  """Predictive mean and std (noise included) of :func:`blr_fit`'s posterior at ``phi: [M, P]``."""
  mean = phi @ post.mean
  v = jax.scipy.linalg.solve_triangular(post.chol, phi.T, lower=True)
  var = jnp.exp(-post.log_beta) + jnp.sum(v * v, 0)
  return mean, jnp.sqrt(var)


def _with_bias(x):
  return jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,))], -1)


@flax.struct.dataclass
class BLRState:
  """A fitted Bayesian linear regression (on standardised targets)."""

  posterior: BLRPosterior
  y_mean: jax.Array
  y_std: jax.Array
  num_valid: jax.Array


def _finish(mean, std, state):
  ok = state.num_valid >= 1
  return (jnp.where(ok, mean, 0.0) * state.y_std + state.y_mean,
          jnp.where(ok, std * state.y_std, jnp.inf))


def bayesian_linear_regression(num_features: int, *, num_steps: int = 100,
                               learning_rate: float = 0.05) -> _base.Predictor:
  """Bayesian linear regression on the encoding (plus a bias) with evidence-fitted precisions.

  Args:
    num_features: feature size ``D``.
    num_steps: Adam steps on the log evidence over ``(log alpha, log beta)`` (static).
    learning_rate: Adam step size.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`BLRState`.

  References:
    Bishop 2006, section 3.5.2; NASLib's ``BayesianLinearRegression`` predictor.
  """

  def fit_fn(key, x, y, mask):
    del key
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    post = blr_fit(_with_bias(x), ys, mask, num_steps, learning_rate)
    return BLRState(posterior=post, y_mean=mu, y_std=sd, num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del key, buffer_size
    p = num_features + 1
    post = BLRPosterior(mean=jnp.zeros((p,)), chol=jnp.eye(p), log_alpha=jnp.zeros(()),
                        log_beta=jnp.zeros(()))
    return BLRState(posterior=post, y_mean=jnp.zeros(()), y_std=jnp.ones(()),
                    num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, x):
    return _finish(*blr_predict(state.posterior, _with_bias(x)), state)

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)


# ----------------------------------------------------------------------------- DNGO


@flax.struct.dataclass
class DNGOState:
  """A fitted DNGO: the network (its last hidden layer is the basis) and the BLR on top."""

  params: list
  posterior: BLRPosterior
  y_mean: jax.Array
  y_std: jax.Array
  num_valid: jax.Array


def dngo(num_features: int, *, hidden_sizes: Sequence[int] = (64, 64, 64), num_steps: int = 300,
         learning_rate: float = 3e-3, weight_decay: float = 3e-2,
         blr_steps: int = 100) -> _base.Predictor:
  """DNGO: an MLP trained by MSE, then Bayesian linear regression on its last hidden layer.

  Args:
    num_features: feature size ``D``.
    hidden_sizes: MLP widths; the last one is the basis size (static).
    num_steps, learning_rate, weight_decay: the network's full-batch Adam fit. The weight decay
      must keep the network from interpolating its training set: with 1e-4 (the plain ``mlp``'s)
      the basis fits 100 NB201 cells to a standardised RMS of 0.001, the evidence then infers
      almost no noise, one-std coverage is 0.06-0.11 and the mean is the ``mlp``'s. On NB201
      cifar10 (log-gap target, 1,000 test cells, 5 seeds) 3e-2 gives Kendall tau 0.591 / 0.718
      at 100 / 400 cells (1e-4: 0.525 / 0.648) and one-std coverage 0.22 / 0.53, still
      overconfident; 1e-1 is calibrated (0.67 / 0.78) but loses tau (0.576 / 0.622).
    blr_steps: Adam steps of the evidence maximisation of the output layer.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`DNGOState`; ``std`` is the Bayesian
    output layer's predictive std.

  References:
    Snoek et al., ICML 2015.
  """
  sizes = (num_features, *hidden_sizes, 1)

  def basis(params, x):
    return _with_bias(_nn.apply_mlp(params[:-1], x, final_activation=True))

  def loss_fn(params, x, y, mask):
    pred = _nn.apply_mlp(params, x)[:, 0]
    return _nn.masked_mean(jnp.square(pred - y), mask) + weight_decay * _nn.l2(params)

  def fit_fn(key, x, y, mask):
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    params, _ = _base.adam_scan(loss_fn, _nn.init_mlp(key, sizes), num_steps, learning_rate, x,
                                ys, mask)
    post = blr_fit(basis(params, x), ys, mask, blr_steps)
    return DNGOState(params=params, posterior=post, y_mean=mu, y_std=sd,
                     num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del buffer_size
    p = sizes[-2] + 1
    post = BLRPosterior(mean=jnp.zeros((p,)), chol=jnp.eye(p), log_alpha=jnp.zeros(()),
                        log_beta=jnp.zeros(()))
    return DNGOState(params=_nn.init_mlp(key, sizes), posterior=post, y_mean=jnp.zeros(()),
                     y_std=jnp.ones(()), num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, x):
    return _finish(*blr_predict(state.posterior, basis(state.params, x)), state)

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)


# ----------------------------------------------------------------------------- BOHAMIANN


@flax.struct.dataclass
class BohamiannState:
  """Posterior samples of a Bayesian neural network (leading axis ``[S]`` on every leaf)."""

  samples: dict  # {"net": [...], "log_noise": [S]}
  y_mean: jax.Array
  y_std: jax.Array
  num_valid: jax.Array


def bohamiann(num_features: int, *, hidden_sizes: Sequence[int] = (50, 50),
              num_burn_in: int = 2000, num_samples: int = 50, keep_every: int = 20,
              step_size: float = 2e-2, momentum_decay: float = 0.05,
              prior_precision: float = 1.0) -> _base.Predictor:
  """BOHAMIANN: a Bayesian MLP sampled with scale-adapted SGHMC (full-batch gradients).

  The network predicts the standardised target; the Gaussian noise variance is sampled with the
  weights (``log_noise``), and the weights have a ``N(0, 1 / prior_precision)`` prior. The sampler
  is pybnn's adaptive SGHMC: velocity ``v <- v - eps^2 M^-1 grad U - mdecay v + N(0, 2 eps^2 mdecay
  M^-1)`` with ``M^-1`` the inverse root of a running average of squared gradients, adapted during
  burn-in and frozen afterwards. ``num_samples`` samples, ``keep_every`` steps apart, follow the
  burn-in (all static: the sampler is one ``lax.scan``).

  Args:
    num_features: feature size ``D``.
    hidden_sizes: MLP widths (static).
    num_burn_in: SGHMC steps before the first kept sample.
    num_samples: posterior samples kept ``S``.
    keep_every: thinning between kept samples.
    step_size: ``eps``. On NB201 (one-hot, log-gap target) 2e-2 with 2,000 burn-in steps gave
      Kendall tau 0.53 / 0.71 at 100 / 400 training cells; 1e-2 with 1,000 gave 0.29 / 0.64;
      3e-2 diverges (diverged steps are rejected, see below).
    momentum_decay: ``mdecay`` (friction).
    prior_precision: precision of the Gaussian weight prior.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`BohamiannState`; ``std`` combines the
    spread of the sampled networks and the sampled noise.

  References:
    Springenberg et al., NeurIPS 2016; Chen et al., ICML 2014.
  """
  sizes = (num_features, *hidden_sizes, 1)

  def energy(theta, x, y, mask, n):
    pred = _nn.apply_mlp(theta["net"], x)[:, 0]
    ln = theta["log_noise"]
    nll = 0.5 * jnp.exp(-ln) * jnp.square(y - pred) + 0.5 * ln
    prior = 0.5 * prior_precision * _nn.l2(theta["net"]) + 0.5 * jnp.square(ln + 2.0)
    return n * _nn.masked_mean(nll, mask) + prior

  grad_u = jax.grad(energy)

  def fit_fn(key, x, y, mask):
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    n = jnp.sum(mask).astype(jnp.float32)
    k_init, k_run = jax.random.split(key)
    theta = {"net": _nn.init_mlp(k_init, sizes), "log_noise": jnp.asarray(-2.0)}
    zeros = jax.tree_util.tree_map(jnp.zeros_like, theta)
    ones = jax.tree_util.tree_map(jnp.ones_like, theta)
    tm = jax.tree_util.tree_map
    total = num_burn_in + num_samples * keep_every

    def step(carry, t):
      th, v, g2 = carry
      g = grad_u(th, x, ys, mask, n)
      burn = t < num_burn_in
      g2 = tm(lambda a, b: jnp.where(burn, 0.99 * a + 0.01 * b * b, a), g2, g)
      minv = tm(lambda a: jax.lax.rsqrt(a + 1e-8), g2)
      noise_keys = jax.random.split(jax.random.fold_in(k_run, t), len(jax.tree_util.tree_leaves(th)))
      leaves, tree = jax.tree_util.tree_flatten(th)
      noise = jax.tree_util.tree_unflatten(
          tree, [jax.random.normal(k, l.shape) for k, l in zip(noise_keys, leaves)])
      eps2 = step_size ** 2
      v = tm(lambda v_, g_, mi, z: v_ - eps2 * mi * g_ - momentum_decay * v_
             + jnp.sqrt(2 * eps2 * momentum_decay * mi) * z, v, g, minv, noise)
      new = tm(lambda a, b: a + b, th, v)
      # A diverged step (too large a step size for this data) is rejected and the momentum
      # reset, so a bad sampler setting gives a poor fit, never NaN predictions.
      ok = jnp.all(jnp.array([jnp.all(jnp.isfinite(l)) for l in jax.tree_util.tree_leaves(new)]))
      th = tm(lambda a, b: jnp.where(ok, a, b), new, th)
      v = tm(lambda a: jnp.where(ok, a, 0.0), v)
      return (th, v, g2), th

    init_g2 = tm(lambda a: a, ones)
    _, trace = jax.lax.scan(step, (theta, zeros, init_g2), jnp.arange(total))
    keep = num_burn_in + keep_every - 1 + keep_every * jnp.arange(num_samples)
    samples = tm(lambda a: a[keep], trace)
    return BohamiannState(samples=samples, y_mean=mu, y_std=sd,
                          num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del buffer_size
    theta = {"net": _nn.init_mlp(key, sizes), "log_noise": jnp.asarray(-2.0)}
    samples = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (num_samples,) + a.shape), theta)
    return BohamiannState(samples=samples, y_mean=jnp.zeros(()), y_std=jnp.ones(()),
                          num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, x):
    preds = jax.vmap(lambda net: _nn.apply_mlp(net, x)[:, 0])(state.samples["net"])  # [S, M]
    noise_var = jnp.mean(jnp.exp(state.samples["log_noise"]))
    mean = jnp.mean(preds, 0)
    std = jnp.sqrt(jnp.var(preds, 0) + noise_var)
    return _finish(mean, std, state)

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)
