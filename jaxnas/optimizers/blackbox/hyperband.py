"""Multi-fidelity black-box optimizers: successive halving, Hyperband and BOHB-style Hyperband.

They query architectures at the benchmark's fidelities (NB201: 12 and 200 training epochs). Each
``ask`` returns one architecture and, in the state, the epoch to evaluate it at
(``query_epoch``); :func:`jaxnas.loops.step` makes the query at that epoch and charges its share of
the 200-epoch training time, so a simulated training-time budget (``loops.run(...,
time_budget=...)``) compares them with single-fidelity optimizers the way the NAS-Bench-201 paper
does. Only results at the objective's fidelity (the top rung) count as "best so far".

The bracket schedule (which rung each query of a Hyperband iteration is at) is computed on the host
from the static settings, so the search is a fixed-shape state machine: a new bracket member is a
random (or, for BOHB, model-proposed) architecture; a promotion re-evaluates, at the next rung, the
best not-yet-promoted member of the rung below.

Fidelity is an explicit field of the optimizer (``BlackBoxOptimizer.fidelities``). A table with one
fidelity (TransNAS-Bench-101 micro's final epoch only) gives one rung: every bracket collapses to a
single full-budget evaluation, so Hyperband is random search and BOHB is its TPE model proposing
every query at full budget (what BOHB does with ``min_budget == max_budget``). Its state then has
no ``query_epoch`` (:class:`HyperbandState`, not :class:`MultiFidelityState`), so the loop queries
at the objective's own fidelity, whatever the table calls it.
"""

from __future__ import annotations

import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng
from jaxnas.optimizers.blackbox.base import NEG_INF, BlackBoxOptimizer, check_positive, clean_fitness
from jaxnas.spaces import SearchSpace

NB201_FIDELITIES = (12, 200)


@flax.struct.dataclass
class HyperbandState:
  """The bracket state machine; with one fidelity (one rung) exactly this, every query at the
  objective's fidelity."""

  members: Any  # Arch[N]: the current bracket's architectures (all-zero ops when empty)
  score: jax.Array  # [N] f32: their latest result (at rung `level`)
  level: jax.Array  # [N] int32: highest rung evaluated, -1 = empty
  slot: jax.Array  # [] int32: member slot of the pending query
  hist_ops: jax.Array  # [H, V] int32: every queried cell's categorical view (BOHB's model data)
  hist_y: jax.Array  # [H] f32
  hist_rung: jax.Array  # [H] int32, -1 = empty
  count: jax.Array  # [] int32: queries told


@flax.struct.dataclass
class MultiFidelityState(HyperbandState):
  """:class:`HyperbandState` with two or more rungs: each query's epoch (read by ``loops.step``)."""

  query_epoch: jax.Array  # [1] int32: fidelity of the pending query (read by loops.step)
  fidelities: tuple = flax.struct.field(pytree_node=False, default=NB201_FIDELITIES)


def check_fidelities(fidelities) -> tuple[int, ...]:
  """Host-side: one or more strictly increasing positive epochs (a ValueError otherwise). A single
  fidelity may be 0: the table's final epoch where the table does not name it (TransNAS-Bench-101)."""
  try:
    f = tuple(int(x) for x in fidelities)
  except (TypeError, ValueError):
    f = ()
  if not f or any(a >= b for a, b in zip(f, f[1:])) or f[0] < (0 if len(f) == 1 else 1):
    raise ValueError(f"fidelities must be one or more strictly increasing positive epochs, got "
                     f"{fidelities!r} (NB201 has {NB201_FIDELITIES}; one fidelity, e.g. (200,), "
                     "runs every query at full budget)")
  return f


