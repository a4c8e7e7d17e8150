"""One real (compiled and executed) search step of each of the seven one-shot optimizers on the
DARTS search supernet (``jaxnas.nn.darts_supernet``), tiny size.

``tests/optimizers/oneshot/test_darts_supernet.py`` traces every optimizer's step
(``jax.eval_shape``) and runs first-order DARTS through the driver; here each optimizer's step is
compiled and run once: the loss is finite, the supernet weights moved, the state keeps its
structure, and ``discretize`` returns a valid ``darts`` genotype. The network is the smallest one
that compiles in about half a minute: C=2, one cell (a reduction cell, so the normal rows of
the alphas get no gradient; 8x8 inputs, batch 8), compiled at XLA's backend optimisation level 0.
Compilation dominates: ~33 CPU-s per optimizer (init + step) on the shared 2-core machine
(``docs/darts_supernet.md``), so the extended suite (45 CPU-s budget for these tests) runs GDAS
(the straight-through ``hard`` mode, which the driver test does not cover) and the other six run
when ``JAXNAS_DARTS_ALL_STEPS=1`` (~230 CPU-s):

  JAXNAS_DARTS_ALL_STEPS=1 python -m pytest -q -n 0 -m '' tests/test_darts_supernet_steps.py
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas import spaces
from jaxnas.optimizers import oneshot

DARTS = spaces.get_space("darts")
# compile cost, not run time, dominates at this size: level 0 roughly halves the LLVM work
FAST = dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)
B, H = 8, 8


@pytest.fixture(scope="module")
def setup():
  from jaxnas.drivers.oneshot import SEARCH_CELL_BN  # the driver's cell BN
  net = jnn.compile("darts", None, 10, C=2, layers=1, cell_bn=SEARCH_CELL_BN)
  k1, k2 = jax.random.split(jax.random.key(0))
  x = jax.random.normal(k1, (2, B, H, H, 3), jnp.float32)
  y = jax.random.randint(k2, (2, B), 0, 10)
  return net, (x[0], y[0]), (x[1], y[1])


@pytest.mark.extended
@pytest.mark.parametrize("name", list(oneshot.ONESHOT))
def test_one_real_step_on_the_darts_supernet(setup, name):
  if name != "gdas" and os.environ.get("JAXNAS_DARTS_ALL_STEPS") != "1":
    pytest.skip(f"{name}: ~33 CPU-s of compilation; set JAXNAS_DARTS_ALL_STEPS=1 to run it")
  net, train, valid = setup
  kw = {"partial_channels": 2} if name == "pcdarts" else {}
  opt = oneshot.make(name, net, epochs=1, steps_per_epoch=1, **kw)
  key = jax.random.key(0, impl="unsafe_rbg")  # threefry's per-parameter init compiles for minutes
  state = jax.jit(opt.init).lower(key, train).compile(FAST)(key, train)
  step = jax.jit(opt.step).lower(jax.random.key(1), state, train, valid).compile(FAST)
  new, m = step(jax.random.key(1), state, train, valid)
  assert jax.tree.structure(new) == jax.tree.structure(state), name
  assert new.alphas["alpha"].shape == (28, 8)
  for v in jax.tree.leaves(m):
    assert np.isfinite(np.asarray(v)).all(), (name, m)
  assert float(m.train_loss) > 0.0
  moved = [not np.array_equal(np.asarray(a), np.asarray(b))
           for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(new.params))]
  assert any(moved), f"{name}: no supernet weight changed in a step"
  arch = opt.discretize(new)
  assert bool(DARTS.is_valid(arch)), (name, arch)
  assert spaces.darts.genotype_string(arch).startswith("Genotype(normal=[(")
  back = DARTS.from_string(DARTS.to_string(arch))
  np.testing.assert_array_equal(np.asarray(DARTS.fingerprint(back)),
                                np.asarray(DARTS.fingerprint(arch)))
