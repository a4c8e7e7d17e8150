"""Drivers shared by the CLI, the notebooks and research code.

``step`` composes one ``ask -> query -> tell`` round; ``search`` runs ``num_queries`` of them under
``lax.scan`` for one seed; ``run`` runs many seeds as ONE compiled program, ``jit(vmap(scan))``,
sharding the seed axis over all local devices when there are several.
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import rng
from jaxnas.optimizers.blackbox.base import NEG_INF, BlackBoxOptimizer, clean_fitness


class Objective(NamedTuple):
  """What a search maximises (static, hashable).

  Attributes:
    dataset: benchmark dataset name.
    metric: benchmark metric (``val_accuracy``).
    epoch: fidelity (None = final).
    noisy: False: the mean over training seeds; True: one training seed drawn per query (the
      benchmark's noise, as a real training run would give).
  """

  dataset: str = "cifar10"
  metric: str = "val_accuracy"
  epoch: int | None = None
  noisy: bool = False


@flax.struct.dataclass
class SearchState:
  opt_state: Any
  best_fitness: jax.Array  # [] f32
  best_id: jax.Array  # [] int32


@flax.struct.dataclass
class StepOutput:
  arch_id: jax.Array  # [num_ask] int32: what was queried
  fitness: jax.Array  # [num_ask] f32
  best_fitness: jax.Array  # [] f32: best so far after this step
  best_id: jax.Array  # [] int32
  train_time: jax.Array  # [] f32: simulated training seconds of this step's queries (NaN if absent)


def evaluate(key, bench: bm.Benchmark, space, archs, objective: Objective) -> jax.Array:
  """The fitness of a batch of archs: a benchmark gather (one training seed drawn if noisy)."""
  seed = None
  if objective.noisy:
    seed = rng.randint(key, jax.tree.leaves(archs)[0].shape[:1], 1 << 30)
  return bm.query(bench, space.to_id(archs), objective.metric, objective.dataset, seed=seed,
                  epoch=objective.epoch)


def init(key, optimizer: BlackBoxOptimizer) -> SearchState:
  """Initial search state for one seed."""
  return SearchState(opt_state=optimizer.init(key), best_fitness=jnp.array(NEG_INF, jnp.float32),
                     best_id=jnp.zeros((), jnp.int32))


def step(key, state: SearchState, bench: bm.Benchmark, *, optimizer: BlackBoxOptimizer, space,
         objective: Objective) -> tuple[SearchState, StepOutput]:
  """One ``ask -> query -> tell`` round (pure; jit/vmap/scan it as you like)."""
  k_ask, k_query, k_tell = rng.split(key, 3)
  archs, opt_state = optimizer.ask(k_ask, state.opt_state)
  fitness = evaluate(k_query, bench, space, archs, objective)
  opt_state, _ = optimizer.tell(k_tell, opt_state, archs, fitness)
  ids = space.to_id(archs)
  f = clean_fitness(fitness)
  i = jnp.argmax(f)
  better = f[i] > state.best_fitness
  best_fitness = jnp.where(better, f[i], state.best_fitness)
  best_id = jnp.where(better, ids[i], state.best_id)
  t = jnp.zeros((), jnp.float32)
  if bench.has("train_time"):
    t = jnp.sum(bm.query(bench, ids, "train_time", objective.dataset))
    if objective.epoch is not None:  # the table's train time is for 200 epochs
      t = t * objective.epoch / bm.benchmark.MAX_EPOCH
  out = StepOutput(arch_id=ids, fitness=fitness, best_fitness=best_fitness, best_id=best_id,
                   train_time=t)
  return SearchState(opt_state=opt_state, best_fitness=best_fitness, best_id=best_id), out


def search(key, bench: bm.Benchmark, *, optimizer: BlackBoxOptimizer, space, objective: Objective,
           num_queries: int) -> StepOutput:
  """One seed: ``num_queries // num_ask`` steps under ``lax.scan``; outputs stacked over steps."""
  k_init, k_loop = rng.split(key)
  state = init(k_init, optimizer)
  num_steps = num_queries // optimizer.num_ask

  def body(state, t):
    return step(rng.fold_in(k_loop, t), state, bench, optimizer=optimizer, space=space,
                objective=objective)

  _, outs = jax.lax.scan(body, state, jnp.arange(num_steps))
  return outs


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
  """The per-seed keys of a run (seed i of a run is the same whatever ``num_seeds`` is)."""
  base = jax.random.key(seed)
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))


@functools.lru_cache(maxsize=64)
def compiled_search(optimizer: BlackBoxOptimizer, space, objective: Objective, num_queries: int):
  """``jit(vmap(search))`` for these static settings (cached: one compile per setting)."""
  fn = functools.partial(search, optimizer=optimizer, space=space, objective=objective,
                         num_queries=num_queries)
  return jax.jit(jax.vmap(fn, in_axes=(0, None)))


def _shard_keys(keys: jax.Array) -> jax.Array:
  devices = jax.local_devices()
  if len(devices) == 1 or keys.shape[0] % len(devices):
    return keys
  mesh = jax.sharding.Mesh(np.array(devices), ("seeds",))
  return jax.device_put(keys, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds")))


class RunResult(NamedTuple):
  outputs: StepOutput  # every leaf has leading axes [num_seeds, num_steps]
  compile_seconds: float
  run_seconds: float


def run(bench: bm.Benchmark, *, optimizer: BlackBoxOptimizer, space, objective: Objective,
        num_queries: int, seed: int = 0, num_seeds: int = 1) -> RunResult:
  """Runs ``num_seeds`` independent searches as one compiled program.

  The seed axis is sharded over all local devices when ``num_seeds`` is a multiple of their number
  (each seed's search is independent, so results do not depend on the device count).

  Returns:
    :class:`RunResult` with host numpy outputs and the compile and run wall times.
  """
  bm.resolve(bench, objective.metric, objective.dataset, objective.epoch)  # fail before compiling
  if num_queries < optimizer.num_ask or num_seeds < 1:
    raise ValueError(f"need num_queries >= {optimizer.num_ask} and num_seeds >= 1, got "
                     f"{num_queries} and {num_seeds}")
  keys = _shard_keys(seed_keys(seed, num_seeds))
  fn = compiled_search(optimizer, space, objective, num_queries)
  t0 = time.perf_counter()
  compiled = fn.lower(keys, bench).compile()
  t1 = time.perf_counter()
  outs = jax.block_until_ready(compiled(keys, bench))
  t2 = time.perf_counter()
  return RunResult(outputs=jax.tree.map(np.asarray, outs), compile_seconds=t1 - t0,
                   run_seconds=t2 - t1)