def bracket_schedule(num_rungs: int, eta: int, brackets, num_archs: int = 0) -> np.ndarray:
  """One Hyperband iteration as rows ``(rung, is_new, new_slot, is_bracket_start)`` per query.

  Bracket ``s`` (``s_max = num_rungs - 1``) starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)``
  architectures (``num_archs`` overrides ``n`` of the most aggressive bracket) at rung
  ``s_max - s`` and promotes the best ``floor(n / eta**i)`` (at least 1) to each later rung ``i``
  (Li et al. 2018, Algorithm 1, with rungs in place of resource levels).
  """
  s_max = num_rungs - 1
  rows = []
  for s in brackets:
    n = math.ceil((s_max + 1) / (s + 1) * eta**s)
    if s == s_max and num_archs:
      n = num_archs
    for i in range(s + 1):
      n_i = max(1, n // eta**i)
      for j in range(n_i):
        rows.append((s_max - s + i, i == 0, j if i == 0 else 0, i == 0 and j == 0))
  return np.asarray(rows, np.int32)


def _hyperband(space: SearchSpace, *, name: str, fidelities, eta: int, brackets, num_archs: int,
               model: bool, random_fraction: float, top_fraction: float, min_points: int,
               num_samples: int, history_size: int, deduplicate: bool = False) -> BlackBoxOptimizer:
  """The shared Hyperband state machine (``model=True``: BOHB-style proposals)."""
  fidelities = check_fidelities(fidelities)
  check_positive(eta=eta, history_size=history_size, num_samples=num_samples,
                 min_points=min_points)
  if eta < 2:
    raise ValueError(f"eta must be >= 2, got {eta}")
  if not 0.0 <= random_fraction <= 1.0 or not 0.0 < top_fraction < 1.0:
    raise ValueError(f"need 0 <= random_fraction <= 1 and 0 < top_fraction < 1, got "
                     f"{random_fraction}, {top_fraction}")
  sched = bracket_schedule(len(fidelities), eta, brackets, num_archs)
  cycle = sched.shape[0]
  n_members = int(sched[:, 2].max()) + 1
  rung_t, new_t, slot_t, start_t = (jnp.asarray(sched[:, i]) for i in range(4))
  epochs = jnp.asarray(fidelities, jnp.int32)
  # BOHB's model works on the space's categorical view (NB201: 6 edges x 5 ops; NB101: 21 edge
  # bits and 5 three-way ops). Variables with fewer choices than the most have the missing ones
  # masked out (a static branch: spaces with equal choices run exactly the unmasked model).
  num_edges, num_ops = len(space.categorical), int(max(space.categorical))
  ragged = len(set(space.categorical)) > 1
  choices = np.asarray(space.categorical, np.float32)[:, None]  # [E, 1]
  allowed = np.arange(num_ops)[None, :] < choices  # [E, O]

  member_shape = jax.eval_shape(lambda: space.sample(jax.random.key(0), (n_members,)))
  multi = len(fidelities) > 1  # one rung: no per-query epoch, the objective's fidelity

  def init(key):
    del key
    common = dict(
        # all-zero ops: what NB201's id 0 decodes to (members were dense ids before)
        members=jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), member_shape),
        score=jnp.full((n_members,), NEG_INF, jnp.float32),
        level=jnp.full((n_members,), -1, jnp.int32), slot=jnp.zeros((), jnp.int32),
        hist_ops=jnp.zeros((history_size, num_edges), jnp.int32),
        hist_y=jnp.full((history_size,), NEG_INF, jnp.float32),
        hist_rung=jnp.full((history_size,), -1, jnp.int32),
        count=jnp.zeros((), jnp.int32))
    if not multi:
      return HyperbandState(**common)
    return MultiFidelityState(**common, query_epoch=jnp.full((1,), fidelities[-1], jnp.int32),
                              fidelities=fidelities)

  def tpe_proposal(key, state, random_arch):
    """BOHB's proposal: maximise l(x) / g(x) over samples from l(x), the densities factorised
    per edge over the good (top ``top_fraction``) and bad results of the highest rung with at
    least ``min_points`` results (Laplace-smoothed categorical frequencies stand in for BOHB's
    Aitchison-Aitken kernels)."""
    k_use, k_samp = rng.split(key)
    valid = jnp.isfinite(state.hist_y) & (state.hist_rung >= 0)
    per_rung = jnp.array([jnp.sum(valid & (state.hist_rung == r)) for r in range(len(fidelities))])
    ok = per_rung >= min_points
    rung = jnp.max(jnp.where(ok, jnp.arange(len(fidelities)), -1))
    use = valid & (state.hist_rung == rung)
    n = jnp.sum(use)
    n_good = jnp.maximum(1, jnp.ceil(top_fraction * n).astype(jnp.int32))
    y = jnp.where(use, state.hist_y, NEG_INF)
    rank = jnp.argsort(jnp.argsort(-y))  # 0 = best
    good = use & (rank < n_good)
    bad = use & ~good
    oh = jax.nn.one_hot(state.hist_ops, num_ops)  # [H, E, O]
    if ragged:  # Laplace smoothing over each variable's own choices; the others never drawn
      lg = jnp.where(allowed, jnp.log((jnp.einsum("h,heo->eo", good.astype(jnp.float32), oh) + 1.0)
                                      / (jnp.sum(good) + choices)), -jnp.inf)
      lb = jnp.where(allowed, jnp.log((jnp.einsum("h,heo->eo", bad.astype(jnp.float32), oh) + 1.0)
                                      / (jnp.sum(bad) + choices)), -jnp.inf)
    else:
      lg = jnp.log((jnp.einsum("h,heo->eo", good.astype(jnp.float32), oh) + 1.0)
                   / (jnp.sum(good) + num_ops))
      lb = jnp.log((jnp.einsum("h,heo->eo", bad.astype(jnp.float32), oh) + 1.0)
                   / (jnp.sum(bad) + num_ops))
    # sample num_samples cells from l(x) edge by edge (inverse CDF on hashed uniforms)
    u = (rng.words(k_samp, num_samples * num_edges).reshape(num_samples, num_edges)
         .astype(jnp.float32) / 2.0**32)
    cdf = jnp.cumsum(jnp.exp(lg), -1)  # [E, O]
    ops = jnp.sum(u[:, :, None] > cdf[None] / cdf[None, :, -1:], -1)
    ops = jnp.minimum(ops, jnp.asarray(space.categorical, jnp.int32) - 1) if ragged else ops.clip(
        0, num_ops - 1)
    gather = lambda t: jnp.take_along_axis(t[None], ops[:, :, None], -1)[..., 0].sum(-1)  # noqa: E731
    score = gather(lg) - gather(lb)
    fresh = jnp.ones((num_samples,), bool)
    if deduplicate:  # candidates already in the history (at any rung) are not proposed again
      seen = jnp.all(ops[:, None, :] == state.hist_ops[None], -1) & (state.hist_rung[None] >= 0)
      fresh = ~jnp.any(seen, -1)
      score = jnp.where(fresh, score, -jnp.inf)
    best = jnp.argmax(score)
    proposal = space.from_categorical(ops[best].astype(jnp.int32))
    use_model = (rung >= 0) & (rng.randint(k_use, (), 1 << 20) >= random_fraction * (1 << 20))
    use_model = use_model & fresh[best]  # all candidates seen: a random cell instead
    use_model = use_model & space.is_valid(proposal)  # a space with a validity predicate
    return jax.tree.map(lambda a, b: jnp.where(use_model, a, b), proposal, random_arch)

  def ask(key, state):
    k_rand, k_model = rng.split(key)
    t = state.count % cycle
    level = jnp.where(start_t[t], -1, state.level)  # a new bracket forgets the last one
    random_arch = space.sample(k_rand, ())
    new_arch = tpe_proposal(k_model, state, random_arch) if model else random_arch
    r = rung_t[t]
    # promotion: the best member of the rung below not yet evaluated at rung r
    cand = jnp.where(level == r - 1, state.score, NEG_INF)
    cand = jnp.where(level == r - 1, jnp.where(jnp.isfinite(cand), cand, -1e30), NEG_INF)
    promote_slot = jnp.argmax(cand)
    promoted = jax.tree.map(lambda m: m[promote_slot], state.members)
    is_new = new_t[t] == 1
    arch = jax.tree.map(lambda a, b: jnp.where(is_new, a, b), new_arch, promoted)
    slot = jnp.where(is_new, slot_t[t], promote_slot).astype(jnp.int32)
    if multi:
      state = state.replace(level=level, slot=slot, query_epoch=epochs[r][None])
    else:
      state = state.replace(level=level, slot=slot)
    return jax.tree.map(lambda x: x[None], arch), state

  def tell(key, state, archs, fitness):
    del key
    f = clean_fitness(fitness)[0]
    arch = jax.tree.map(lambda x: x[0], archs)
    r = rung_t[state.count % cycle]
    h = state.count % history_size
    return state.replace(
        members=jax.tree.map(lambda m, a: m.at[state.slot].set(a.astype(m.dtype)), state.members,
                             arch),
        score=state.score.at[state.slot].set(f),
        level=state.level.at[state.slot].set(r),
        hist_ops=state.hist_ops.at[h].set(space.to_categorical(arch).astype(jnp.int32)),
        hist_y=state.hist_y.at[h].set(f),
        hist_rung=state.hist_rung.at[h].set(r),
        count=state.count + 1), {}

  return BlackBoxOptimizer(init=init, ask=ask, tell=tell, num_ask=1, name=name,
                           fidelities=fidelities)


