"""Model-based optimizers (BANANAS, NPENAS, BasePredictor, GP-BO): composition by hand, a quick
quality check and bad input. The shared contract (loop == scan, one compile, valid archs,
deterministic) runs for them in test_blackbox.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, rng, spaces
from jaxnas.optimizers.blackbox import acquisition as acq

SPACE = spaces.get_space("nasbench201")
OBJ = loops.Objective(dataset="cifar10")


@pytest.fixture(scope="module")
def bench():
  return bm.load()


def test_composed_by_hand_fills_buffer_without_repeats(bench):
  """init / ask / tell without the loops module: k archs per ask, all distinct, none re-queried,
  the buffer holds every result."""
  opt = optimizers.make("npenas", SPACE, num_init=4, k=4, num_candidates=12, buffer_size=32,
                        predictor="blr")
  ask, tell = jax.jit(opt.ask), jax.jit(opt.tell)
  key = jax.random.key(0)
  state = opt.init(key)
  seen = []
  for t in range(6):
    k_ask, k_tell = rng.split(rng.fold_in(key, t))
    archs, state = ask(k_ask, state)
    ids = np.asarray(SPACE.to_id(archs))
    assert ids.shape == (4,)
    seen.extend(ids.tolist())
    fitness = bm.query(bench, SPACE.to_id(archs), "val_accuracy", "cifar10")
    state, _ = tell(k_tell, state, archs, fitness)
  assert int(state.count) == 24 and int(state.mask.sum()) == 24
  model_guided = seen[4:]  # after the random initial batch
  assert len(set(model_guided)) == len(model_guided)
  np.testing.assert_array_equal(np.sort(np.asarray(state.ids[:24])), np.sort(seen))


@pytest.mark.extended  # ~30 CPU-s: a quality check over many seeds; CI's second step
def test_npenas_quick_quality(bench):
  """A small NPENAS (16 seeds x 60 queries, Bayesian linear regression on the path encoding: the
  cheapest predictor to compile) beats random search on the same seeds."""
  kw = dict(num_queries=60, num_seeds=16, seed=1)
  opt = optimizers.make("npenas", SPACE, predictor="blr", buffer_size=64)
  mb = loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ, **kw)
  rs = loops.run(bench, optimizer=optimizers.make("rs", SPACE), space=SPACE, objective=OBJ, **kw)
  m_mb, m_rs = mb.outputs.best_fitness[:, -1].mean(), rs.outputs.best_fitness[:, -1].mean()
  assert m_mb > m_rs + 0.1, (m_mb, m_rs)


def test_acquisition_functions():
  mean = jnp.array([1.0, 2.0, 0.0])
  std = jnp.array([0.0, 0.0, 10.0])
  key = jax.random.key(0)
  np.testing.assert_array_equal(acq.acquisition("exploit_only", key, mean, std, 2.0), mean)
  np.testing.assert_allclose(acq.acquisition("ucb", key, mean, std, 2.0, explore_factor=0.5),
                             [1.0, 2.0, 5.0])
  its = acq.acquisition("its", key, mean, std, 2.0)
  np.testing.assert_array_equal(its[:2], mean[:2])  # no spread, no noise
  ei = acq.acquisition("ei", key, mean, std, 2.0, ei_calibration_factor=1.0)
  assert float(ei[0]) == 0.0 and float(ei[2]) > 3.0  # only uncertainty can improve on 2.0
  inf_std = acq.acquisition("ucb", key, mean, jnp.full(3, jnp.inf), 2.0)  # unfitted model
  assert bool(jnp.all(jnp.isfinite(inf_std)))


@pytest.mark.parametrize("name,kw,message", [
    ("bananas", {"predictor": "bogus"}, "unknown predictor 'bogus'; valid: "),
    ("npenas", {"predictor": "xgboost"}, "predictor 'xgboost' is host-side"),
    ("bananas", {"k": 20, "num_candidates": 10}, "k=20 must be <= num_candidates=10"),
    ("bp", {"k": 400}, "k=400 must be <= num_candidates=300"),
    ("bananas", {"acq_fn_type": "pi"}, "unknown acquisition function 'pi'; valid: its, ucb"),
    ("bananas", {"acq_fn_optimization": "grid"}, "unknown acq_fn_optimization 'grid'"),
    ("bananas", {"encoding_type": "onehot"}, "unknown encoding_type 'onehot'"),
    ("gp_bo", {"kernel": "cosine"}, "unknown kernel 'cosine'"),
    ("bananas", {"num_init": 0}, "num_init must be a positive integer"),
    ("bananas", {"buffer_size": 4}, "buffer_size=4 must be >= k=10"),
])
def test_bad_input_raises_before_compiling(name, kw, message):
  with pytest.raises(ValueError, match=message):
    optimizers.make(name, SPACE, **kw)
