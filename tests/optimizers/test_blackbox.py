"""Black-box optimizers: the same contract for every registered optimizer, plus reference numbers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, rng, spaces
from jaxnas.optimizers.blackbox import (HyperbandState, ModelBasedState,
                                        RegularizedEvolutionState)

SPACE = spaces.get_space("nasbench201")
OBJ = loops.Objective(dataset="cifar10")
NAMES = sorted(optimizers.OPTIMIZERS)
_TINY_MODEL = {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48}
SMALL = {"re": {"population_size": 8, "sample_size": 3}, "ls": {"num_init": 3}, "rs": {},
         "bananas": dict(_TINY_MODEL, predictor="blr"), "npenas": dict(_TINY_MODEL, predictor="blr"),
         "bp": dict(_TINY_MODEL, predictor="blr"), "gp_bo": dict(_TINY_MODEL, gp_steps=3),
         "sh": {}, "hb": {}, "bohb": {"min_points_in_model": 2, "history_size": 16}}


def with_fake_epoch12(b):
  """The embedded table plus a stand-in 12-epoch fidelity (the real one needs the hp12 CSV), so
  the multi-fidelity optimizers meet the same contract."""
  tables = dict(b.tables)
  tables["val_accuracy@12"] = jnp.nanmean(b.tables["val_accuracy"], -1) * 0.9
  return b.replace(tables=tables)


@pytest.fixture(scope="module")
def bench():
  return with_fake_epoch12(bm.load())


PLACE = 5 ** np.arange(5, -1, -1)  # NB201 id = base-5 number of the 6 ops, edge 0 first


def recording(opt, log):
  """``opt`` with ``ask`` / ``tell`` that also send their architectures' raw op arrays to the host
  (``jax.debug.callback``: the arrays exactly as the optimizer made them, before any ``to_id``),
  so the test sees what was asked, not its id reduced mod 5 by ``from_id``."""

  def ask(key, state):
    archs, state = opt.ask(key, state)
    jax.debug.callback(lambda ops: log["asked"].append(np.asarray(ops)), archs.ops, ordered=True)
    return archs, state

  def tell(key, state, archs, fitness):
    jax.debug.callback(lambda ops: log["told"].append(np.asarray(ops)), archs.ops, ordered=True)
    return opt.tell(key, state, archs, fitness)

  return opt._replace(ask=ask, tell=tell)


def recorded_ids(opt_state):
  """The ring of queried arch ids an optimizer's state keeps (None if it keeps none)."""
  if isinstance(opt_state, RegularizedEvolutionState):
    return np.asarray(opt_state.population.ops) @ PLACE
  if isinstance(opt_state, ModelBasedState):
    return np.asarray(opt_state.ids)
  if isinstance(opt_state, HyperbandState):
    return np.asarray(opt_state.hist_ops) @ PLACE
  return None


def check_asked_and_recorded(opt, asked, out, opt_state, told_ids):
  """One step's raw ``ask`` output is a batch of in-range int32 ops, its ids are what was queried,
  and the state counts every told query and keeps the latest ones in its history ring."""
  assert asked.dtype == np.int32 and asked.shape == (opt.num_ask, 6), (asked.dtype, asked.shape)
  assert ((asked >= 0) & (asked < 5)).all(), asked
  ids = np.asarray(out.arch_id)
  assert ids.dtype == np.int32 and ((ids >= 0) & (ids < SPACE.num_archs)).all(), ids
  np.testing.assert_array_equal(asked @ PLACE, ids)
  told_ids.extend(ids.tolist())
  n = len(told_ids)
  assert int(opt_state.count) == n
  ring = recorded_ids(opt_state)
  if ring is not None:
    recent = np.asarray(told_ids[-len(ring):])
    np.testing.assert_array_equal(ring[np.arange(n - len(recent), n) % len(ring)], recent)


