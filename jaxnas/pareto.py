"""Pareto tools: dominance, non-dominated sorting, crowding distance, exact hypervolume (2 and 3
objectives), IGD, the true Pareto front of a table, reference points and a fixed-size archive.

Convention: every point is in **maximised form** (``sign * value``, as
:func:`jaxnas.objectives.vector` returns it: larger is better in every coordinate), ``f32[..., N, M]``
with an optional ``valid: bool[N]`` mask (invalid rows count for nothing). The reference point is
in the same form and must be worse (smaller) than the points it measures; :func:`to_metric_units`
and :func:`from_metric_units` convert to the metrics' own units, in which results are written.

Default reference point (:func:`default_reference`): the **nadir of the whole table** (the worst
value of each objective over every architecture) pushed out by **1% of that objective's range**
(max - min over the table). Every table point then strictly dominates it, so each contributes.

The jittable functions (``dominates``, ``non_dominated``, ``nondominated_ranks``,
``crowding_distance``, ``hypervolume``, ``igd``, :class:`Archive` and its functions) are pure
``jnp`` with static shapes; ``pareto_front`` / ``true_front`` / ``default_reference`` /
``check_reference`` run on the host (numpy), before anything compiles.

References:
  Deb, Pratap, Agarwal, Meyarivan. A fast and elitist multiobjective genetic algorithm: NSGA-II.
  IEEE TEVC 2002 (non-dominated sorting, crowding distance).
  While, Hingston, Barone, Huband. A faster algorithm for calculating hypervolume. IEEE TEVC 2006
  (slicing objectives, here one slab per point in 3-D).
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

NO_ID = -1  # id of an empty archive slot


# ----------------------------------------------------------------------------- dominance
def dominates(a: jax.Array, b: jax.Array) -> jax.Array:
  """``bool[...]``: ``a`` Pareto-dominates ``b`` (maximised form: >= everywhere, > somewhere)."""
  return jnp.all(a >= b, axis=-1) & jnp.any(a > b, axis=-1)


def _valid(points, valid):
  n = points.shape[-2]
  ok = jnp.all(jnp.isfinite(points), axis=-1)
  return ok if valid is None else ok & jnp.asarray(valid, bool)[..., :n]


def domination_matrix(points: jax.Array, valid: jax.Array | None = None) -> jax.Array:
  """``bool[N, N]``: ``D[i, j]`` = valid point i dominates valid point j."""
  ok = _valid(points, valid)
  d = dominates(points[:, None, :], points[None, :, :])
  return d & ok[:, None] & ok[None, :]


def non_dominated(points: jax.Array, valid: jax.Array | None = None) -> jax.Array:
  """``bool[N]``: valid points no valid point dominates (duplicates all count as non-dominated)."""
  ok = _valid(points, valid)
  return ok & ~jnp.any(domination_matrix(points, ok), axis=0)


def nondominated_ranks(points: jax.Array, valid: jax.Array | None = None) -> jax.Array:
  """``int32[N]``: NSGA-II front index (0 = non-dominated; invalid points get ``N``), by
  peeling fronts (``N`` rounds of an ``O(N^2)`` test: for the small populations of a search)."""
  n = points.shape[0]
  ok = _valid(points, valid)
  dom = domination_matrix(points, ok)

  def body(r, ranks):
    left = ok & (ranks == n)
    dominated = jnp.any(dom & left[:, None], axis=0)
    return jnp.where(left & ~dominated, r, ranks)

  return jax.lax.fori_loop(0, n, body, jnp.full((n,), n, jnp.int32))


def crowding_distance(points: jax.Array, ranks: jax.Array) -> jax.Array:
  """``f32[N]``: NSGA-II crowding distance within each point's front (``ranks``): per objective,
  the gap between its two neighbours in the front over the objective's range among valid points,
  summed; a front's extremes get ``inf``; invalid points (rank ``N``) 0."""
  n, m = points.shape
  ok = ranks < n
  big = jnp.float32(3e38)
  out = jnp.zeros((n,), jnp.float32)
  for j in range(m):
    f = jnp.where(ok, points[:, j], 0.0)
    lo, hi = jnp.min(jnp.where(ok, f, big)), jnp.max(jnp.where(ok, f, -big))
    span = jnp.where(hi > lo, hi - lo, 1.0)
    order = jnp.lexsort((f, ranks))  # by front, then by the objective
    fs, rs = f[order], ranks[order]
    prev_same = jnp.concatenate([jnp.array([False]), rs[1:] == rs[:-1]])
    next_same = jnp.concatenate([rs[:-1] == rs[1:], jnp.array([False])])
    gap = (jnp.concatenate([fs[1:], fs[-1:]]) - jnp.concatenate([fs[:1], fs[:-1]])) / span
    d = jnp.where(prev_same & next_same, gap, jnp.inf)
    out = out.at[order].add(d)
  return jnp.where(ok, out, 0.0)


