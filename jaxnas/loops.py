"""Drivers shared by the CLI, the notebooks and research code.

``step`` composes one ``ask -> query -> tell`` round; ``search`` runs ``num_queries`` of them under
``lax.scan`` for one seed; ``run`` runs many seeds as ONE compiled program, ``jit(vmap(scan))``,
sharding the seed axis over all local devices when there are several (over all devices of all
processes in a ``jax.distributed`` run, see :mod:`jaxnas.distributed`).

Budgets. A search is bounded by ``num_queries`` and, optionally, by a simulated training-time
budget ``time_budget`` (seconds of the benchmark's training time, as in the NAS-Bench-201 paper's
12,000 s protocol): the scan still has ``num_queries // num_ask`` steps (a static length), but a
step whose training time would take the running total past the budget, and every step after it,
is not counted (``StepOutput.counted`` False: best-so-far frozen, no time added), the rule of
NAS-Bench-201's ``R_EA.py``.

Fidelities. A multi-fidelity optimizer (successive halving, Hyperband, BOHB) says per query at
which epoch to evaluate: its state after ``ask`` has ``query_epoch: int32[num_ask]`` and a static
``fidelities`` tuple. The query is then made at that epoch, its training time is the epoch's share
of the final epoch's time (as the benchmark declares it for ``train_time``, NB201: 200 epochs), and
only queries at the objective's own fidelity update the best-so-far.

Architectures. The loop carries architecture pytrees (``StepOutput.arch``, ``best_arch``;
``SearchState.best_arch``), so a space without an enumeration is searched like any other, and
looks every benchmark kind up through :func:`jaxnas.benchmarks.lookup` ``(bench, space, arch)``:
dense tables (a gather at ``space.to_id``), partial fingerprint-indexed tables and surrogates.
``StepOutput.arch_id`` / ``best_id`` stay for enumerable spaces (``space.num_archs`` set); they are
``-1`` (:data:`NO_ID`) when the space has no enumeration. Before any result ``best_arch`` is the
all-zeros architecture (``best_id`` 0 on an enumerable space, as before architectures were
carried) and ``best_fitness`` is -inf (+inf for a metric to minimise).

Absent results. An architecture a partial table does not have is **no result**: its fitness is
NaN (told to the optimizer as NaN, which never wins), it never becomes the best, and it adds no
training time.
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
from jaxnas.optimizers.blackbox.base import NEG_INF, BlackBoxOptimizer, clean_fitness, tree_where


class Objective(NamedTuple):
  """What a search optimises (static, hashable), in the direction the benchmark declares for
  ``metric`` (:func:`direction`): a loss or an error is minimised.

  Attributes:
    dataset: benchmark dataset (or task) name.
    metric: benchmark metric (``val_accuracy``).
    epoch: fidelity (None = final).
    noisy: False: the mean over training seeds; True: one training seed drawn per query (the
      benchmark's noise, as a real training run would give).
  """

  dataset: str = "cifar10"
  metric: str = "val_accuracy"
  epoch: int | None = None
  noisy: bool = False


NO_ID = -1  # arch_id / best_id of a space without an enumeration


@flax.struct.dataclass
class SearchState:
  opt_state: Any
  best_fitness: jax.Array  # [] f32, maximised: direction * metric value (-inf before any result)
  best_arch: Any  # Arch (one architecture): the best so far (all zeros before any result)


@flax.struct.dataclass
class StepOutput:
  """One step's record. ``fitness`` and ``best_fitness`` are metric values in the metric's own
  units (best = the largest for a metric to maximise, the smallest for one to minimise; +-inf
  before any result; NaN fitness = no result, e.g. absent from a partial table); the optimizer is
  told ``direction * value``."""

  arch: Any  # Arch[num_ask]: what was queried
  arch_id: jax.Array  # [num_ask] int32: its enumeration ids (NO_ID without an enumeration)
  fitness: jax.Array  # [num_ask] f32
  best_fitness: jax.Array  # [] f32: best so far after this step
  best_arch: Any  # Arch: the best so far
  best_id: jax.Array  # [] int32: its id (NO_ID without an enumeration)
  new_best: jax.Array  # [] int32: which of this step's queries became the best so far (-1: none)
  train_time: jax.Array  # [] f32: simulated training seconds of this step's queries
  epoch: jax.Array  # [num_ask] int32: the fidelity (epochs) each query was made at
  counted: jax.Array  # [] bool: within the budget (False once a time budget is exhausted)


def enumerable(space) -> bool:
  """Whether ``space`` has dense ids (``arch_id`` / ``best_id`` are then meaningful)."""
  return space.num_archs is not None and space.to_id is not None


def arch_ids(space, archs) -> jax.Array:
  """``int32[...]``: the enumeration ids of ``archs``, :data:`NO_ID` without an enumeration."""
  if enumerable(space):
    return space.to_id(archs).astype(jnp.int32)
  return jnp.full(batch_shape(archs, space), NO_ID, jnp.int32)


def batch_shape(archs, space) -> tuple[int, ...]:
  """The batch shape of an architecture pytree (from the abstract shape of one architecture)."""
  one = jax.eval_shape(lambda k: space.sample(k), jax.random.key(0))
  leaf, one_leaf = jax.tree.leaves(archs)[0], jax.tree.leaves(one)[0]
  return tuple(leaf.shape[:leaf.ndim - one_leaf.ndim])


def evaluate(key, bench: bm.Benchmark, space, archs, objective: Objective) -> jax.Array:
  """The fitness of a batch of archs: a benchmark lookup (one training seed drawn if noisy); NaN
  for an architecture the benchmark does not have."""
  seed = None
  if objective.noisy:
    seed = rng.randint(key, jax.tree.leaves(archs)[0].shape[:1], 1 << 30)
  return bm.lookup(bench, space, archs, objective.metric, objective.dataset, seed=seed,
                   epoch=objective.epoch)


def direction(bench: bm.Benchmark, objective: Objective) -> float:
  """+1.0 when the objective's metric is better higher, -1.0 when lower (static: read from the
  benchmark's declarations). A benchmark declaring no metrics at all is maximised, as before
  declarations existed; a declared metric without a direction is a one-line ValueError."""
  if not bench.metrics:
    return 1.0
  return bench.sign(objective.metric)


def fidelities(optimizer: BlackBoxOptimizer) -> tuple[int, ...]:
  """The epochs a multi-fidelity optimizer queries at (``()`` for single-fidelity ones); read from
  the abstract shape of its state, so nothing is computed."""
  st = jax.eval_shape(optimizer.init, jax.random.key(0))
  return tuple(getattr(st, "fidelities", ()))


def final_epoch(bench: bm.Benchmark, metric: str) -> int | None:
  """The epoch of ``metric``'s final (un-suffixed) table as the benchmark declares it; None when
  the source does not name it (TransNAS-Bench-101); see ``Benchmark.final_epoch`` for a
  benchmark that declares no metrics at all."""
  if not bench.metrics:
    return bench.final_epoch(metric)
  return bench.metric(metric).final_epoch


def target_epoch(bench: bm.Benchmark, objective: Objective) -> int:
  """The objective's fidelity as an int label: its ``epoch``, else the metric's final epoch, else
  0 (the final epoch, unnamed). ``StepOutput.epoch`` equals it for queries that count."""
  if objective.epoch:
    return int(objective.epoch)
  f = final_epoch(bench, objective.metric)
  return 0 if f is None else int(f)


def check_space(bench: bm.Benchmark, space) -> None:
  """Host-side check that the benchmark's rows are ``space``'s ids (a table of another space
  would be gathered with ids it does not index, silently); a one-line ValueError."""
  if bench.space_name != space.name:
    raise ValueError(f"benchmark {bench.name} indexes search space {bench.space_name!r}, not "
                     f"{space.name!r}; use search space {bench.space_name!r} or a benchmark of "
                     f"{space.name!r}")


def check_objective(bench: bm.Benchmark, optimizer: BlackBoxOptimizer, objective: Objective) -> None:
  """Host-side check that the benchmark has the objective's metric at every fidelity the optimizer
  queries; a one-line ValueError before anything compiles."""
  bm.resolve(bench, objective.metric, objective.dataset, objective.epoch)
  direction(bench, objective)
  fids = fidelities(optimizer)
  for f in fids:
    if not bench.has(objective.metric, f):
      have = bench.fidelities(objective.metric)
      hint = bench.metric(objective.metric).fidelity_hint if bench.metrics else ""
      raise ValueError(
          f"optimizer {optimizer.name!r} queries {objective.metric!r} at epoch {f}, which benchmark "
          f"{bench.name} does not have; fidelities present: "
          f"{', '.join(map(str, have)) or 'the final epoch only (unnamed)'}"
          + (f" ({hint})" if hint else ""))
  target = target_epoch(bench, objective)
  if fids and target != fids[-1]:
    raise ValueError(f"optimizer {optimizer.name!r} has top fidelity {fids[-1]} epochs but the "
                     f"objective is at epoch {target}; only top-fidelity results count as best")


def init(key, optimizer: BlackBoxOptimizer) -> SearchState:
  """Initial search state for one seed; ``best_arch`` is the all-zeros architecture of the shape
  ``optimizer.ask`` proposes (read abstractly, nothing is computed)."""
  opt_state = optimizer.init(key)
  asked = jax.eval_shape(optimizer.ask, key, opt_state)[0]  # Arch[num_ask]
  best_arch = jax.tree.map(lambda x: jnp.zeros(x.shape[1:], x.dtype), asked)
  return SearchState(opt_state=opt_state, best_fitness=jnp.array(NEG_INF, jnp.float32),
                     best_arch=best_arch)


def step(key, state: SearchState, bench: bm.Benchmark, *, optimizer: BlackBoxOptimizer, space,
         objective: Objective) -> tuple[SearchState, StepOutput]:
  """One ``ask -> query -> tell`` round (pure; jit/vmap/scan it as you like)."""
  k_ask, k_query, k_tell = rng.split(key, 3)
  archs, opt_state = optimizer.ask(k_ask, state.opt_state)
  ids = arch_ids(space, archs)
  target = target_epoch(bench, objective)
  if hasattr(opt_state, "query_epoch"):  # multi-fidelity: each query at its own epoch
    epoch = opt_state.query_epoch.astype(jnp.int32)
    fitness = jnp.full(ids.shape, jnp.nan, jnp.float32)
    for f in opt_state.fidelities:
      v = evaluate(k_query, bench, space, archs, objective._replace(epoch=f))
      fitness = jnp.where(epoch == f, v, fitness)
  else:
    epoch = jnp.full(ids.shape, target, jnp.int32)
    fitness = evaluate(k_query, bench, space, archs, objective)
  sign = direction(bench, objective)
  # optimizers maximise: a metric to minimise is told negated (no op at all when maximising, so
  # maximised searches compile to the same program as before directions existed)
  told = fitness if sign > 0 else -fitness
  opt_state, _ = optimizer.tell(k_tell, opt_state, archs, told)
  # only results at the objective's fidelity compete for best-so-far
  f = jnp.where(epoch == target, clean_fitness(told), NEG_INF)
  i = jnp.argmax(f)
  better = f[i] > state.best_fitness  # NaN (absent) was mapped to -inf: never better
  best_fitness = jnp.where(better, f[i], state.best_fitness)
  best_arch = tree_where(better, jax.tree.map(lambda x: x[i], archs), state.best_arch)
  t = jnp.zeros((), jnp.float32)
  queried = tuple(getattr(opt_state, "fidelities", ())) or (target,)
  full = final_epoch(bench, "train_time") if bench.has("train_time") else None
  if any(f != full for f in queried) and all(bench.has("train_time", f) for f in queried):
    # the table has the training time of every queried budget (NAS-Bench-101's separate 4/12/36/
    # 108-epoch runs): each query costs its own budget's time
    tt = jnp.zeros(epoch.shape, jnp.float32)
    for f in queried:
      tt = jnp.where(epoch == f, bm.lookup(bench, space, archs, "train_time", objective.dataset,
                                           epoch=f), tt)
    if bench.partial:  # an absent architecture was not trained: it costs nothing
      tt = jnp.where(jnp.isnan(tt), 0.0, tt)
    t = jnp.sum(tt)
  elif bench.has("train_time"):
    # the table's train time is for its final epoch; a lower fidelity costs its share of it
    share = epoch.astype(jnp.float32) / full if full else 1.0  # exactly 1.0 at the final epoch
    tt = bm.lookup(bench, space, archs, "train_time", objective.dataset)
    if bench.partial:  # an absent architecture was not trained: it costs nothing
      tt = jnp.where(jnp.isnan(tt), 0.0, tt)
    t = jnp.sum(tt * share)
  out = StepOutput(arch=archs, arch_id=ids, fitness=fitness,
                   best_fitness=best_fitness if sign > 0 else -best_fitness, best_arch=best_arch,
                   best_id=arch_ids(space, best_arch),
                   new_best=jnp.where(better, i, -1).astype(jnp.int32), train_time=t, epoch=epoch,
                   counted=jnp.array(True))
  return SearchState(opt_state=opt_state, best_fitness=best_fitness, best_arch=best_arch), out


def search(key, bench: bm.Benchmark, *, optimizer: BlackBoxOptimizer, space, objective: Objective,
           num_queries: int, time_budget: float | None = None) -> StepOutput:
  """One seed: ``num_queries // num_ask`` steps under ``lax.scan``; outputs stacked over steps.

  The per-step ``best_arch`` / ``best_id`` are gathered from the stacked queries after the scan
  (from ``new_best``), not written at every step: the same values as :func:`step`'s, at the
  speed of the id-carrying loop.

  Args:
    time_budget: None, or simulated training seconds: steps past it are not counted (their
      ``counted`` is False, ``train_time`` 0, best-so-far frozen); see the module docstring.
  """
  k_init, k_loop = rng.split(key)
  state = init(k_init, optimizer)
  num_steps = num_queries // optimizer.num_ask
  sign = direction(bench, objective)

  num_ask = optimizer.num_ask
  # Writing the queried architectures at every step cost NB201 RE ~12 us per seed-run (ops int32[6]
  # per query next to the id); an enumerable space's from_id decodes them exactly after the scan.
  decode_after = enumerable(space) and space.from_id is not None

  def body(carry, t):
    (state, spent, stopped), best_q = carry
    new, out = step(rng.fold_in(k_loop, t), state, bench, optimizer=optimizer, space=space,
                    objective=objective)
    out = out.replace(best_arch=None, best_id=None)  # gathered after the scan
    if decode_after:  # ids suffice in the scan: the architectures are decoded once, after it
      out = out.replace(arch=None)
    if time_budget is not None:
      # NAS-Bench-201's R_EA: a query that would exceed the budget ends the search uncounted
      counted = ~stopped & (spent + out.train_time <= time_budget)
      new = new.replace(best_fitness=jnp.where(counted, new.best_fitness, state.best_fitness),
                        best_arch=tree_where(counted, new.best_arch, state.best_arch))
      best_value = new.best_fitness if sign > 0 else -new.best_fitness  # metric units
      out = out.replace(best_fitness=best_value, counted=counted,
                        new_best=jnp.where(counted, out.new_best, -1),
                        train_time=jnp.where(counted, out.train_time, 0.0))
      spent, stopped = spent + out.train_time, ~counted
    # index (step * num_ask + k) of the query holding the best so far; -1 before any result
    best_q = jnp.where(out.new_best >= 0, t * num_ask + out.new_best, best_q)
    return ((new, spent, stopped), best_q), (out, best_q)

  carry = ((state, jnp.zeros((), jnp.float32), jnp.array(False)), jnp.array(-1, jnp.int32))
  _, (outs, q) = jax.lax.scan(body, carry, jnp.arange(num_steps, dtype=jnp.int32))
  found, safe = q >= 0, jnp.maximum(q, 0)
  if decode_after:
    outs = outs.replace(arch=space.from_id(outs.arch_id))

  def pick(x, initial):  # x: [steps, num_ask, ...] -> [steps, ...]
    flat = x.reshape((num_steps * num_ask,) + x.shape[2:])[safe]
    return jnp.where(found.reshape(found.shape + (1,) * (flat.ndim - 1)), flat, initial)

  best_arch = jax.tree.map(pick, outs.arch, state.best_arch)
  best_id = pick(outs.arch_id, arch_ids(space, state.best_arch))
  return outs.replace(best_arch=best_arch, best_id=best_id)


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
  """The per-seed keys of a run (seed i of a run is the same whatever ``num_seeds`` is)."""
  base = jax.random.key(seed)
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))


@functools.lru_cache(maxsize=64)
def compiled_search(optimizer: BlackBoxOptimizer, space, objective: Objective, num_queries: int,
                    time_budget: float | None = None):
  """``jit(vmap(search))`` for these static settings (cached: one compile per setting)."""
  fn = functools.partial(search, optimizer=optimizer, space=space, objective=objective,
                         num_queries=num_queries, time_budget=time_budget)
  return jax.jit(jax.vmap(fn, in_axes=(0, None)))


def _shard_keys(keys: jax.Array) -> jax.Array:
  """Seed keys sharded over the devices: over every device of every process when several
  processes run (``jax.distributed``; the number of keys must then be a multiple of
  ``jax.device_count()``, see :func:`jaxnas.distributed.padded_size`), else over the local devices
  when their number divides it (one process: unchanged)."""
  if jax.process_count() > 1:
    from jaxnas import distributed  # pylint: disable=import-outside-toplevel
    if keys.shape[0] % jax.device_count():
      raise ValueError(f"{keys.shape[0]} seeds cannot be sharded over {jax.device_count()} "
                       "devices; pad to a multiple (jaxnas.distributed.padded_size)")
    data = distributed.global_array(np.asarray(jax.random.key_data(keys)))
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(keys))
  devices = jax.local_devices()
  if len(devices) == 1 or keys.shape[0] % len(devices):
    return keys
  mesh = jax.sharding.Mesh(np.array(devices), ("seeds",))
  return jax.device_put(keys, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds")))


def check_time_budget(bench: bm.Benchmark, time_budget) -> float | None:
  """None (no budget) for None or 0; else a positive float, which needs ``train_time``."""
  if time_budget is None or time_budget == 0:
    return None
  time_budget = float(time_budget)
  if not time_budget > 0:
    raise ValueError(f"time_budget must be > 0 seconds (0 = none), got {time_budget}")
  if not bench.has("train_time"):
    raise ValueError(f"a time budget needs the benchmark's train_time; {bench.name} has: "
                     f"{', '.join(bench.metric_keys())}")
  return time_budget


class RunResult(NamedTuple):
  outputs: StepOutput  # every leaf has leading axes [num_seeds, num_steps]
  compile_seconds: float
  run_seconds: float


def run(bench: bm.Benchmark, *, optimizer: BlackBoxOptimizer, space, objective: Objective,
        num_queries: int, seed: int = 0, num_seeds: int = 1,
        time_budget: float | None = None) -> RunResult:
  """Runs ``num_seeds`` independent searches as one compiled program.

  The seed axis is sharded over all local devices when ``num_seeds`` is a multiple of their number
  (each seed's search is independent, so results do not depend on the device count); in a
  multi-process run (:mod:`jaxnas.distributed`) over every device of every process, the outputs
  gathered back to every process.

  Args:
    time_budget: None, or a simulated training-time budget in seconds (``num_queries`` then caps
      the number of queries; see :func:`search`).

  Returns:
    :class:`RunResult` with host numpy outputs and the compile and run wall times.
  """
  check_space(bench, space)  # fail before compiling
  check_objective(bench, optimizer, objective)
  time_budget = check_time_budget(bench, time_budget)
  if num_queries < optimizer.num_ask or num_seeds < 1:
    raise ValueError(f"need num_queries >= {optimizer.num_ask} and num_seeds >= 1, got "
                     f"{num_queries} and {num_seeds}")
  multi = jax.process_count() > 1
  # several processes (jax.distributed): the seeds are padded to a multiple of all devices and
  # sharded over them; each seed's search is independent, so the padding changes nothing
  padded = -(-num_seeds // jax.device_count()) * jax.device_count() if multi else num_seeds
  keys = _shard_keys(seed_keys(seed, padded))
  fn = compiled_search(optimizer, space, objective, num_queries, time_budget)
  t0 = time.perf_counter()
  compiled = fn.lower(keys, bench).compile()
  t1 = time.perf_counter()
  outs = jax.block_until_ready(compiled(keys, bench))
  t2 = time.perf_counter()
  if multi:
    from jaxnas import distributed  # pylint: disable=import-outside-toplevel
    outs = jax.tree.map(lambda x: x[:num_seeds], distributed.gather(outs))
  return RunResult(outputs=jax.tree.map(np.asarray, outs), compile_seconds=t1 - t0,
                   run_seconds=t2 - t1)
