"""The RE speed-ups change no result: NB-Graph's unrolled ``randint`` equals ``jax.random.randint``
bit for bit, and RE (the conditional ask, NB-Graph's sampler and int16 id table) gives the same
searches as the code before them (the select of a random and a mutated architecture at every
step, ``jax.random.randint``, the int32 id table), re-stated here."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, rng, spaces
from jaxnas.optimizers.blackbox.base import tree_where
from jaxnas.spaces import nb_graph as g


def test_nb_graph_randint_equals_jax_random_randint():
  keys = loops.seed_keys(5, 2048)
  # the two sizes RE uses, a batch shape, and a span whose multiplier overflows 32 bits
  for n, shape in ((g.NUM_ARCHS, ()), (2021, (30,)), ((1 << 31) - 1, (2, 3))):
    ours = jax.jit(jax.vmap(lambda k, n=n, s=shape: g._randint(k, s, n)))(keys)
    ref = jax.jit(jax.vmap(lambda k, n=n, s=shape: jax.random.randint(k, s, 0, n)))(keys)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref), err_msg=f"n={n} shape={shape}")


def _old_re(space, population_size=30, sample_size=10):
  """RE's ask before the conditional: both architectures built, one selected."""
  opt = optimizers.make("re", space, population_size=population_size, sample_size=sample_size)

  def ask(key, state):
    k_rand, k_tour, k_mut = rng.split(key, 3)
    random_arch = space.sample(k_rand, ())
    idx = rng.randint(k_tour, (sample_size,), population_size)
    parent_slot = idx[jnp.argmax(state.fitness[idx])]
    parent = jax.tree.map(lambda x: x[parent_slot], state.population)
    child = space.mutate(k_mut, parent)
    arch = tree_where(state.count < population_size, random_arch, child)
    return jax.tree.map(lambda x: x[None], arch), state

  return opt._replace(ask=ask)


def _old_nb_graph(space, proteins):
  """NB-Graph's sampler (jax.random.randint) and id table (int32) before the speed-ups."""
  def sample(key, shape=()):
    t = g._tables()
    n = len(t["proteins_ids"]) if proteins else g.NUM_ARCHS
    j = jax.random.randint(key, tuple(shape), 0, n)
    return g.from_id(jnp.asarray(t["proteins_ids"])[j] if proteins else j)

  def to_id(arch):
    return jnp.asarray(g._tables()["raw_id"])[g.raw_index(arch.links, arch.ops)]

  return dataclasses.replace(space, sample=sample, to_id=to_id)


@pytest.mark.extended
@pytest.mark.parametrize("name,dataset,options", [
    ("nasbench_graph", "cora", {}), ("nasbench_graph", "proteins", {"proteins": True}),
    ("nasbench201", "cifar100", {})])
def test_re_results_are_unchanged(name, dataset, options):
  bench = bm.load(name)
  space = spaces.get_space(bm.BENCHMARKS[name]["space"], **options)
  old_space = _old_nb_graph(space, bool(options)) if name == "nasbench_graph" else space
  objective = loops.Objective(dataset=dataset)
  outs = []
  for sp, opt in ((space, optimizers.make("re", space, population_size=10, sample_size=4)),
                  (old_space, _old_re(old_space, 10, 4))):
    fn = functools.partial(loops.search, optimizer=opt, space=sp, objective=objective,
                           num_queries=40)
    outs.append(jax.jit(jax.vmap(fn, in_axes=(0, None)))(loops.seed_keys(3, 6), bench))
  new, old = outs
  assert new.arch_id.shape == (6, 40, 1)
  assert len(np.unique(np.asarray(new.arch_id))) > 40  # real searches, not a constant
  for field in ("arch_id", "fitness", "best_fitness", "best_id"):
    np.testing.assert_array_equal(np.asarray(getattr(new, field)), np.asarray(getattr(old, field)),
                                  err_msg=field)