# ----------------------------------------------------------------------------- hypervolume
def hypervolume(points: jax.Array, ref: jax.Array, valid: jax.Array | None = None) -> jax.Array:
  """Exact hypervolume dominated by the valid points and bounded by ``ref`` (maximised form), for
  2 or 3 objectives; jittable, ``O(N log N)`` in 2-D and ``O(N^2)`` in 3-D. Points that do not
  dominate ``ref`` contribute nothing beyond it; dominated points and duplicates are harmless.

  Raises:
    ValueError: not 2 or 3 objectives (static).
  """
  points = jnp.asarray(points, jnp.float32)
  m = points.shape[-1]
  if m not in (2, 3):
    raise ValueError(f"exact hypervolume is implemented for 2 and 3 objectives, got {m}")
  ref = jnp.asarray(ref, jnp.float32)
  ok = _valid(points, valid)
  # minimisation form, clipped to the reference box; invalid points sit on the reference
  p = jnp.where(ok[:, None], jnp.minimum(-points, -ref), -ref)
  r = -ref
  order = jnp.argsort(p[:, 0])
  x, y = p[order, 0], p[order, 1]
  width = jnp.concatenate([x[1:], r[:1]]) - x

  def area(mask):
    ymin = jax.lax.cummin(jnp.where(mask, y, r[1]), axis=0)
    return jnp.sum(width * (r[1] - ymin))

  if m == 2:
    return area(jnp.ones_like(x, bool))
  z = p[order, 2]
  zs = jnp.sort(z)
  dz = jnp.concatenate([zs[1:], r[2:]]) - zs
  areas = jax.vmap(lambda t: area(z <= t))(zs)
  return jnp.sum(areas * dz)


def hypervolume_host(points, ref) -> float:
  """Host (numpy, float64) twin of :func:`hypervolume` for one set of points (NaN rows ignored):
  the same slicing, without a compile per shape (true fronts of whole tables)."""
  p = np.asarray(points, np.float64)
  p = p[np.all(np.isfinite(p), axis=1)]
  m = p.shape[1]
  if m not in (2, 3):
    raise ValueError(f"exact hypervolume is implemented for 2 and 3 objectives, got {m}")
  r = -np.asarray(ref, np.float64)
  q = np.minimum(-p, r)
  order = np.argsort(q[:, 0], kind="stable")
  x, y = q[order, 0], q[order, 1]
  width = np.append(x[1:], r[0]) - x

  def area(mask):
    return float(np.sum(width * (r[1] - np.minimum.accumulate(np.where(mask, y, r[1])))))

  if m == 2:
    return area(np.ones(len(x), bool))
  z = q[order, 2]
  zs = np.sort(z)
  dz = np.append(zs[1:], r[2]) - zs
  return float(sum(area(z <= t) * d for t, d in zip(zs, dz) if d > 0))


def hypervolume_brute_force(points, ref) -> float:
  """Host reference implementation (inclusion-exclusion over the union of boxes, exponential):
  for tests on a handful of points only."""
  p = np.maximum(np.asarray(points, np.float64), np.asarray(ref, np.float64))
  r = np.asarray(ref, np.float64)
  n = len(p)
  total = 0.0
  for mask in range(1, 1 << n):
    idx = [i for i in range(n) if mask >> i & 1]
    corner = p[idx].min(axis=0)
    total += (-1) ** (len(idx) + 1) * float(np.prod(np.maximum(corner - r, 0.0)))
  return total


def igd(front: jax.Array, found: jax.Array, valid: jax.Array | None = None,
        scale: jax.Array | None = None) -> jax.Array:
  """Inverted generational distance: the mean over ``front`` points of the Euclidean distance to
  the nearest valid ``found`` point, each objective divided by ``scale`` (e.g. its range in the
  table; 1 when None). ``inf`` when nothing valid was found. Jittable."""
  front = jnp.asarray(front, jnp.float32)
  found = jnp.asarray(found, jnp.float32)
  s = jnp.ones(front.shape[-1]) if scale is None else jnp.asarray(scale, jnp.float32)
  ok = _valid(found, valid)
  d = jnp.sqrt(jnp.sum(((front[:, None, :] - found[None, :, :]) / s) ** 2, axis=-1))
  d = jnp.where(ok[None, :], d, jnp.inf)
  return jnp.mean(jnp.min(d, axis=1))