@pytest.mark.parametrize("name", NAMES)
def test_python_loop_equals_scan_and_compiles_once(name, bench):
  opt = optimizers.make(name, SPACE, **SMALL[name])
  traces, log, told_ids = [], {"asked": [], "told": []}, []
  rec = recording(opt, log)

  def step(key, state, b):
    traces.append(1)
    return loops.step(key, state, b, optimizer=rec, space=SPACE, objective=OBJ)

  jstep = jax.jit(step)
  key = jax.random.key(3)
  k_init, k_loop = rng.split(key)
  state = loops.init(k_init, opt)
  outs = []
  steps = 40 // opt.num_ask
  for t in range(steps):
    state, out = jstep(rng.fold_in(k_loop, t), state, bench)
    outs.append(out)
    jax.effects_barrier()
    assert len(log["asked"]) == len(log["told"]) == t + 1
    check_asked_and_recorded(opt, log["asked"][t], out, state.opt_state, told_ids)
    np.testing.assert_array_equal(log["told"][t], log["asked"][t])  # told what was asked
  assert len(traces) == 1  # no retrace on later calls
  scanned = loops.search(key, bench, optimizer=opt, space=SPACE, objective=OBJ, num_queries=40)
  # Exact on purpose (audited with the EPE-NAS fragility of issue 11): the step and the scan are two
  # XLA programs, and a model-based optimizer's float32 predictions could differ in the last ulp
  # between them; only a near-tie of two candidates' acquisitions would then change an arch id.
  # Green on AMD Zen 4 and Intel Xeon (jax 0.10.2); if it ever fails on another CPU with ids that
  # diverge late, compare the predictions before the argmax instead of loosening this.
  np.testing.assert_array_equal(np.stack([o.arch_id for o in outs]), scanned.arch_id)
  np.testing.assert_array_equal(np.stack([o.best_fitness for o in outs]), scanned.best_fitness)
  # best-so-far is monotone and equals the running max of what was asked (at the objective's
  # fidelity: multi-fidelity optimizers also query cheaper ones)
  f = np.where(np.asarray(scanned.epoch) == 200, np.asarray(scanned.fitness), -np.inf).max(1)
  np.testing.assert_allclose(scanned.best_fitness, np.maximum.accumulate(f))


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_seed_dependent(name, bench):
  opt = optimizers.make(name, SPACE, **SMALL[name])
  # 16 queries: past every optimizer's random start (model-based: 4 initial, then 6 model-guided
  # steps of k=2); their runs, not the compiles, dominate this test (30 queries: ~50 s each)
  r1 = loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ, num_queries=16, seed=5, num_seeds=4)
  r2 = loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ, num_queries=16, seed=5, num_seeds=4)
  np.testing.assert_array_equal(r1.outputs.arch_id, r2.outputs.arch_id)
  assert len({tuple(r) for r in r1.outputs.arch_id[:, :, 0]}) == 4  # seeds differ


def test_regularized_evolution_semantics(bench):
  """Population fills with random archs, then every child is one mutation from a member."""
  opt = optimizers.make("re", SPACE, population_size=5, sample_size=2)
  out = loops.search(jax.random.key(0), bench, optimizer=opt, space=SPACE, objective=OBJ,
                     num_queries=30)
  ids = np.asarray(out.arch_id)[:, 0]
  ops = np.asarray(SPACE.from_id(ids).ops)
  for t in range(5, 30):
    window = ops[t - 5:t]  # the population when child t was made (the 5 most recent)
    assert (np.sum(window != ops[t], -1) == 1).any()


def test_local_search_walks_neighbourhoods(bench):
  opt = optimizers.make("ls", SPACE, num_init=4)
  out = loops.search(jax.random.key(1), bench, optimizer=opt, space=SPACE, objective=OBJ,
                     num_queries=60)
  ops = np.asarray(SPACE.from_id(np.asarray(out.arch_id)[:, 0]).ops)
  best = np.asarray(out.best_fitness)
  # after the initial samples, the first 24 queries are exactly the neighbourhood of the best
  first = int(np.argmax(np.asarray(out.fitness)[:4, 0]))
  nb = {tuple(r) for r in np.asarray(SPACE.neighbours(SPACE.from_id(out.arch_id[first, 0])).ops)}
  assert {tuple(r) for r in ops[4:28]} == nb
  assert np.all(np.diff(best) >= 0)


def test_reference_means_1000_seeds(bench):
  """Means over 1,000 seeds, 150 queries, cifar10 validation accuracy (reference run: RE 30/10
  91.52 +- 0.03, RS 91.12 +- 0.03)."""
  for name, ref in (("re", 91.52), ("rs", 91.12)):
    opt = optimizers.make(name, SPACE)
    r = loops.run(bench, optimizer=opt, space=SPACE, objective=OBJ, num_queries=150, num_seeds=1000)
    mean = float(r.outputs.best_fitness[:, -1].mean())
    assert abs(mean - ref) <= 0.03, (name, mean)


def test_nan_fitness_never_wins():
  from jaxnas.optimizers.blackbox import clean_fitness  # pylint: disable=import-outside-toplevel

  f = clean_fitness(jnp.array([jnp.nan, 1.0]))
  assert f[0] == -jnp.inf and int(jnp.argmax(f)) == 1


def test_bad_names():
  with pytest.raises(ValueError, match="unknown optimizer 'bogus'; valid: bananas, bohb, bp"):
    optimizers.make("bogus", SPACE)
  with pytest.raises(ValueError, match="unknown hyperparameter 'pop' for optimizer 're'"):
    optimizers.make("re", SPACE, pop=3)
  with pytest.raises(ValueError, match="population_size must be a positive integer"):
    optimizers.make("re", SPACE, population_size=0)
  with pytest.raises(ValueError, match="unknown search space 'nb999'"):
    spaces.get_space("nb999")
