"""The BANANAS meta neural network: an MLP regressor trained by full-batch Adam in a lax.scan.

References:
  White, Neiswanger & Savani, "BANANAS: Bayesian Optimization with Neural Architectures for
  Neural Architecture Search", AAAI 2021 (an ensemble of MLPs on the path encoding).
"""

from __future__ import annotations

from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas.predictors import _base, _nn

LOSSES = ("mse", "mae")


@flax.struct.dataclass
class MLPState:
  """A fitted MLP: weights and the target standardisation."""

  params: list  # [{"w": [a, b], "b": [b]}] per layer
  y_mean: jax.Array  # []
  y_std: jax.Array  # []
  num_valid: jax.Array  # [] int32


def mlp(num_features: int, *, hidden_sizes: Sequence[int] = (64, 64, 64), num_steps: int = 300,
        learning_rate: float = 3e-3, weight_decay: float = 1e-4, loss: str = "mse",
        index_inputs: int = 0) -> _base.Predictor:
  """A single MLP regressor (use :func:`~jaxnas.predictors.ensemble` for BANANAS' ensemble).

  Training is ``num_steps`` full-batch Adam steps on the masked, standardised targets (no
  minibatches: a fixed step count under ``lax.scan`` keeps ``fit`` jittable and its cost
  independent of how many buffer rows are valid). ``std`` is 0: a single network has no
  uncertainty.

  Args:
    num_features: feature size ``D``.
    hidden_sizes: widths of the ReLU hidden layers (static).
    num_steps: Adam steps (static).
    learning_rate: Adam step size.
    weight_decay: L2 penalty on the weights, relative to the data loss.
    loss: ``mse`` or ``mae`` (BANANAS trains with MAE).
    index_inputs: 0 (features are the inputs), or the width ``W`` of a binary input whose nonzero
      entries the ``num_features`` features list (indices, -1 padding, no repeats; DARTS's
      ``path_indices``): the network is the one on the ``W``-wide binary input (first layer
      ``[W, h]``, same initialisation), its first layer computed as a sum of weight rows.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`MLPState`.

  References:
    White et al., BANANAS, AAAI 2021.
  """
  if loss not in LOSSES:
    raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
  sizes = (index_inputs or num_features, *hidden_sizes, 1)

  def apply(params, x):
    if not index_inputs:
      return _nn.apply_mlp(params, x)
    idx = x.astype(jnp.int32)  # [N, K]: the binary input's nonzero entries
    rows = jnp.take(params[0]["w"], jnp.clip(idx, 0, index_inputs - 1), axis=0)  # [N, K, h]
    h = jnp.sum(jnp.where((idx >= 0)[..., None], rows, 0.0), axis=1) + params[0]["b"]
    return _nn.apply_mlp(params[1:], jax.nn.relu(h)) if len(params) > 1 else h

  def loss_fn(params, x, y, mask):
    pred = apply(params, x)[:, 0]
    err = pred - y
    data = _nn.masked_mean(jnp.square(err) if loss == "mse" else jnp.abs(err), mask)
    return data + weight_decay * _nn.l2(params)

  def fit_fn(key, x, y, mask):
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    params, _ = _base.adam_scan(loss_fn, _nn.init_mlp(key, sizes), num_steps, learning_rate, x,
                                ys, mask)
    return MLPState(params=params, y_mean=mu, y_std=sd, num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del buffer_size  # the state does not keep the data
    return MLPState(params=_nn.init_mlp(key, sizes), y_mean=jnp.zeros(()), y_std=jnp.ones(()),
                    num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, x):
    out = apply(state.params, x)[:, 0]
    mean = jnp.where(state.num_valid >= 1, out, 0.0) * state.y_std + state.y_mean
    return mean, jnp.zeros_like(mean)

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)
