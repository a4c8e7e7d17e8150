"""Every registered black-box optimizer on cell spaces other than NB201, through ``jaxnas.loops``.

NB201 itself is covered (with reference numbers) by ``tests/optimizers/test_blackbox.py``. Here each
optimizer runs on stand-in tables (a fixed random value per cell, two fidelities) for the
TransNAS-Bench-101 micro space and for a user-defined 5-node networkx cell whose validity predicate
rejects some cells, and must: query only valid architectures (checked on raw values, so it can
fail), compile once (a Python loop of a jitted step equals the scan), and be deterministic per key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, rng, spaces
from jaxnas.spaces import cell


def _needs_a_conv(ops):
  return jnp.any(ops == 2)


USER = cell.cell_space("user_cell5_pred", nx.DiGraph([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]),
                       ("none", "skip_connect", "conv3x3"), valid_fn=_needs_a_conv).as_search_space()
SPACES = {"transnas101_micro": spaces.get_space("transnas101_micro"), USER.name: USER}
_TINY_MODEL = {"num_init": 4, "k": 2, "num_candidates": 6, "buffer_size": 48}
MF = {"fidelities": (10, 100)}
SMALL = {"re": {"population_size": 8, "sample_size": 3}, "ls": {"num_init": 3}, "rs": {},
         "bananas": dict(_TINY_MODEL, predictor="blr"), "npenas": dict(_TINY_MODEL, predictor="blr"),
         "bp": dict(_TINY_MODEL, predictor="blr"), "gp_bo": dict(_TINY_MODEL, gp_steps=3),
         "sh": MF, "hb": MF, "bohb": dict(MF, min_points_in_model=2, history_size=16)}
OBJ = loops.Objective(dataset="stand-in")


def stand_in(space) -> bm.Benchmark:
  """A table over the space's ids: value = a fixed random number per cell (NaN for invalid ids),
  the 10-epoch fidelity 0.9 of it; declared higher-is-better with final epoch 100."""
  n = space.num_ops ** space.num_edges
  v = np.random.default_rng(0).uniform(0, 100, (1, n)).astype(np.float32)
  ok = np.zeros(n, bool)
  ok[np.asarray(space.to_id(space.all_archs()))] = True
  v[:, ~ok] = np.nan
  metric = bm.Metric("val_accuracy", higher_is_better=True, unit="%", final_epoch=100)
  return bm.from_arrays({
      "name": np.array(f"stand-in-{space.name}"), "datasets": np.array(["stand-in"]),
      "val_accuracy": v, "val_accuracy@10": 0.9 * v, "num_seeds": np.ones((1, n), np.int32),
      "iso_class": np.arange(n, dtype=np.int32),
      "declarations": bm.declarations_json([metric], space=space.name)})


BENCHES = {name: stand_in(s) for name, s in SPACES.items()}


@pytest.mark.parametrize("space_name", sorted(SPACES))
@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_optimizer_on_cell_space(name, space_name):
  space, bench = SPACES[space_name], BENCHES[space_name]
  opt = optimizers.make(name, space, **SMALL[name])
  loops.check_space(bench, space)
  loops.check_objective(bench, opt, OBJ)
  traces = []

  def step(key, state, b):
    traces.append(1)
    return loops.step(key, state, b, optimizer=opt, space=space, objective=OBJ)

  jstep = jax.jit(step)
  key = jax.random.key(5)
  k_init, k_loop = rng.split(key)
  state = loops.init(k_init, opt)
  ids = []
  for t in range(24 // opt.num_ask):
    state, out = jstep(rng.fold_in(k_loop, t), state, bench)
    ids.append(np.asarray(out.arch_id))
  assert len(traces) == 1
  ids = np.stack(ids)
  scanned = loops.search(key, bench, optimizer=opt, space=space, objective=OBJ, num_queries=24)
  np.testing.assert_array_equal(ids, scanned.arch_id)
  assert bool(space.is_valid(space.from_id(scanned.arch_id)).all())
  assert np.isfinite(np.asarray(scanned.fitness)).all()  # no invalid (NaN) row was queried
  again = loops.search(key, bench, optimizer=opt, space=space, objective=OBJ, num_queries=24)
  np.testing.assert_array_equal(again.arch_id, scanned.arch_id)
