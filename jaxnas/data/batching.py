"""Batch index plans: which examples go into which fixed-shape batch.

The arrays stay on the device; an epoch is an ``int32[steps, batch_size]`` index plan computed with
``jax.random`` (jittable, so it can be made inside the compiled loop), and a step gathers its batch
with ``data[idx[step]]`` (or ``lax.scan`` over the rows of the plan). Every batch has the same
shape, so the step compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _count(n) -> int:
  if isinstance(n, (int, np.integer)):
    return int(n)
  if hasattr(n, "shape"):  # an array: its leading axis
    return int(n.shape[0])
  return len(n)  # a Dataset


def _check(num_examples: int, batch_size: int) -> None:
  if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
  if num_examples <= 0:
    raise ValueError(f"cannot batch an empty dataset (num_examples={num_examples})")


def num_batches(num_examples, batch_size: int, drop_last: bool = True) -> int:
  """Batches per epoch: ``floor(N / B)`` with ``drop_last``, else ``ceil(N / B)``."""
  n = _count(num_examples)
  _check(n, batch_size)
  return n // batch_size if drop_last else -(-n // batch_size)


def epoch_batches(key: jax.Array, num_examples, batch_size: int, *,
                  drop_last: bool = True) -> jax.Array:
  """One shuffled epoch as a batch index plan. Jittable (``num_examples``, ``batch_size`` static).

  Args:
    key: a ``jax.random`` key (e.g. ``fold_in(key, epoch)``).
    num_examples: ``N`` as an int, or an array / :class:`~jaxnas.data.Dataset` whose length is used.
    batch_size: ``B``.
    drop_last: drop the last partial batch (every example at most once); otherwise fill it by
      wrapping around to the start of the permutation (every example at least once, a few twice).

  Returns:
    ``int32[steps, B]`` indices into the dataset, ``steps = num_batches(N, B, drop_last)``.

  Raises:
    ValueError: when ``B`` is not positive or, with ``drop_last``, larger than ``N``.
  """
  n = _count(num_examples)
  steps = num_batches(n, batch_size, drop_last)
  if steps == 0:
    raise ValueError(f"batch_size {batch_size} > {n} examples with drop_last=True: no batch")
  perm = jax.random.permutation(key, n).astype(jnp.int32)
  if steps * batch_size > n:
    perm = jnp.concatenate([perm] * (-(-steps * batch_size // n)))
  return perm[:steps * batch_size].reshape(steps, batch_size)


def eval_batches(num_examples, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
  """Every example once, in order, in fixed-shape batches, for exact evaluation.

  Args:
    num_examples: ``N`` (int, array or Dataset).
    batch_size: ``B``.

  Returns:
    ``(idx int32[steps, B], mask bool[steps, B])``: the last batch is padded with index 0 and
    ``mask`` is False there, so ``sum(mask * correct) / N`` is the exact accuracy.
  """
  n = _count(num_examples)
  steps = num_batches(n, batch_size, drop_last=False)
  flat = np.arange(steps * batch_size)
  mask = flat < n
  idx = np.where(mask, flat, 0).astype(np.int32)
  return idx.reshape(steps, batch_size), mask.reshape(steps, batch_size)