def _check_space(space: SearchSpace) -> None:
  """BOHB's model is over the categorical view, so the space needs one (every cell space has it;
  the numbers of choices may differ per variable, NB101's 2 per edge and 3 per op)."""
  if not space.categorical or space.to_categorical is None or space.from_categorical is None:
    raise ValueError(f"the multi-fidelity optimizers need a space with a categorical view "
                     f"(SearchSpace.categorical); {space.name!r} has none")
  if min(space.categorical) < 1:
    raise ValueError(f"every categorical variable needs at least one choice; "
                     f"{space.name!r} has {space.categorical}")


def successive_halving(space: SearchSpace, *, fidelities=NB201_FIDELITIES, eta: int = 3,
                       num_archs: int = 0) -> BlackBoxOptimizer:
  """Successive halving, repeated: ``num_archs`` random cells at the lowest fidelity, the best
  ``1 / eta`` of them promoted to each next fidelity; then a new bracket.

  Args:
    space: the search space (any with a categorical view).
    fidelities: training epochs of the rungs, increasing; the last must be the objective's
      fidelity (the loop counts only its results as best-so-far). The benchmark must have every
      one (checked before compiling). One entry is one rung: every query at the objective's
      fidelity (a table with only final values; 0 names a final epoch the table leaves unnamed).
    eta: promotion ratio.
    num_archs: cells per bracket (0: ``eta ** (len(fidelities) - 1)``).

  Returns:
    A :class:`BlackBoxOptimizer` (one query per step) with :class:`HyperbandState`.

  References:
    Jamieson & Talwalkar. Non-stochastic Best Arm Identification and Hyperparameter Optimization.
    AISTATS 2016.
  """
  _check_space(space)
  fidelities = check_fidelities(fidelities)
  check_positive(eta=eta)
  if num_archs < 0 or not isinstance(num_archs, int):
    raise ValueError(f"num_archs must be an integer >= 0, got {num_archs!r}")
  return _hyperband(space, name="sh", fidelities=fidelities, eta=eta,
                    brackets=[len(fidelities) - 1], num_archs=num_archs, model=False,
                    random_fraction=1.0, top_fraction=0.15, min_points=1, num_samples=1,
                    history_size=1)


