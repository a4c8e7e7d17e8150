"""BANANAS on DARTS reads the path encoding as its list of nonzero slots (``path_indices``): the
same MLP (same initialisation, first layer a sum of weight rows), ~1/70 of the first layer's work
and a [B, 160] instead of [B, 11204] buffer per seed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import predictors as P
from jaxnas import spaces
from jaxnas.optimizers.blackbox.bananas import bananas, build_predictor, feature_encoding

DARTS = spaces.get_space("darts")


@pytest.mark.extended
def test_index_mlp_is_the_dense_path_mlp():
  a = DARTS.sample(jax.random.key(0), (24,))
  dense, idx = DARTS.encode(a, "path"), DARTS.encode(a, "path_indices")
  y = jax.random.normal(jax.random.key(1), (24,))
  kw = {"hidden_sizes": (8,), "num_steps": 5, "learning_rate": 2e-2, "loss": "mae"}
  p_dense = P.mlp(dense.shape[1], **kw)
  p_idx = P.mlp(idx.shape[1], index_inputs=dense.shape[1], **kw)
  s_dense = p_dense.fit(jax.random.key(2), dense[:16], y[:16])
  s_idx = p_idx.fit(jax.random.key(2), idx[:16], y[:16])
  # float rounding only (sums in another order; Adam rescales tiny gradients): |w| ~ 0.1-1
  jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, atol=1e-4), s_dense.params,
               s_idx.params)
  state = bananas(DARTS).init(jax.random.key(0))  # the search buffer holds the index lists
  assert state.x.shape == (160, 160) and jnp.issubdtype(state.x.dtype, jnp.floating)
  np.testing.assert_allclose(p_idx.predict(s_idx, idx[16:])[0],
                             p_dense.predict(s_dense, dense[16:])[0], rtol=1e-4, atol=1e-5)


def test_bananas_uses_the_index_twin_only_where_it_exists():
  assert feature_encoding(DARTS, "mlp_ensemble", "path") == "path_indices"
  assert feature_encoding(DARTS, "gp", "path") == "path"  # other predictors: unchanged
  nb201 = spaces.get_space("nasbench201")
  assert feature_encoding(nb201, "mlp_ensemble", "path") == "path"
  p = build_predictor("mlp_ensemble", "path", 3, "none", DARTS, use_indices=True)
  assert p.num_features == 160
  assert build_predictor("mlp_ensemble", "path", 3, "none", DARTS).num_features == 11204
