"""Objectives: several metrics, each with a direction, plus constraints on metrics.

An :class:`Objective` is a tuple of :class:`Goal` s (a metric and whether higher is better, by
default the table's declaration) and a tuple of :class:`Constraint` s parsed from strings such as
``"lat_ms_median <= 5"`` (operators ``<=``, ``<``, ``>=``, ``>``). :func:`make_objective` checks
it against a benchmark on the host with one-line errors naming the metric and what the table has,
before anything is compiled.

* Multi-objective optimizers see the vector: :func:`vector` (every goal in maximised form,
  ``sign * value``), :func:`feasible` masks infeasible architectures.
* Single-objective optimizers see one number, **feasibility first, then the metric**
  (:func:`constrained_fitness`): a feasible architecture's fitness is its metric value; an
  infeasible one's is ``worst - violation`` (maximised metric; ``worst + violation`` when
  minimised), where ``worst`` is below (above) every value the table has for the metric and
  ``violation`` the total constraint violation, each constraint's excess divided by the metric's
  range in the table. So every feasible architecture beats every infeasible one, and among
  infeasible ones the less violating wins. It is a pure, elementwise transform of one query's
  values; :func:`constrain_benchmark` applies it to a whole table once on the host, so every
  black-box optimizer gets it through the unchanged search loop (the driver does this for the
  config key ``constraints``).

Values that are NaN (an architecture a partial table lacks) stay NaN: no result.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

OPS = ("<=", "<", ">=", ">")
_CONSTRAINT_RE = re.compile(r"^\s*(?P<metric>\S(?:.*?\S)?)\s*(?P<op><=|>=|<|>)\s*"
                            r"(?P<bound>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


class Constraint(NamedTuple):
  """``metric op bound`` (static, hashable); ``op`` one of :data:`OPS`."""

  metric: str
  op: str
  bound: float

  def __str__(self) -> str:
    return f"{self.metric} {self.op} {self.bound:g}"

  def satisfied(self, x):
    """``bool[...]``: whether ``x`` satisfies the constraint (NaN: False). numpy or jax."""
    b = self.bound
    return {"<=": x <= b, "<": x < b, ">=": x >= b, ">": x > b}[self.op]

  def excess(self, x):
    """How far ``x`` is past the bound, >= 0 (0 when satisfied or exactly at a strict bound);
    NaN stays NaN. numpy or jax."""
    d = x - self.bound if self.op in ("<=", "<") else self.bound - x
    return d * (d > 0)  # keeps NaN (max(d, 0) would too, but this is the same in numpy and jax)


class Goal(NamedTuple):
  """One metric of an objective and its direction."""

  metric: str
  higher_is_better: bool

  @property
  def sign(self) -> float:
    return 1.0 if self.higher_is_better else -1.0


class Objective(NamedTuple):
  """Metrics to optimise, each with a direction, and constraints (static, hashable).

  Attributes:
    goals: one :class:`Goal` per metric (one for a single-objective search).
    constraints: :class:`Constraint` s every reported architecture should satisfy.
  """

  goals: tuple[Goal, ...]
  constraints: tuple[Constraint, ...] = ()

  @property
  def metrics(self) -> tuple[str, ...]:
    return tuple(g.metric for g in self.goals)

  @property
  def higher_is_better(self) -> tuple[bool, ...]:
    return tuple(g.higher_is_better for g in self.goals)

  @property
  def signs(self) -> tuple[float, ...]:
    return tuple(g.sign for g in self.goals)

  @property
  def num_objectives(self) -> int:
    return len(self.goals)

  def all_metrics(self) -> tuple[str, ...]:
    """Goal metrics, then constraint metrics not already among them (what a query looks up)."""
    out = list(self.metrics)
    for c in self.constraints:
      if c.metric not in out:
        out.append(c.metric)
    return tuple(out)

  def to_json(self) -> dict:
    return {"objectives": [{"metric": g.metric, "higher_is_better": g.higher_is_better}
                           for g in self.goals],
            "constraints": [str(c) for c in self.constraints]}


def parse_constraint(text) -> Constraint:
  """A :class:`Constraint` from ``"METRIC OP NUMBER"`` (``"lat_ms_median <= 5"``); a
  :class:`Constraint` passes through. One-line ValueError otherwise."""
  if isinstance(text, Constraint):
    return text
  m = _CONSTRAINT_RE.match(str(text))
  if m is None:
    raise ValueError(f"constraint {str(text)!r} must read 'METRIC OP NUMBER' with OP one of "
                     f"{', '.join(OPS)} (e.g. 'lat_ms_median <= 5')")
  return Constraint(m["metric"], m["op"], float(m["bound"]))


def parse_constraints(spec) -> tuple[Constraint, ...]:
  """Constraints from None, a string (several separated by ``;``) or a sequence of strings or
  :class:`Constraint` s (the config key ``constraints``)."""
  if spec is None:
    return ()
  if isinstance(spec, (str, Constraint)):
    spec = [spec] if isinstance(spec, Constraint) else [s for s in spec.split(";") if s.strip()]
  return tuple(parse_constraint(s) for s in spec)


def _goal(bench, spec) -> Goal:
  """A :class:`Goal` from a metric name (the table's direction), ``(name, higher_is_better)``
  (None = the table's) or a Goal; the metric is checked against the table."""
  if isinstance(spec, Goal):
    name, hib = spec
  elif isinstance(spec, str):
    name, hib = spec, None
  else:
    name, hib = spec
  bench.metric(name)  # one-line ValueError naming the metric and the metrics present
  if hib is None:
    hib = bench.higher_is_better(name)
  return Goal(str(name), bool(hib))


def _present(bench) -> str:
  return ", ".join(bench.metric_names())


def check_constraints(bench, constraints: Iterable[Constraint], dataset: str | None = None) -> None:
  """One-line ValueError for a constraint on a metric the table lacks, or (with ``dataset``) one
  whose metric has no value at all for that dataset (e.g. a device without energy figures)."""
  for c in constraints:
    if c.metric not in bench.metric_keys():
      raise ValueError(f"constraint '{c}' is on metric {c.metric!r}, which benchmark {bench.name} "
                       f"lacks; it has: {_present(bench)}")
    if dataset is not None and getattr(bench, "kind", "table") == "table":
      d = bench.dataset_index(dataset)
      if not np.isfinite(np.asarray(bench.tables[c.metric][d])).any():
        raise ValueError(f"constraint '{c}': benchmark {bench.name} has no {c.metric!r} values "
                         f"for {bench.dataset_kind} {dataset!r}")


def make_objective(bench, metrics, constraints=(), dataset: str | None = None) -> Objective:
  """A checked :class:`Objective` for ``bench``.

  Args:
    bench: a benchmark (its declarations give the default directions).
    metrics: a metric name, or a sequence of names, ``(name, higher_is_better)`` pairs (None =
      the table's declaration) or :class:`Goal` s; or a mapping ``{name: higher_is_better}``.
    constraints: see :func:`parse_constraints`.
    dataset: optional dataset (task, device combination) to check on: it must exist, and each
      constraint's metric must have values there.

  Returns:
    The :class:`Objective`.

  Raises:
    ValueError: one line, before compile: an unknown metric (naming the metrics present), a
      metric without a declared direction, a malformed constraint, a constraint on a metric the
      table lacks, an unknown dataset.
  """
  if isinstance(metrics, (str, Goal)):
    metrics = [metrics]
  elif isinstance(metrics, Mapping):
    metrics = list(metrics.items())
  goals = tuple(_goal(bench, m) for m in metrics)
  if not goals:
    raise ValueError(f"an objective needs at least one metric; benchmark {bench.name} has: "
                     f"{_present(bench)}")
  if dataset is not None:
    bench.dataset_index(dataset)
  cons = parse_constraints(constraints)
  check_constraints(bench, cons, dataset)
  return Objective(goals, cons)


# ----------------------------------------------------------------------------- pure transforms
def _np(x):
  """numpy for numpy input, jax.numpy for anything else (traced or device arrays)."""
  if isinstance(x, (np.ndarray, np.generic, float, int)):
    return np
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  return jnp


def feasible(values: Mapping[str, Any], constraints: Sequence[Constraint]):
  """``bool[...]``: every constraint satisfied (``values``: metric -> array; NaN: infeasible).
  True everywhere without constraints."""
  out = True
  for c in constraints:
    out = out & c.satisfied(values[c.metric])
  return out


def violation(values: Mapping[str, Any], constraints: Sequence[Constraint],
              scales: Sequence[float] | None = None):
  """``f32[...]``: total violation, the sum of each constraint's excess divided by its scale
  (:func:`constraint_scales`; 1 when None). 0 when feasible (or at a strict bound); NaN stays
  NaN."""
  out = 0.0
  for i, c in enumerate(constraints):
    s = 1.0 if scales is None else float(scales[i])
    out = out + c.excess(values[c.metric]) / s
  return out


def constrained_fitness(value, values: Mapping[str, Any], constraints: Sequence[Constraint], *,
                        higher_is_better: bool, worst: float, scales: Sequence[float] | None = None):
  """Feasibility first, then the metric, in the metric's own units and direction.

  ``value`` if every constraint holds, else ``worst - violation`` (``worst + violation`` for a
  metric to minimise), ``worst`` being a value no feasible architecture reaches
  (:func:`worst_value`). NaN ``value`` or NaN constraint values give NaN (no result). Pure and
  elementwise (numpy or jax: jittable, vmappable). Without constraints: ``value`` itself.
  """
  if not constraints:
    return value
  xp = _np(value)
  ok = feasible(values, constraints)
  v = violation(values, constraints, scales)
  penalty = worst - v if higher_is_better else worst + v
  out = xp.where(ok, value, penalty)
  return xp.where(xp.isnan(value), value, out)  # no result stays no result (v carries NaN too)


def vector(values: Mapping[str, Any], objective: Objective):
  """``f32[..., M]``: the goals in maximised form (``sign * value``), for multi-objective
  optimizers (jax or numpy, from the values' type)."""
  xp = _np(next(iter(values.values())))
  return xp.stack([g.sign * values[g.metric] for g in objective.goals], axis=-1)


def lookup(bench, space, arch, objective: Objective, dataset: str, **kwargs) -> dict:
  """Every metric an objective needs (goals and constraints) for ``arch``: ``{metric:
  f32[...]}`` through :func:`jaxnas.benchmarks.lookup` (jittable; ``kwargs``: ``seed``,
  ``epoch``)."""
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel
  return bm.lookup(bench, space, arch, list(objective.all_metrics()), dataset, **kwargs)


# ----------------------------------------------------------------------------- table helpers
def _column(bench, metric: str, d: int) -> np.ndarray:
  """Host values of ``metric`` on dataset row ``d`` (the seed mean for per-seed tables)."""
  if metric in bench.seed_means:
    return np.asarray(bench.seed_means[metric][d], np.float64)
  return np.asarray(bench.tables[metric][d], np.float64)


def constraint_scales(bench, constraints: Sequence[Constraint], dataset: str) -> tuple[float, ...]:
  """Each constraint metric's range (max - min of the finite values) on ``dataset``: violations
  are divided by it so that constraints in different units add up (1 for a constant metric)."""
  d = bench.dataset_index(dataset)
  out = []
  for c in constraints:
    x = _column(bench, c.metric, d)
    x = x[np.isfinite(x)]
    r = float(x.max() - x.min()) if x.size else 0.0
    out.append(r if r > 0 else 1.0)
  return tuple(out)


def worst_value(bench, metric: str, dataset: str, higher_is_better: bool) -> float:
  """A value strictly worse than every value ``metric`` takes on ``dataset`` in the table, at
  every fidelity and seed: the worst finite value pushed out by the range (at least 1)."""
  d = bench.dataset_index(dataset)
  xs = [np.asarray(v[d], np.float64).ravel() for k, v in bench.tables.items()
        if k == metric or k.startswith(metric + "@")]
  x = np.concatenate(xs)
  x = x[np.isfinite(x)]
  if not x.size:
    return -1.0 if higher_is_better else 1.0
  pad = max(1.0, float(x.max() - x.min()))
  return float(x.min() - pad) if higher_is_better else float(x.max() + pad)


def feasible_mask(bench, constraints: Sequence[Constraint], dataset: str) -> np.ndarray:
  """``bool[N]``: which rows of a table satisfy every constraint on ``dataset`` (host)."""
  d = bench.dataset_index(dataset)
  vals = {c.metric: _column(bench, c.metric, d) for c in constraints}
  ok = feasible(vals, constraints)
  return np.broadcast_to(np.asarray(ok, bool), (bench.num_rows,)).copy()


def best_feasible(bench, metric: str, constraints: Sequence[Constraint], dataset: str,
                  higher_is_better: bool | None = None) -> tuple[float, int, float]:
  """Exhaustive search of a table (host): ``(best value of metric among feasible rows, its row,
  fraction of rows feasible)``; ``(nan, -1, 0.0)`` when none is feasible. Per-seed metrics: the
  seed mean (what a search with ``noisy=False`` sees)."""
  if higher_is_better is None:
    higher_is_better = bench.higher_is_better(metric)
  d = bench.dataset_index(dataset)
  x = _column(bench, metric, d)
  ok = feasible_mask(bench, constraints, dataset) & np.isfinite(x)
  frac = float(feasible_mask(bench, constraints, dataset).mean())
  if not ok.any():
    return float("nan"), -1, frac
  masked = np.where(ok, x, -np.inf if higher_is_better else np.inf)
  i = int(np.argmax(masked) if higher_is_better else np.argmin(masked))
  return float(x[i]), i, frac


def constrain_benchmark(bench, metric: str, constraints: Sequence[Constraint],
                        higher_is_better: bool | None = None):
  """A copy of a table whose ``metric`` tables (every fidelity, every seed, every dataset) hold
  :func:`constrained_fitness` instead of the raw values, so a search that maximises (minimises)
  ``metric`` puts feasibility first without knowing about constraints. Other metrics are
  unchanged. Per dataset, constraints are evaluated on that dataset's values; ``worst`` and the
  violation scales come from that dataset too.

  Raises:
    ValueError: a surrogate benchmark (its values are predicted per query, not stored), or a
      constraint on a metric the table lacks.
  """
  if not constraints:
    return bench
  if getattr(bench, "kind", "table") != "table":
    raise ValueError(f"constraints need a tabular benchmark; {bench.name} is a "
                     f"{bench.kind} (query the metrics and use objectives.constrained_fitness)")
  check_constraints(bench, constraints)
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  if higher_is_better is None:
    higher_is_better = bench.higher_is_better(metric)
  keys = [k for k in bench.tables if k == metric or k.startswith(metric + "@")]
  tables = dict(bench.tables)
  seed_means = dict(bench.seed_means)
  per_d = []
  for di, ds in enumerate(bench.datasets):
    vals = {c.metric: _column(bench, c.metric, di) for c in constraints}
    per_d.append((vals, constraint_scales(bench, constraints, ds),
                  worst_value(bench, metric, ds, higher_is_better)))

  def transform(arr, per_seed: bool):
    arr = np.asarray(arr, np.float64)
    out = np.empty_like(arr)
    for di, (vals, scales, worst) in enumerate(per_d):
      v = {k: (x[:, None] if per_seed else x) for k, x in vals.items()}
      out[di] = constrained_fitness(arr[di], v, constraints, higher_is_better=higher_is_better,
                                    worst=worst, scales=scales)
    return jnp.asarray(out, jnp.float32)

  for k in keys:
    tables[k] = transform(tables[k], np.ndim(tables[k]) == 3)
    if k in seed_means:
      seed_means[k] = transform(seed_means[k], False)
  return bench.replace(tables=tables, seed_means=seed_means)


__all__ = ["OPS", "Constraint", "Goal", "Objective", "best_feasible", "check_constraints",
           "constrain_benchmark", "constrained_fitness", "constraint_scales", "feasible",
           "feasible_mask", "lookup", "make_objective", "parse_constraint", "parse_constraints",
           "vector", "violation", "worst_value"]
