"""Multi-fidelity optimizers on a table with one fidelity: one rung, so Hyperband's brackets
collapse to full-budget evaluations and BOHB is its TPE model proposing every full-budget query
(BOHB with ``min_budget == max_budget``). The NB201 two-fidelity numbers are pinned in
``test_multifidelity.py`` and ``test_blackbox.py``; this file proves the one-rung case."""

import importlib

import jax
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.drivers import blackbox

SPACE = spaces.get_space("nasbench201")
OBJ = loops.Objective(dataset="cifar10")
hb_lib = importlib.import_module("jaxnas.optimizers.blackbox.hyperband")
TINY_BOHB = {"min_points_in_model": 3, "history_size": 32}


def _run(opt, bench, n=32, seeds=3):
  fn = jax.jit(jax.vmap(lambda k, b: loops.search(k, b, optimizer=opt, space=SPACE,
                                                     objective=OBJ, num_queries=n),
                        in_axes=(0, None)))
  return fn(loops.seed_keys(0, seeds), bench)


def test_one_rung_is_full_budget_and_bohb_is_tpe():
  bench = bm.load()  # the embedded table: val_accuracy at 200 epochs only
  hb = optimizers.make("hb", SPACE, fidelities=(200,))
  bohb = optimizers.make("bohb", SPACE, fidelities=(200,), **TINY_BOHB)
  bohb_random = optimizers.make("bohb", SPACE, fidelities=(200,), random_fraction=1.0, **TINY_BOHB)
  assert hb.fidelities == bohb.fidelities == (200,)  # fidelity: an explicit optimizer field
  # one rung: no per-query epoch, so the loop queries at the objective's fidelity (and the
  # embedded table, which lacks the 12-epoch rung, is accepted)
  state = jax.eval_shape(bohb.init, jax.random.key(0))
  assert isinstance(state, hb_lib.HyperbandState) and not hasattr(state, "query_epoch")
  assert loops.fidelities(bohb) == ()
  loops.check_objective(bench, bohb, OBJ)
  outs = {name: _run(opt, bench) for name, opt in
          (("hb", hb), ("bohb", bohb), ("bohb_random", bohb_random))}
  for out in outs.values():
    assert (np.asarray(out.epoch) == 200).all() and bool(np.asarray(out.counted).all())
    ids = np.asarray(out.arch_id)[..., 0]
    best = np.asarray(out.best_fitness)
    # every query counts: the best so far is the running maximum of the queried values
    np.testing.assert_array_equal(best, np.maximum.accumulate(np.asarray(out.fitness)[..., 0], -1))
    assert bool(SPACE.is_valid(SPACE.from_id(ids)).all())
  # BOHB without its model (all proposals random) is Hyperband exactly: the TPE model is the only
  # difference, and it changes the queries once min_points_in_model results exist
  np.testing.assert_array_equal(outs["bohb_random"].arch_id, outs["hb"].arch_id)
  q_hb, q_bohb = np.asarray(outs["hb"].arch_id), np.asarray(outs["bohb"].arch_id)
  np.testing.assert_array_equal(q_bohb[:, :3], q_hb[:, :3])  # random until the model has 3 points
  assert (q_bohb[:, 3:] != q_hb[:, 3:]).any()
  # deduplicate=True: the model never re-proposes a cell it has seen, so the only repeats left
  # would be random draws (1 in 15,625 each); without it the concentrated TPE densities repeat cells
  dedup = optimizers.make("bohb", SPACE, fidelities=(200,), deduplicate=True, **TINY_BOHB)
  q_dedup = np.asarray(_run(dedup, bench).arch_id)[..., 0]
  distinct = lambda q: [len(set(row)) for row in q]  # noqa: E731
  assert distinct(q_dedup) == [32, 32, 32], distinct(q_dedup)
  assert min(distinct(q_bohb[..., 0])) < 32, distinct(q_bohb[..., 0])
  np.testing.assert_array_equal(q_dedup[:, :3], q_hb[:, :3, 0])  # the same random start


def test_fidelity_checks():
  for bad in ((), (200, 12), (12, 12), (0, 200), (-1,)):
    with pytest.raises(ValueError, match="one or more strictly increasing positive epochs"):
      optimizers.make("bohb", SPACE, fidelities=bad)
  assert optimizers.make("sh", SPACE, fidelities=(0,)).fidelities == (0,)  # an unnamed final epoch
  # one fidelity must be the objective's (the loop cannot check it: nothing is per query)
  c = blackbox.generic_blackbox_config("bohb")
  c.optimizer.fidelities = (12,)
  with pytest.raises(ValueError, match="one fidelity, epoch 12, but the objective is at epoch 200"):
    blackbox.blackbox_setup(c)
