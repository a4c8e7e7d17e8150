"""The DARTS ops' depthwise and pointwise convolutions (``jaxnas.nn.darts_ops.LoopDWConv``,
``PointwiseConv``) equal XLA's grouped / 1x1 convolution, values and gradients, also under the
supernet's vmap over edges with an unbatched input (whose input gradient sums over the edges),
and forward mode over the gradient."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxnas.nn import darts_ops

DN = ("NHWC", "HWIO", "NHWC")


def _ref_dw(x, k, stride, pad, dil):
  return lax.conv_general_dilated(x, k, (stride, stride), ((pad, pad), (pad, pad)),
                                  rhs_dilation=(dil, dil), dimension_numbers=DN,
                                  feature_group_count=x.shape[-1])


@pytest.mark.parametrize("ksize,stride,dil", [(5, 2, 1), (3, 1, 2)])
def test_loop_depthwise_equals_grouped_conv_under_vmap(ksize, stride, dil):
  n, c = 2, 3
  x = jax.random.normal(jax.random.key(0), (2, 6, 6, c))
  ks = jax.random.normal(jax.random.key(1), (n, ksize, ksize, 1, c))
  pad = dil * (ksize // 2)
  mod = darts_ops.LoopDWConv(c, ksize, stride, pad, dil)

  def loss(conv):
    return lambda x, ks: jnp.sum(jnp.sin(jax.vmap(lambda k: conv(x, k))(ks)))

  ours = lambda x, k: mod.apply({"params": {"kernel": k}}, x)
  ref = lambda x, k: _ref_dw(x, k, stride, pad, dil)
  np.testing.assert_allclose(jax.vmap(lambda k: ours(x, k))(ks),
                             jax.vmap(lambda k: ref(x, k))(ks), rtol=1e-5, atol=1e-5)
  g_ours = jax.jit(jax.grad(loss(ours), (0, 1)))(x, ks)
  g_ref = jax.grad(loss(ref), (0, 1))(x, ks)
  for a, b in zip(g_ours, g_ref):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
  # forward mode over the gradient (GRASP's Hessian-vector product) runs through the rules
  hvp = lambda f: jax.jvp(jax.grad(lambda k: loss(f)(x, k)), (ks,), (ks[::-1],))[1]
  np.testing.assert_allclose(hvp(ours), hvp(ref), rtol=1e-4, atol=1e-4)


def test_pointwise_conv_is_a_strided_1x1_conv_and_checks_its_use():
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 3))
  k = jax.random.normal(jax.random.key(1), (1, 1, 3, 5))
  for stride in (1, 2):
    y = darts_ops.PointwiseConv(3, 5, 1, stride).apply({"params": {"kernel": k}}, x)
    ref = lax.conv_general_dilated(x, k, (stride, stride), ((0, 0), (0, 0)), dimension_numbers=DN)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="1x1 convolution without padding or bias"):
    darts_ops.PointwiseConv(3, 5, 3).init(jax.random.key(0), x)
