"""The multi-objective search loop: ``ask -> query the objective vector -> tell`` under
``lax.scan``, many seeds as one ``jit(vmap(scan))`` program, with the hypervolume of the
optimizer's archive recorded after **every query**.

Host preparation (:func:`prepare`) checks everything before anything compiles (one-line errors):
the objective's metrics and constraints (:func:`jaxnas.objectives.make_objective`), that each
metric has values on the dataset (a device without energy figures), and the reference point
(given in the metrics' own units, or the default: the table's nadir pushed out by 1% of each
range), which every true-front point must strictly dominate.

Infeasible queries (a constraint violated) are told to the optimizer with every objective pushed
below the table's worst feasible value by the normalised violation (feasibility first, then less
violation), and never enter an archive.
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import objectives as obj_lib
from jaxnas import pareto, rng
from jaxnas.optimizers.multiobjective.base import MOOptimizer


class Problem(NamedTuple):
  """Everything static about one multi-objective search (hashable), made by :func:`prepare`.

  Attributes:
    objective: the checked :class:`jaxnas.objectives.Objective`.
    dataset: the benchmark dataset (for HW-NAS-Bench-360: the combination).
    ref: the reference point, maximised form (tuple of floats).
    worst: per objective, a maximised-form value below every table value (infeasible queries
      are told ``worst - violation``).
    scales: per constraint, its metric's range (violations are divided by it).
    true_hv: hypervolume of the true front (feasible rows) against ``ref``.
    true_front_size: distinct objective vectors on the true front.
  """

  objective: Any
  dataset: str
  ref: tuple
  worst: tuple
  scales: tuple
  true_hv: float
  true_front_size: int


def prepare(bench, metrics, dataset: str, constraints=(), reference_point=None):
  """Host-side checks and constants: ``(Problem, true front rows int64[K], true front points
  f64[K, M] maximised form)``.

  Args:
    bench: a dense table (e.g. :func:`jaxnas.benchmarks.hw_nas_bench.load`).
    metrics: what :func:`jaxnas.objectives.make_objective` takes (names, ``(name,
      higher_is_better)`` pairs).
    dataset: dataset or combination name.
    constraints: constraint strings (``"lat_ms_median <= 5"``).
    reference_point: None (default: nadir of the whole table - 1% of each range) or one value per
      metric in the metric's own units.

  Raises:
    ValueError: one line, before compile: unknown metric, combination or dataset, a constraint
      on a metric the table lacks (or without values on ``dataset``), not 2 or 3 objectives, a
      reference point the true front does not dominate.
  """
  objective = obj_lib.make_objective(bench, metrics, constraints, dataset=dataset)
  m = objective.num_objectives
  if m not in (2, 3):
    raise ValueError(f"multi-objective search needs 2 or 3 objectives (exact hypervolume), got "
                     f"{m}: {', '.join(objective.metrics)}")
  rows, front = pareto.true_front(bench, objective, dataset)
  pts, ok = pareto.table_points(bench, objective, dataset)
  finite = np.all(np.isfinite(pts), axis=1)
  signs = objective.signs
  if reference_point is None:
    ref = pareto.default_reference(pts, finite)
  else:
    if len(reference_point) != m:
      raise ValueError(f"reference_point must have {m} values ({', '.join(objective.metrics)}), "
                       f"got {list(reference_point)}")
    ref = pareto.from_metric_units(reference_point, signs)
  ref = pareto.check_reference(ref, front, objective.metrics, f" of {dataset}")
  lo, hi = pts[finite].min(axis=0), pts[finite].max(axis=0)
  worst = lo - np.maximum(hi - lo, 1.0)
  scales = obj_lib.constraint_scales(bench, objective.constraints, dataset)
  hv = pareto.hypervolume_host(front, ref)
  problem = Problem(objective=objective, dataset=dataset, ref=tuple(float(x) for x in ref),
                    worst=tuple(float(x) for x in worst), scales=tuple(scales), true_hv=hv,
                    true_front_size=int(len(rows)))
  return problem, rows, front


@flax.struct.dataclass
class MOSearchOutput:
  """One seed's search (leading axis [num_seeds] after :func:`run`)."""

  ids: jax.Array  # [Q] int32: queried dense ids (-1 without an enumeration)
  values: jax.Array  # [Q, M] f32: their objective vectors, maximised form (NaN: no result)
  feasible: jax.Array  # [Q] bool
  hv: jax.Array  # [Q] f32: hypervolume of the archive after each query
  front_ids: jax.Array  # [A] int32: the final archive
  front_values: jax.Array  # [A, M] f32
  front_valid: jax.Array  # [A] bool
  overflow: jax.Array  # [] int32: archive replacements (0: the archive is exact)


def _ids(space, archs):
  if space.num_archs is not None and space.to_id is not None:
    return space.to_id(archs).astype(jnp.int32)
  return jnp.full(jax.tree.leaves(archs)[0].shape[:1], pareto.NO_ID, jnp.int32)


def _lookup(bench, space, archs, objective, dataset):
  """Every metric the objective needs: a gather at a *traced* dataset row for a dense table (one
  compiled program then serves every dataset or combination), else
  :func:`jaxnas.objectives.lookup` with the static dataset name."""
  if isinstance(dataset, str):
    return obj_lib.lookup(bench, space, archs, objective, dataset)
  ids = space.to_id(archs)
  return {m: bench.tables[m][dataset][ids] for m in objective.all_metrics()}