def hyperband(space: SearchSpace, *, fidelities=NB201_FIDELITIES,
              eta: int = 3) -> BlackBoxOptimizer:
  """Hyperband: successive-halving brackets from the most aggressive (all rungs) to plain random
  search at the top fidelity, cycled.

  Args:
    space: the search space (any with a categorical view).
    fidelities: rung epochs, as for :func:`successive_halving` (one: random search at full
      budget, each bracket a single full-budget evaluation).
    eta: promotion ratio (bracket sizes follow Li et al.'s formula with the rungs as resources).

  Returns:
    A :class:`BlackBoxOptimizer` (one query per step) with :class:`HyperbandState`.

  References:
    Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar. Hyperband: A Novel Bandit-Based Approach to
    Hyperparameter Optimization. JMLR 2018.
  """
  _check_space(space)
  fidelities = check_fidelities(fidelities)
  return _hyperband(space, name="hb", fidelities=fidelities, eta=eta,
                    brackets=list(range(len(fidelities) - 1, -1, -1)), num_archs=0, model=False,
                    random_fraction=1.0, top_fraction=0.15, min_points=1, num_samples=1,
                    history_size=1)


def bohb(space: SearchSpace, *, fidelities=NB201_FIDELITIES, eta: int = 3,
         random_fraction: float = 1 / 3, top_n_percent: int = 15, min_points_in_model: int = 7,
         num_samples: int = 64, history_size: int = 256,
         deduplicate: bool = False) -> BlackBoxOptimizer:
  """BOHB-style model-based Hyperband: Hyperband's brackets, new cells proposed by a TPE model.

  A new bracket member is, with probability ``1 - random_fraction``, the best of ``num_samples``
  cells drawn from the "good" density ``l(x)`` by the ratio ``l(x) / g(x)``, both fitted on the
  results of the highest fidelity that has ``min_points_in_model`` of them (good = the top
  ``top_n_percent``). Densities factorise over the 6 edges as Laplace-smoothed op frequencies, a
  simplification of BOHB's Aitchison-Aitken product kernels with fitted bandwidths.

  Args:
    space: the search space (any with a categorical view).
    fidelities, eta: as for :func:`hyperband`. With one fidelity every query is a full-budget
      one proposed by the TPE model (or at random), BOHB with ``min_budget == max_budget``.
    random_fraction: share of random proposals (BOHB default 1/3).
    top_n_percent: the good set (BOHB default 15).
    min_points_in_model: results a fidelity needs before it is modelled (BOHB: dimension + 1).
    num_samples: candidates drawn from ``l(x)`` per proposal (BOHB default 64).
    history_size: results kept (a ring buffer).
    deduplicate: never propose, from the model, a cell already in the history (at any rung); a
      random cell is drawn when all ``num_samples`` candidates were seen. Off by default, as in
      BOHB and NASLib (the NB201 reference numbers are without it). On a small single-fidelity
      table the model otherwise re-proposes known cells: on TransNAS-Bench-101 micro jigsaw about
      half of 150 queries repeat one.

  Returns:
    A :class:`BlackBoxOptimizer` (one query per step) with :class:`HyperbandState`.

  References:
    Falkner, Klein, Hutter. BOHB: Robust and Efficient Hyperparameter Optimization at Scale.
    ICML 2018.
  """
  _check_space(space)
  fidelities = check_fidelities(fidelities)
  if not 0 < top_n_percent < 100:
    raise ValueError(f"top_n_percent must be in (0, 100), got {top_n_percent}")
  return _hyperband(space, name="bohb", fidelities=fidelities, eta=eta,
                    brackets=list(range(len(fidelities) - 1, -1, -1)), num_archs=0, model=True,
                    random_fraction=float(random_fraction), top_fraction=top_n_percent / 100,
                    min_points=min_points_in_model, num_samples=num_samples,
                    history_size=history_size, deduplicate=bool(deduplicate))
