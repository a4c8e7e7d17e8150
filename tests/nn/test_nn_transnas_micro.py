"""The TransNAS-Bench-101 micro network (``nn`` registry ``transnas101_micro``): it compiles and runs
for several cells at a tiny size (a dead-output cell gives input-independent logits), and its
parameter count equals a hand-derived number."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas import spaces
from jaxnas.nn import transnas_micro as tnb_nn

SPACE = spaces.get_space("transnas101_micro")


def _num_params(net, x):
  shapes = jax.eval_shape(lambda k, x: net.init(k, x, False), jax.random.key(0), x)["params"]
  return sum(int(np.prod(s.shape)) for s in jax.tree_util.tree_leaves(shapes))


ARCHS = ("64-41414-3_13_213", "64-41414-3_21_000", "64-41414-0_00_000", "64-41414-1_11_111",
         "64-41414-2_30_123")
DEAD = (False, True, True, False, False)  # output node 3 only fed by `none` edges (d = e = f = 0)
# Cheaper XLA CPU compiles (the run time at this size is negligible).
FAST = dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)


def test_compiles_and_runs():
  """Tiny (C=4, 8x8 images), several cells in one program: logits of the right shape, finite; a
  cell whose output node is dead feeds the head zeros, so its logits do not depend on the image,
  while a live cell's do."""
  nets = [jnn.compile(SPACE, SPACE.from_string(a), 5, C=4) for a in ARCHS]
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))

  def run(x):
    return [n.apply(n.init(jax.random.key(0), x, False), x, False) for n in nets]

  out = jax.jit(run).lower(x).compile(compiler_options=FAST)(x)
  for arch, dead, logits in zip(ARCHS, DEAD, out):
    logits = np.asarray(logits)
    assert logits.shape == (2, 5) and np.all(np.isfinite(logits)), arch
    assert np.allclose(logits[0], logits[1]) == dead, (arch, logits)


def test_param_count_by_hand():
  """Arch (3, 1, 2, 0, 0, 1), C = 64, 63 classes, derived by hand:
  stem 3*3*3*32 + 2*32 + 3*3*32*64 + 2*64 = 19,488; head 512*63 + 63 = 32,319; cells (edge a: conv3x3
  c_in -> c_out; b: skip, a FactorizedReduce c_in*c_out + 2*c_out only in a module's first cell;
  c: conv1x1 c_out -> c_out; d, e: none; f: skip): 99,072 (64->128/2) + 3 * 164,352 (128) +
  394,752 (128->256/2) + 3 * 656,384 (256) + 1,575,936 (256->512/2) + 2,623,488 (512) = 7,155,456;
  total 7,207,263."""
  arch = (3, 1, 2, 0, 0, 1)
  net = jnn.compile("transnas101_micro", jnp.asarray(arch, jnp.int32), 63)
  assert _num_params(net, jnp.zeros((1, 32, 32, 3))) == 7_207_263
  assert tnb_nn.count_params(arch, 63) == 7_207_263
  for a in [(0,) * 6, (3,) * 6, (1, 2, 3, 1, 2, 3), (2, 0, 1, 3, 1, 0)]:
    assert _num_params(jnn.compile(SPACE, jnp.asarray(a, jnp.int32), 10, C=8),
                       jnp.zeros((1, 16, 16, 3))) == tnb_nn.count_params(a, 10, C=8), a


def test_supernet_and_errors():
  """The supernet's variables contain the discrete network's (same paths and shapes; equal values
  for equal paths are checked on the generic cell in test_nn_cell.py) and it takes ``f32[6, 4]``
  op weights; bad inputs are one-line errors."""
  sup = jnn.compile(SPACE, None, 5, C=4)
  assert sup.spec.alpha_shape == (6, 4) and sup.spec.name == "transnas101_micro"
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
  arch = SPACE.from_string("64-41414-3_13_213")
  # eval_shape: tracing gives the variables' tree; values are compared on the (cheap) eager init of
  # the stem/head-only cell below
  vs = jax.eval_shape(lambda k: sup.init(k, x, sup.spec.one_hot(arch), False), jax.random.key(0))
  vd = jax.eval_shape(lambda k: jnn.compile(SPACE, arch, 5, C=4).init(k, x, False),
                      jax.random.key(0))
  sub = jnn.restrict(vs, vd)
  assert jax.tree_util.tree_structure(sub) == jax.tree_util.tree_structure(vd)
  with pytest.raises(ValueError, match="op_weights must be f32"):
    jax.eval_shape(lambda k: sup.init(k, x, jnp.ones((6, 5)), False), jax.random.key(0))
  with pytest.raises(ValueError, match="not a transnas101_micro architecture string"):
    jnn.compile(SPACE, "|nor_conv_3x3~0|", 5)
  with pytest.raises(ValueError, match="even C"):
    jnn.compile(SPACE, arch, 5, C=3)
