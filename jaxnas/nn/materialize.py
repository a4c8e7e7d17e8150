"""``materialize``: an identity that XLA computes into its own buffer, in the forward pass and in
the backward pass (issue 18).

Why it exists. In a one-shot supernet's backward pass the cotangent of a cell node is a sum of
elementwise terms: each outgoing edge's skip weight times the next node's cotangent, the ReLU mask
times a convolution's input gradient, the pool's gradient. XLA's loop fusion treats such cheap
elementwise producers as free to recompute and copies them into *every* consumer fusion (each
edge's BN backward, the pool's gradient, the next node's sum) instead of writing them once.
Through the skip edges the node cotangents of a whole stage form one elementwise expression, so
the copies nest: on the NB201 supernet (C=16, batch 64, 32x32) fusions of 50-70 operands and
~200 instructions appeared, repeated per consumer, and the first-order DARTS step grew faster
than the number of cells: 0.73 / 1.75 / 4.0 / 13 s for N = 1 / 2 / 3 / 5 cells per stage on a
2-vCPU AMD EPYC (Zen 4), where PyTorch's step takes 0.83 / - / - / 4.6 s.

What does not stop it. ``jax.lax.optimization_barrier`` (XLA:CPU rewrites barriers into control
dependencies before fusion runs; the compiled step was unchanged). An identity ``lax.cond`` whose
branches are both cheap elementwise code (XLA's conditional simplifier turns it into a
``select``, which fuses again).

What does. ``lax.cond`` on a runtime predicate with the identity as the taken branch and, as the
other branch, ``x + 0 * sum(x)`` (a reduction: the simplifier keeps the conditional). A
conditional's operand and result are buffers, so the value is written once; its JVP is a cond
over the tangent and its transpose a cond over the cotangent, so the backward pass gets the same
cut with no custom rule, and forward mode (second-order DARTS) keeps working. The predicate is
``x[0,...,0] == x[0,...,0]`` (not NaN): the taken branch is the identity; the other one differs
from ``x`` only when ``x`` holds a NaN or an infinity, which makes the whole network's output
non-finite either way. Cost: one 4 MB copy per node per pass (~0.2 ms), against 13 -> 3.7 s per
full-size DARTS step.

Under ``vmap`` with a batched ``x`` the cond becomes a ``select`` of both branches: the same
values, without the cut and with an extra reduction, so the supernet uses it only where it is
not vmapped (the one-shot optimizers' training passes; their scoring pass vmaps over
architectures and turns it off).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def materialize(x: jax.Array) -> jax.Array:
  """``x``, computed by XLA into a buffer of its own (forward and backward; see the module doc).

  Values and derivatives (reverse, forward, any order) are those of the identity wherever ``x``
  is finite.
  """
  first = x[(0,) * x.ndim] if x.ndim else x
  return lax.cond(first == first, lambda v: v, lambda v: v + 0.0 * jnp.sum(v), x)
