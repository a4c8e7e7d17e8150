"""The proxy registry, the checked front door ``score`` and the vmapped ``score_many``."""

from __future__ import annotations

import functools
import time
from typing import Callable, Sequence

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
  parameters act (``conv(x, w * kernel)``, as NB201's ``MixedOp(mode="select")``), so that
  ``params``/``flops``/``l2_norm``/``nwot``/``zen`` see it as absent (``_common.usage``); the
  gradient and Jacobian proxies only need its output to be multiplied by 0. Each chunk of
  ``chunk_size`` architectures is one ``vmap`` and the chunks run sequentially under ``lax.map``,
  so memory is bounded by one chunk. This is the form to use inside ``jit`` (and on accelerators,
  with large chunks); on CPU :func:`score_each` is much faster. Every architecture gets the same ``key`` (common random
  numbers: ``zen`` compares all architectures on the same Gaussian input), so row ``i`` equals
  ``score(name, key, net_fn bound to op_weights[i], ...)``.

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

  one = lambda w: fn(key, _bind(net_fn, w), variables, (x, y))
  chunks = jax.tree.map(prepare, op_weights)
  out = jax.lax.map(jax.vmap(one), chunks)
  return out.reshape(-1)[:num]


def score_each(names_: str | Sequence[str], key: jax.Array, net_fn, variables, op_weights, batch,
               *, progress: Callable[[int, int, float], None] | None = None):
  """Scores many architectures of one op-choice network with one or several proxies: ONE compiled
  single-architecture program (the architecture is an input, every requested proxy in it), called
  once per architecture from the host.

  Same rows as :func:`score_many` (tested), for the CPU. XLA:CPU runs the convolutions of a loop
  body (``lax.map``/``lax.scan``/``while``) and grouped (vmapped per-architecture) convolutions far
  slower than top-level ones: NB201 supernet gradient at C=16, N=1, batch 64, measured on this
  2-core machine: 0.74 s per architecture called from the host vs 19.3 s inside ``lax.map``
  (compile 16 s vs 96 s). Several proxies in one program share their forward and backward
  passes (``grad_norm``/``snip``/``plain`` take the same weight gradients, ``jacov``/``epe_nas``
  the same input Jacobian) and compile once. Not traceable (it loops on the host).

  Args:
    names_: a proxy name or a sequence of names.
    key, net_fn, variables, op_weights, batch: as :func:`score_many`.
    progress: optional ``progress(done, total, seconds_so_far)`` called after each architecture.

  Returns:
    ``f32[A]`` for a single name, else ``{name: f32[A]}`` (numpy arrays).
  """
  single = isinstance(names_, str)
  wanted = (names_,) if single else tuple(names_)
  fns = {n: get(n) for n in wanted}
  x, y = c.check_batch(batch, max(p.MIN_BATCH.get(n, 1) for n in wanted))
  variables = c.network_variables(variables)
  leaves = jax.tree.leaves(op_weights)
  sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else -1 for leaf in leaves}
  if not leaves or len(sizes) != 1 or -1 in sizes:
    raise ValueError("score_each needs op_weights whose leaves share a leading architecture axis, "
                     f"got shapes {[np.shape(leaf) for leaf in leaves]}")
  (num,) = sizes
  out = {n: np.zeros((num,), np.float32) for n in wanted}
  if num:
    c.check_fits(_bind(net_fn, jax.tree.map(lambda w: w[0], op_weights)), variables, x)

    @jax.jit
    def one(w, variables, x, y):
      return {n: f(key, _bind(net_fn, w), variables, (x, y)) for n, f in fns.items()}

    t0 = time.perf_counter()
    for i in range(num):
      row = jax.device_get(one(jax.tree.map(lambda w: w[i], op_weights), variables, x, y))
      for n in wanted:
        out[n][i] = row[n]
      if progress is not None:
        progress(i + 1, num, time.perf_counter() - t0)
  return out[wanted[0]] if single else out


@functools.lru_cache(maxsize=None)
def names() -> tuple[str, ...]:
  """The proxy names, sorted."""
  return tuple(sorted(PROXIES))
