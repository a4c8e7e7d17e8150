"""Tiny Flax networks that follow the zero-cost network protocol (shared by the proxy tests)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnas.nn import probes

NUM_CLASSES = 5
IMAGE_SHAPE = (6, 8, 8, 3)  # N, H, W, C
NONE, SKIP, CONV = range(3)  # candidate ops of a mixed layer


class ScaledConv(nn.Module):
  """3x3 conv (no bias) whose kernel is scaled by an op weight before it acts."""

  features: int

  @nn.compact
  def __call__(self, x, s):
    k = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, x.shape[-1], self.features))
    return jax.lax.conv_general_dilated(x, s * k, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


class MixedLayer(nn.Module):
  """``none`` / ``skip`` / ``relu -> conv3x3`` chosen by ``w: f32[3]``, in the "select" style of
  ``jaxnas.nn.nb201.MixedOp``: the conv's weight scales its input and its kernel, so a conv that is
  not chosen is absent (its parameters have no effect at all)."""

  channels: int

  @nn.compact
  def __call__(self, x, w, train):
    del train
    h = probes.act(self, nn.relu(x) * w[CONV])
    return w[SKIP] * x + ScaledConv(self.channels)(h, w[CONV])  # w[NONE] * 0


class MixNet(nn.Module):
  """Stem conv, ``layers`` mixed layers, features probe, global pooling, classifier.

  ``op_weights: f32[layers, 3]`` is an input (one-hot for a discrete architecture), so one set of
  parameters serves every architecture, like the NB201 op-choice supernet.
  """

  channels: int = 4
  layers: int = 2

  @nn.compact
  def __call__(self, x, op_weights, train=True):
    x = nn.Conv(self.channels, (3, 3), use_bias=False)(x)
    x = nn.BatchNorm(use_running_average=not train)(x)
    for i in range(self.layers):
      x = MixedLayer(self.channels)(x, op_weights[i], train)
    x = probes.act(self, nn.relu(x))
    x = probes.features(self, x)
    return nn.Dense(NUM_CLASSES)(jnp.mean(x, axis=(1, 2)))


class LinearNet(nn.Module):
  """``depth`` bias-free Dense layers with ReLUs on the flattened image (SynFlow's closed form)."""

  width: int = 8
  depth: int = 2

  @nn.compact
  def __call__(self, x, train=True):
    del train
    x = x.reshape(x.shape[0], -1)
    for i in range(self.depth - 1):  # each probe call needs its own name
      x = probes.act(self, nn.relu(nn.Dense(self.width, use_bias=False)(x)), f"act{i}")
    x = probes.features(self, x[:, None, None, :])[:, 0, 0, :]
    return nn.Dense(NUM_CLASSES, use_bias=False)(x)


def batch(seed=0, shape=IMAGE_SHAPE):
  kx, ky = jax.random.split(jax.random.key(seed))
  x = jax.random.normal(kx, shape, jnp.float32)
  y = jax.random.randint(ky, (shape[0],), 0, NUM_CLASSES)
  return x, y


def one_hot_archs(layers=2):
  """Every discrete architecture of a ``layers``-layer MixNet: ``f32[3**layers, layers, 3]``."""
  ids = jnp.arange(3**layers)
  digits = jnp.stack([(ids // 3**i) % 3 for i in range(layers)], axis=1)
  return jax.nn.one_hot(digits, 3)


def mixnet(seed=0, layers=2):
  """``(net_fn, variables)`` of a MixNet; ``net_fn(variables, x, op_weights, *, train, mutable)``."""
  model = MixNet(layers=layers)
  x, _ = batch()
  variables = jax.jit(model.init)(jax.random.key(seed), x, one_hot_archs(layers)[-1])
  variables = {k: v for k, v in variables.items() if k in ("params", "batch_stats")}

  def net_fn(variables, x, op_weights, *, train, mutable):
    return model.apply(variables, x, op_weights, train=train, mutable=mutable)

  return net_fn, variables


def bind(net_fn, op_weights):
  """``apply_fn`` of one architecture."""
  return lambda v, x, *, train, mutable: net_fn(v, x, op_weights, train=train, mutable=mutable)