# ----------------------------------------------------------------------------- host: fronts
def pareto_front(points) -> np.ndarray:
  """Host: the rows of ``points`` (``[N, M]``, maximised form; rows with a NaN are ignored) on the
  Pareto front, one row per distinct objective vector (the first in row order), as indices sorted
  by the first objective, descending. ``O(N |front|)``."""
  p = np.asarray(points, np.float64)
  rows = np.flatnonzero(np.all(np.isfinite(p), axis=1))
  # lexicographically descending: a point can only be dominated (or equalled) by an earlier one,
  # and whatever dominates it is dominated by (or is) a front member, so testing the front suffices
  order = rows[np.lexsort(tuple(-p[rows, j] for j in range(p.shape[1] - 1, -1, -1)))]
  front: list[int] = []
  fv = np.empty((0, p.shape[1]))
  for i in order:
    q = p[i]
    if len(front) and np.any(np.all(fv >= q, axis=1)):
      continue
    front.append(int(i))
    fv = np.vstack([fv, q])
  return np.array(front, np.int64)


def table_points(bench, objective, dataset: str) -> tuple[np.ndarray, np.ndarray]:
  """Host: ``(points f64[N, M] in maximised form, feasible bool[N])`` of every row of a dense
  table for ``objective`` (a :class:`jaxnas.objectives.Objective`) on ``dataset``."""
  from jaxnas import objectives  # pylint: disable=import-outside-toplevel
  d = bench.dataset_index(dataset)
  cols = {}
  for m in objective.all_metrics():
    t = bench.seed_means[m][d] if m in bench.seed_means else bench.tables[m][d]
    cols[m] = np.asarray(t, np.float64)
  pts = np.stack([g.sign * cols[g.metric] for g in objective.goals], axis=1)
  ok = np.asarray(objectives.feasible(cols, objective.constraints), bool)
  ok = np.broadcast_to(ok, (pts.shape[0],)) & np.all(np.isfinite(pts), axis=1)
  return pts, ok


def check_metrics_present(bench, objective, dataset: str) -> None:
  """One-line ValueError when an objective's metric has no value at all on ``dataset`` (energy on
  the Pixel)."""
  d = bench.dataset_index(dataset)
  for m in objective.all_metrics():
    t = np.asarray(bench.tables[m][d])
    if not np.isfinite(t).any():
      raise ValueError(f"benchmark {bench.name} has no {m!r} values for {bench.dataset_kind} "
                       f"{dataset!r}; choose other metrics or another {bench.dataset_kind}")


def true_front(bench, objective, dataset: str) -> tuple[np.ndarray, np.ndarray]:
  """Host: the true Pareto front of a whole dense table among the feasible rows: ``(rows
  int64[K], points f64[K, M] maximised form)``, one row per distinct objective vector."""
  check_metrics_present(bench, objective, dataset)
  pts, ok = table_points(bench, objective, dataset)
  if not ok.any():
    raise ValueError(f"no architecture of benchmark {bench.name} on {dataset!r} satisfies "
                     f"{', '.join(map(str, objective.constraints))}")
  idx = np.flatnonzero(ok)
  front = idx[pareto_front(pts[idx])]
  return front, pts[front]


def default_reference(points, valid=None) -> np.ndarray:
  """Host: the documented default reference point (maximised form): the nadir of ``points`` (the
  whole table: the minimum of each objective) minus 1% of each objective's range."""
  p = np.asarray(points, np.float64)
  ok = np.all(np.isfinite(p), axis=1) if valid is None else np.asarray(valid) & np.all(np.isfinite(p), axis=1)
  p = p[ok]
  lo, hi = p.min(axis=0), p.max(axis=0)
  span = np.where(hi > lo, hi - lo, np.maximum(np.abs(lo), 1.0))
  return lo - 0.01 * span


def to_metric_units(ref, signs) -> list[float]:
  """A maximised-form point in the metrics' own units (``sign * value`` undone)."""
  return [float(s * v) for s, v in zip(signs, np.asarray(ref, np.float64))]


def from_metric_units(ref, signs) -> np.ndarray:
  """A point given in the metrics' own units, in maximised form."""
  return np.array([s * float(v) for s, v in zip(signs, ref)], np.float64)


def check_reference(ref, front_points, metrics, where: str = "") -> np.ndarray:
  """Host: ``ref`` (maximised form) if every true-front point strictly dominates it in every
  objective; a one-line ValueError naming the first offending front point otherwise (a reference
  point dominated by the front in some objective only would silently drop part of the front)."""
  ref = np.asarray(ref, np.float64)
  fp = np.asarray(front_points, np.float64)
  if ref.shape != (fp.shape[1],) or not np.all(np.isfinite(ref)):
    raise ValueError(f"reference_point must have {fp.shape[1]} finite values ({', '.join(metrics)})"
                     f", got {ref.tolist()}")
  bad = ~np.all(fp > ref, axis=1)
  if bad.any():
    j = int(np.argmax(bad))
    raise ValueError(f"reference point {ref.tolist()} (maximised form) is not dominated by the "
                     f"true front{where}: front point {fp[j].tolist()} ({', '.join(metrics)}) is not "
                     "better in every objective; use a worse point or the default (nadir - 1% of "
                     "each range)")
  return ref