def search(key, bench, dataset, ref, worst, *, optimizer: MOOptimizer, space, objective,
           scales: tuple, num_queries: int) -> MOSearchOutput:
  """One seed: ``num_queries // num_ask`` steps under ``lax.scan``.

  Args:
    dataset: the dataset name (static), or for a dense table its row index (may be traced).
    ref, worst: ``f32[M]``: :attr:`Problem.ref` and :attr:`Problem.worst` (may be traced).
    scales: :attr:`Problem.scales` (static).
  """
  ref = jnp.asarray(ref, jnp.float32)
  worst = jnp.asarray(worst, jnp.float32)
  k_init, k_loop = rng.split(key)
  state = optimizer.init(k_init)
  k = optimizer.num_ask

  def body(state, t):
    k_ask, k_tell = rng.split(rng.fold_in(k_loop, t))
    archs, state = optimizer.ask(k_ask, state)
    ids = _ids(space, archs)
    vals = _lookup(bench, space, archs, objective, dataset)
    y = obj_lib.vector(vals, objective).astype(jnp.float32)  # [K, M]
    feas = jnp.all(jnp.isfinite(y), axis=-1)
    told = y
    if objective.constraints:
      feas = feas & obj_lib.feasible(vals, objective.constraints)
      viol = obj_lib.violation(vals, objective.constraints, scales)
      told = jnp.where(feas[:, None], y, worst - viol[:, None])
    before = state.archive
    state = optimizer.tell(k_tell, state, archs, ids, told, feas)
    if k == 1:
      hv = pareto.archive_hypervolume(state.archive, ref)[None]
    else:  # the hypervolume after each of the step's queries, in order
      def one(a, x):
        a = pareto.archive_insert(a, *x)[0]
        return a, pareto.archive_hypervolume(a, ref)
      _, hv = jax.lax.scan(one, before, (archs, ids, told, feas))
    return state, (ids, y, feas, hv)

  state, (ids, y, feas, hv) = jax.lax.scan(body, state, jnp.arange(num_queries // k))
  a = state.archive
  m = y.shape[-1]
  return MOSearchOutput(ids=ids.reshape(-1), values=y.reshape(-1, m), feasible=feas.reshape(-1),
                        hv=hv.reshape(-1), front_ids=a.ids, front_values=a.values,
                        front_valid=a.valid, overflow=a.overflow)


@functools.lru_cache(maxsize=32)
def compiled_search(optimizer: MOOptimizer, space, objective, scales: tuple, num_queries: int,
                    dataset: str | None = None):
  """``jit(vmap(search))`` over seed keys (cached per static setting). ``dataset`` None: the
  dataset row, reference point and worst values are traced arguments, so every dataset (HW-NAS-
  Bench-360 combination) of a dense table shares one compile."""
  fn = functools.partial(search, optimizer=optimizer, space=space, objective=objective,
                         scales=scales, num_queries=num_queries)
  if dataset is not None:
    fn = functools.partial(fn, dataset=dataset)
    return jax.jit(jax.vmap(lambda k, b, r, w: fn(k, b, ref=r, worst=w), in_axes=(0, None, None, None)))
  return jax.jit(jax.vmap(fn, in_axes=(0, None, None, None, None)))


_EXECUTABLES: dict = {}  # (jitted fn, argument shapes) -> compiled executable


def _executable(fn, args):
  """The compiled executable of ``fn`` for ``args``' shapes, compiled once per process (a
  second combination of the same table reuses it: ``compile_seconds`` is then ~0)."""
  sig = (fn, jax.tree.structure(args),
         tuple((getattr(x, "shape", ()), str(getattr(x, "dtype", type(x)))) for x in jax.tree.leaves(args)))
  if sig not in _EXECUTABLES:
    _EXECUTABLES[sig] = fn.lower(*args).compile()
  return _EXECUTABLES[sig]


class RunResult(NamedTuple):
  outputs: MOSearchOutput  # host numpy, leading axis [num_seeds]
  compile_seconds: float
  run_seconds: float


def seed_keys(seed: int, num_seeds: int):
  """Seed ``i``'s key is ``fold_in(key(seed), i)``, whatever ``num_seeds`` is."""
  base = jax.random.key(seed)
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))


def run(bench, *, optimizer: MOOptimizer, space, problem: Problem, num_queries: int,
        seed: int = 0, num_seeds: int = 1) -> RunResult:
  """``num_seeds`` independent searches as one compiled program."""
  if num_queries < optimizer.num_ask or num_queries % optimizer.num_ask or num_seeds < 1:
    raise ValueError(f"need num_queries a positive multiple of {optimizer.num_ask} (optimizer "
                     f"{optimizer.name}) and num_seeds >= 1, got {num_queries} and {num_seeds}")
  if bench.space_name != space.name:
    raise ValueError(f"benchmark {bench.name} indexes search space {bench.space_name!r}, not "
                     f"{space.name!r}")
  keys = seed_keys(seed, num_seeds)
  ref = jnp.asarray(problem.ref, jnp.float32)
  worst = jnp.asarray(problem.worst, jnp.float32)
  dense = getattr(bench, "kind", "") == "table" and not bench.partial
  if dense and space.to_id is not None:
    args = (keys, bench, jnp.asarray(bench.dataset_index(problem.dataset), jnp.int32), ref, worst)
    fn = compiled_search(optimizer, space, problem.objective, problem.scales, num_queries)
  else:
    args = (keys, bench, ref, worst)
    fn = compiled_search(optimizer, space, problem.objective, problem.scales, num_queries,
                         problem.dataset)
  t0 = time.perf_counter()
  compiled = _executable(fn, args)
  t1 = time.perf_counter()
  out = jax.block_until_ready(compiled(*args))
  t2 = time.perf_counter()
  return RunResult(outputs=jax.tree.map(np.asarray, out), compile_seconds=t1 - t0,
                   run_seconds=t2 - t1)
