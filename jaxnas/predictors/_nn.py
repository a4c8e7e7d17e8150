"""Tiny pure-jnp MLP helpers shared by the neural predictors (params are plain pytrees)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def init_mlp(key, sizes):
  """He-initialised dense layers ``sizes[0] -> ... -> sizes[-1]``: list of ``{"w", "b"}``."""
  keys = jax.random.split(key, len(sizes) - 1)
  return [{"w": jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), "b": jnp.zeros((b,))}
          for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def apply_mlp(params, x, final_activation: bool = False):
  """ReLU MLP; the last layer is linear unless ``final_activation``."""
  for i, layer in enumerate(params):
    x = x @ layer["w"] + layer["b"]
    if i < len(params) - 1 or final_activation:
      x = jax.nn.relu(x)
  return x


def l2(params):
  """Sum of squared weights (biases excluded)."""
  return sum(jnp.sum(jnp.square(l["w"])) for l in params)


def masked_mean(v, mask):
  m = mask.astype(jnp.float32)
  return jnp.sum(v * m) / jnp.maximum(jnp.sum(m), 1.0)
