"""``jaxnas.nn.conv_vjp.conv``: the forward and both gradients equal autodiff of
``lax.conv_general_dilated``, for plain and depthwise kernels with strides, padding and dilation;
inside a ``lax.cond`` branch every compiled convolution keeps the canonical labels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxnas.nn.conv_vjp import conv

# (H, C_in, C_out, k, stride, padding, dilation, groups): NB201 / DARTS shapes, small
CASES = [(8, 3, 4, 3, 1, 1, 1, 1), (8, 4, 4, 1, 1, 0, 1, 1), (9, 4, 6, 3, 2, 1, 1, 1),
         (8, 4, 4, 1, 2, 0, 1, 1), (8, 4, 4, 5, 1, 2, 1, 4), (9, 4, 4, 3, 2, 2, 2, 4),
         (8, 5, 5, 5, 2, 2, 1, 5), (7, 3, 3, 3, 1, ((1, 2), (0, 1)), 1, 1)]


def _ref(x, k, s, p, d, g):
  pad = ((p, p), (p, p)) if isinstance(p, int) else p
  return lax.conv_general_dilated(x, k, (s, s), pad, rhs_dilation=(d, d),
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  feature_group_count=g)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_values_and_gradients_equal_autodiff(case):
  h, ci, co, ks, s, p, d, g = case
  kx, kk = jax.random.split(jax.random.PRNGKey(sum(map(hash, map(str, case))) % 1000))
  x = jax.random.normal(kx, (2, h, h, ci))
  k = jax.random.normal(kk, (ks, ks, 1 if g > 1 else ci, co))
  loss = lambda f: (lambda x, k: jnp.sum(jnp.sin(f(x, k))))
  ours = lambda x, k: conv(x, k, s, p, d, g)
  theirs = lambda x, k: _ref(x, k, s, p, d, g)
  np.testing.assert_allclose(ours(x, k), theirs(x, k), rtol=1e-5, atol=1e-5)
  got = jax.grad(loss(ours), (0, 1))(x, k)
  want = jax.grad(loss(theirs), (0, 1))(x, k)
  for a, b in zip(got, want):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_canonical_convolutions_inside_a_branch():
  x = jnp.ones((2, 8, 8, 4))
  k = jnp.ones((3, 3, 4, 4))
  f = jax.grad(lambda x, k: jnp.sum(conv(x, k, 1, 1) ** 2), (0, 1))
  branch = lambda x, k, p: lax.cond(p, lambda: f(x, k), lambda: (x, k))
  text = jax.jit(branch).lower(x, k, jnp.array(True)).compile().as_text()
  labels = [l.split("dim_labels=")[1].split(",")[0] for l in text.splitlines()
            if " convolution(" in l]
  assert len(labels) == 3  # forward, input gradient, kernel gradient
  assert set(labels) == {"b01f_01io->b01f"}


def test_rejects_unsupported_groups():
  with pytest.raises(ValueError, match="depthwise"):
    conv(jnp.ones((1, 4, 4, 4)), jnp.ones((3, 3, 2, 4)), groups=2)