# ----------------------------------------------------------------------------- archive
@flax.struct.dataclass
class Archive:
  """A fixed-size buffer of mutually non-dominated points (maximised form) and their
  architectures. Exact while the front fits; when full, a new non-dominated point replaces its
  nearest member (``overflow`` counts those replacements)."""

  archs: Any  # Arch[A]
  ids: jax.Array  # [A] int32 dense ids (NO_ID: empty, or a space without ids)
  values: jax.Array  # [A, M] f32 maximised form
  valid: jax.Array  # [A] bool
  flag: jax.Array  # [A] bool, free for the optimizer (Pareto local search: explored); False on insert
  overflow: jax.Array  # [] int32


def archive_init(archs_like, size: int, num_objectives: int) -> Archive:
  """An empty archive of ``size`` slots; ``archs_like`` is one architecture (its shape/dtype)."""
  return Archive(
      archs=jax.tree.map(lambda x: jnp.zeros((size,) + x.shape, x.dtype), archs_like),
      ids=jnp.full((size,), NO_ID, jnp.int32),
      values=jnp.full((size, num_objectives), -jnp.inf, jnp.float32),
      valid=jnp.zeros((size,), bool), flag=jnp.zeros((size,), bool),
      overflow=jnp.zeros((), jnp.int32))


def archive_insert(archive: Archive, arch, arch_id, y, ok=True) -> tuple[Archive, jax.Array]:
  """Inserts one point (``y f32[M]`` maximised form, ``ok`` False/NaN: ignored) unless a member
  dominates or equals it; members it dominates leave. Returns ``(archive, inserted bool[])``."""
  y = jnp.asarray(y, jnp.float32)
  v, valid = archive.values, archive.valid
  ok = jnp.asarray(ok, bool) & jnp.all(jnp.isfinite(y))
  covered = jnp.any(valid & jnp.all(v >= y, axis=-1))
  accept = ok & ~covered
  keep = valid & ~(accept & dominates(y, v))
  free = ~keep
  # full: the new point replaces its nearest member (objectives scaled by the archive's span), an
  # O(A M) rule (the crowding distance's sorts made the insert the search's dominant cost)
  lo = jnp.min(jnp.where(keep[:, None], v, jnp.inf), axis=0)
  hi = jnp.max(jnp.where(keep[:, None], v, -jnp.inf), axis=0)
  span = jnp.where(hi > lo, hi - lo, 1.0)
  dist = jnp.sum(((jnp.where(keep[:, None], v, 0.0) - y) / span) ** 2, axis=-1)
  full = ~jnp.any(free)
  slot = jnp.where(full, jnp.argmin(jnp.where(keep, dist, jnp.inf)), jnp.argmax(free))
  put = lambda buf, x: jnp.where(accept, buf.at[slot].set(x), buf)  # noqa: E731
  new = Archive(
      archs=jax.tree.map(lambda b, a: put(b, jnp.asarray(a, b.dtype)), archive.archs, arch),
      ids=put(archive.ids, jnp.asarray(arch_id, jnp.int32)),
      values=put(jnp.where(keep[:, None], v, -jnp.inf), y),
      valid=put(keep, True), flag=put(archive.flag & keep, False),
      overflow=archive.overflow + (accept & full).astype(jnp.int32))
  return new, accept


def archive_insert_many(archive: Archive, archs, arch_ids, ys, ok) -> Archive:
  """Inserts a batch (leading axis) one point after the other."""
  def body(a, x):
    return archive_insert(a, *x)[0], None
  return jax.lax.scan(body, archive, (archs, arch_ids, ys, ok))[0]


def archive_hypervolume(archive: Archive, ref) -> jax.Array:
  """Hypervolume of the archive's points against ``ref`` (maximised form). In 2-D the members are
  mutually non-dominated and distinct, so each one's slab reaches the next larger first
  coordinate: ``O(A^2)`` elementwise, no sort (the per-query cost of a search); 3-D:
  :func:`hypervolume`."""
  v, ok = archive.values, archive.valid
  if v.shape[-1] != 2:
    return hypervolume(v, ref, ok)
  ref = jnp.asarray(ref, jnp.float32)
  p = jnp.where(ok[:, None], jnp.minimum(-v, -ref), -ref)  # minimisation form, clipped
  r = -ref
  x, y = p[:, 0], p[:, 1]
  later = ok[None, :] & (x[None, :] > x[:, None])
  nxt = jnp.min(jnp.where(later, x[None, :], r[0]), axis=1)
  return jnp.sum(jnp.where(ok, (nxt - x) * (r[1] - y), 0.0))
