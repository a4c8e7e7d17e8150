"""The proxy registry, the checked front door ``score`` and the vmapped ``score_many``."""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _common as c
from . import _proxies as p

Proxy = Callable[..., jax.Array]

PROXIES: dict[str, Proxy] = {
    "epe_nas": p.epe_nas,
    "fisher": p.fisher,
    "flops": p.flops,
    "grad_norm": p.grad_norm,
    "grasp": p.grasp,
    "jacov": p.jacov,
    "l2_norm": p.l2_norm,
    "nwot": p.nwot,
    "params": p.params,
    "plain": p.plain,
    "snip": p.snip,
    "synflow": p.synflow,
    "zen": p.zen,
}


def get(name: str) -> Proxy:
  """The proxy called ``name``; raises ValueError listing the valid names."""
  if name not in PROXIES:
    raise ValueError(f"unknown zero-cost proxy {name!r}; valid: {', '.join(sorted(PROXIES))}")
  return PROXIES[name]


def score(name: str, key: jax.Array, apply_fn, variables, batch) -> jax.Array:
  """Scores one network with the proxy ``name``, after checking the name and the batch.

  Args:
    name: a key of :data:`PROXIES`.
    key: a ``jax.random`` key (only ``zen`` draws from it; every proxy is deterministic per key).
    apply_fn: ``apply_fn(variables, x, *, train, mutable) -> (logits, state)``, i.e. a Flax
      ``module.apply`` (see ``jaxnas.predictors.zero_cost`` for the full protocol).
    variables: the network's variables (``params`` and optionally ``batch_stats``).
    batch: ``(images f32[N, H, W, C], labels int[N])``.

  Returns:
    ``f32[]``, finite; higher is better.

  Raises:
    ValueError: unknown name, a malformed batch, or images the network cannot take (checked by
      tracing, before any compile).
  """
  fn = get(name)
  x, y = c.check_batch(batch, p.MIN_BATCH.get(name, 1))
  variables = c.network_variables(variables)
  c.check_fits(apply_fn, variables, x)
  return fn(key, apply_fn, variables, (x, y))


def _bind(net_fn, op_weights):
  """``apply_fn`` of one architecture of an op-choice network."""

  def apply_fn(variables, x, *, train, mutable):
    return net_fn(variables, x, op_weights, train=train, mutable=mutable)

  return apply_fn


def score_many(name: str, key: jax.Array, net_fn, variables, op_weights, batch, *,
               chunk_size: int = 16) -> jax.Array:
  """Scores many architectures of one op-choice network, vmapped in chunks.

  The network takes its architecture as an input: ``net_fn(variables, x, op_weights, *, train,
  mutable)`` (a Flax ``module.apply`` whose ``__call__`` takes ``op_weights``), with parameters
  shared by all architectures. An op with weight 0 must enter with that weight before its
  parameters act (``conv(x, w * kernel)``, as ``jaxnas.nn.nb201.MixedOp(mode="select")``), so that
  ``params``/``flops``/``l2_norm``/``nwot``/``zen`` see it as absent (``_common.usage``); the
  gradient and Jacobian proxies only need its output to be multiplied by 0. Each chunk of ``chunk_size`` architectures is one ``vmap`` and the
  chunks run sequentially under ``lax.map``, so memory is bounded by one chunk. Every architecture
  gets the same ``key`` (common random numbers: ``zen`` compares all architectures on the same
  Gaussian input), so row ``i`` equals ``score(name, key, net_fn bound to op_weights[i], ...)``.

  Args:
    name: a key of :data:`PROXIES`.
    key: a ``jax.random`` key.
    net_fn: the op-choice network's apply function (above).
    variables: the shared variables.
    op_weights: a pytree whose leaves have a leading architecture axis ``[A, ...]``.
    batch: ``(images f32[N, H, W, C], labels int[N])``.
    chunk_size: architectures per vmapped chunk (a Python int).

  Returns:
    ``f32[A]``.
  """
  fn = get(name)
  x, y = c.check_batch(batch, p.MIN_BATCH.get(name, 1))
  variables = c.network_variables(variables)
  leaves = jax.tree.leaves(op_weights)
  if not leaves:
    raise ValueError("score_many needs op_weights with a leading architecture axis")
  sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else -1 for leaf in leaves}
  if len(sizes) != 1 or -1 in sizes:
    raise ValueError(f"every op_weights leaf needs the same leading architecture axis, got "
                     f"shapes {[np.shape(leaf) for leaf in leaves]}")
  (num,) = sizes
  if num == 0:
    return jnp.zeros((0,), jnp.float32)
  if not isinstance(chunk_size, int) or chunk_size < 1:
    raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
  c.check_fits(_bind(net_fn, jax.tree.map(lambda w: w[0], op_weights)), variables, x)

  chunk = min(chunk_size, num)
  n_chunks = -(-num // chunk)
  pad = n_chunks * chunk - num

  def prepare(w):
    w = jnp.asarray(w)
    if pad:  # repeat the last architecture; its scores are dropped below
      w = jnp.concatenate([w, jnp.repeat(w[-1:], pad, axis=0)], axis=0)
    return w.reshape((n_chunks, chunk) + w.shape[1:])

  chunks = jax.tree.map(prepare, op_weights)
  one = lambda w: fn(key, _bind(net_fn, w), variables, (x, y))
  out = jax.lax.map(jax.vmap(one), chunks)
  return out.reshape(-1)[:num]


@functools.lru_cache(maxsize=None)
def names() -> tuple[str, ...]:
  """The proxy names, sorted."""
  return tuple(sorted(PROXIES))
