"""Cheap random integers for search loops.

``jax.random.randint`` draws two words per value and splits its key, so a few calls per search
step dominate the cost of a whole vmapped search on CPU. Search operators only need small ranges
(at most 15,625 values), so one ``bits`` draw reduced modulo ``maxval`` suffices: its bias is at
most ``maxval / 2**32`` (< 4e-6 relative for NB201 ids), far below any sampling noise in NAS.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def randint(key: jax.Array, shape, maxval: int) -> jax.Array:
  """Integers in ``[0, maxval)`` (``maxval`` a static Python int) from one ``bits`` draw."""
  bits = jax.random.bits(key, tuple(shape), jnp.uint32)
  return (bits % jnp.uint32(maxval)).astype(jnp.int32)


def permutation(key: jax.Array, n: int) -> jax.Array:
  """A uniform random permutation of ``range(n)`` (argsort of random words; ties have
  probability ~ n**2 / 2**33)."""
  return jnp.argsort(jax.random.bits(key, (n,), jnp.uint32)).astype(jnp.int32)
