"""BANANAS and NPENAS: predictor-guided search with a predictor fitted inside the compiled loop.

Both share :func:`model_based`, a generic ``ask``/``tell`` over a fixed-size buffer of every
queried architecture (the architectures, their fingerprints for deduplication, encodings, fitness
and a validity mask; no dense ids, so any space works), so the whole search compiles
once: each ``ask`` fits the predictor on the masked buffer (a fixed number of optax steps under
``lax.scan``), makes candidates by mutating the best architectures (or by random sampling), scores
them with an acquisition function and returns the top ``k``. ``num_ask = k``: like NASLib, each of
the ``k`` architectures of an iteration counts as one query.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import predictors as pred_lib
from jaxnas import rng
from jaxnas.optimizers.blackbox.acquisition import acquisition, check_acquisition
from jaxnas.optimizers.blackbox.base import NEG_INF, BlackBoxOptimizer, check_positive, clean_fitness
from jaxnas.spaces import SearchSpace

CANDIDATE_GENERATORS = ("mutation", "random_sampling")
EMPTY = -1  # id of an empty buffer slot
# The BANANAS meta neural network (White et al.: a narrow feed-forward net trained with the MAE
# loss). Sized for speed inside a vmapped search: ~0.5 ms per fit of a 3-member ensemble on
# 160 rows on one CPU core.
BANANAS_MLP = {"hidden_sizes": (16, 16), "num_steps": 60, "learning_rate": 2e-2,
               "loss": "mae"}


@flax.struct.dataclass
class ModelBasedState:
  ids: jax.Array  # [B] (or [B, W]) int32: fingerprints of the queried archs (deduplication), EMPTY if unused
  archs: Any  # Arch[B]: the queried archs (mutation parents); all-zero ops in unused slots
  x: jax.Array  # [B, D] f32: their encodings
  y: jax.Array  # [B] f32: their fitness (-inf when unusable)
  mask: jax.Array  # [B] bool: slot holds a finite result
  model: Any  # predictor state (of the last fit)
  fitted: jax.Array  # [] bool: a fit on >= num_init points has happened (fit_once mode)
  pool_key: jax.Array  # key of the fixed candidate pool (fit_once mode)
  count: jax.Array  # [] int32: queries told so far


def feature_encoding(space: SearchSpace | None, predictor: str, encoding_type: str) -> str:
  """The encoding the search loop stores for ``predictor``: ``encoding_type``, or its
  ``<encoding_type>_indices`` twin where ``space`` has one and the predictor is the BANANAS MLP
  (DARTS's ``path_indices``: the 11,204-wide binary path encoding as the list of its <= 160
  nonzero slots; the MLP is the same network, its first layer a sum of weight rows, so results
  equal the dense encoding's up to float rounding at ~1/70 of the work)."""
  twin = f"{encoding_type}_indices"
  if (space is not None and predictor in ("mlp", "mlp_ensemble")
      and twin in dict(getattr(space, "encoding_dims", ()) or ())):
    return twin
  return encoding_type


def build_predictor(name: str, encoding_type: str, num_ensemble: int = 3,
                    target_transform: str = "none", space: SearchSpace | None = None,
                    use_indices: bool = False) -> pred_lib.Predictor:
  """A jittable predictor from :data:`jaxnas.predictors.PREDICTORS` for in-loop fitting.

  ``mlp_ensemble`` gets BANANAS' settings (:data:`BANANAS_MLP`) and ``num_ensemble`` members,
  ``gcn_ensemble`` ``num_ensemble`` members; other predictors their registry defaults.
  ``use_indices``: read :func:`feature_encoding`'s index twin of ``encoding_type`` (the network
  is the one on ``encoding_type``). Unknown
  names, host-side predictors and unknown encodings raise a ValueError naming the valid ones.
  """
  if name not in pred_lib.PREDICTORS:
    raise ValueError(f"unknown predictor {name!r}; valid: {', '.join(sorted(pred_lib.PREDICTORS))}")
  if name in pred_lib.HOST_SIDE:
    jit_ok = sorted(set(pred_lib.PREDICTORS) - set(pred_lib.HOST_SIDE))
    raise ValueError(f"predictor {name!r} is host-side and cannot be fitted inside the compiled "
                     f"search loop; jittable ones: {', '.join(jit_ok)}")
  if name.startswith("omni"):
    raise ValueError(f"predictor {name!r} needs zero-cost score columns, which black-box search "
                     "does not provide")
  if encoding_type not in pred_lib.encodings_for(space):
    raise ValueError(f"unknown encoding_type {encoding_type!r}; valid: "
                     f"{', '.join(pred_lib.encodings_for(space))}")
  check_positive(num_ensemble=num_ensemble)
  d = pred_lib.encoding_size(encoding_type, space)
  twin = feature_encoding(space, name, encoding_type) if use_indices else encoding_type
  index_kw = {}
  if twin != encoding_type:  # same network on the dense width, fed the index list
    index_kw = {"index_inputs": d}
    d = pred_lib.encoding_size(twin, space)
  factory = pred_lib.PREDICTORS[name]
  # the GCN's node count depends on the cell (8 for NB201's 6 edges; another for a user cell)
  extra = pred_lib.predictor_kwargs(name, space, encoding_type) if space is not None else {}
  if name == "mlp_ensemble":
    p = factory(d, num_members=num_ensemble, **BANANAS_MLP, **index_kw)
  elif name == "gcn_ensemble":
    p = factory(d, num_members=num_ensemble, **extra)
  elif name == "mlp":
    p = factory(d, **BANANAS_MLP, **index_kw)
  else:
    p = factory(d, **extra)
  if target_transform not in pred_lib.TARGET_TRANSFORMS:
    raise ValueError(f"unknown target_transform {target_transform!r}; valid: "
                     f"{', '.join(pred_lib.TARGET_TRANSFORMS)}")
  return pred_lib.with_target_transform(p, target_transform)


def model_based(space: SearchSpace, predictor: pred_lib.Predictor, *, name: str,
                encoding_type: str, num_init: int, k: int, num_candidates: int,
                acq_fn_type: str, acq_fn_optimization: str, num_arches_to_mutate: int,
                max_mutations: int, buffer_size: int, fit_once: bool = False,
                explore_factor: float = 0.5, ei_calibration_factor: float = 5.0,
                deduplicate: bool = True) -> BlackBoxOptimizer:
  """The shared predictor-guided optimizer (BANANAS, NPENAS, BasePredictor, GP-BO).

  Args:
    space: the search space; features are ``jaxnas.predictors.encode(archs, encoding_type,
      space)`` (the space's own encodings, plus NB201's ``graph``).
    predictor: a jittable :class:`~jaxnas.predictors.Predictor` for ``encoding_type`` features.
    name: registry name of the result.
    encoding_type: feature encoding of the predictor.
    num_init: random architectures before the first model-guided query.
    k: architectures per ``ask`` (the top ``k`` candidates by acquisition value).
    num_candidates: candidates scored per ``ask``.
    acq_fn_type: see :func:`~jaxnas.optimizers.blackbox.acquisition.acquisition`.
    acq_fn_optimization: ``mutation`` (each candidate is 1..``max_mutations`` mutations of one of
      the ``num_arches_to_mutate`` best queried architectures, parents taken in turn) or
      ``random_sampling``.
    num_arches_to_mutate, max_mutations: see ``acq_fn_optimization``.
    buffer_size: queried architectures kept for fitting (a ring: beyond it, the oldest results are
      overwritten); the fit's cost grows with it. The default covers a 150-query run.
    fit_once: fit once, on the first ``num_init`` results, and rank one fixed random candidate pool
      (Wen et al.'s neural predictor) instead of refitting every ``ask``.
    explore_factor: UCB weight.
    ei_calibration_factor: EI divides the std by it (NASLib's 5 for ensembles; 1 for a GP).
    deduplicate: candidates already queried, or repeated in the pool, are never chosen (NASLib
      does not check, and re-queries cells it knows); when fewer than ``k`` remain, random
      architectures fill the batch.

  Returns:
    A :class:`BlackBoxOptimizer` with ``num_ask = k`` and :class:`ModelBasedState`.
  """
  check_positive(num_init=num_init, k=k, num_candidates=num_candidates,
                 num_arches_to_mutate=num_arches_to_mutate, max_mutations=max_mutations,
                 buffer_size=buffer_size)
  check_acquisition(acq_fn_type)
  if acq_fn_optimization not in CANDIDATE_GENERATORS:
    raise ValueError(f"unknown acq_fn_optimization {acq_fn_optimization!r}; valid: "
                     f"{', '.join(CANDIDATE_GENERATORS)}")
  if k > num_candidates:
    raise ValueError(f"k={k} must be <= num_candidates={num_candidates}: the top k of the "
                     "candidates are queried")
  if buffer_size < max(k, num_arches_to_mutate):
    raise ValueError(f"buffer_size={buffer_size} must be >= k={k} and >= "
                     f"num_arches_to_mutate={num_arches_to_mutate}")
  if not predictor.jittable:
    raise ValueError(f"{name} fits its predictor inside the compiled loop; it must be jittable")
  dim = pred_lib.encoding_size(encoding_type, space)
  if predictor.num_features != dim:
    raise ValueError(f"predictor expects {predictor.num_features} features but encoding "
                     f"{encoding_type!r} has {dim}")

  def encode(archs):
    return pred_lib.encode(archs, encoding_type, space).astype(jnp.float32)

  # equal iff same architecture (NB201 and cells: the dense id, as before fingerprints existed)
  fingerprint = space.fingerprint or space.to_id
  arch_shape = jax.eval_shape(lambda: space.sample(jax.random.key(0), (buffer_size,)))
  # () for an int32 fingerprint, (W,) for a multi-word one (NB101's int32[..., 2])
  fp_words = jax.eval_shape(fingerprint, arch_shape).shape[1:]

  def same(x, y):  # fingerprints equal (all words)
    eq = x == y
    return jnp.all(eq, axis=-1) if fp_words else eq

  def init(key):
    k_model, k_pool = rng.split(key)
    # the unfitted state must have the fitted state's exact types (a weak-typed scalar in some
    # predictors' init would make the second step retrace)
    fitted_type = jax.eval_shape(
        predictor.fit, k_model, jnp.zeros((buffer_size, dim)), jnp.zeros((buffer_size,)),
        jnp.zeros((buffer_size,), bool))
    model = jax.tree.map(lambda a, s: jnp.asarray(a, s.dtype).reshape(s.shape),
                         predictor.init(k_model, buffer_size), fitted_type)
    return ModelBasedState(
        ids=jnp.full((buffer_size,) + fp_words, EMPTY, jnp.int32),
        archs=jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), arch_shape),
        x=jnp.zeros((buffer_size, dim), jnp.float32),
        y=jnp.full((buffer_size,), NEG_INF, jnp.float32),
        mask=jnp.zeros((buffer_size,), bool),
        model=model, fitted=jnp.array(False),
        pool_key=k_pool, count=jnp.zeros((), jnp.int32))

  def fit(key, state):
    return predictor.fit(key, state.x, jnp.where(state.mask, state.y, 0.0), state.mask)

  def mutation_candidates(key, state):
    k_par, k_mut = rng.split(key)
    _, top = jax.lax.top_k(jnp.where(state.mask, state.y, NEG_INF), num_arches_to_mutate)
    # (an unfilled slot holds all-zero ops, the cell NB201's id 0 decodes to)
    parents = jax.tree.map(lambda a: a[top % buffer_size], state.archs)
    # parents in turn, so each of the best gets num_candidates / num_arches_to_mutate children
    which = jnp.arange(num_candidates) % num_arches_to_mutate
    arch = jax.tree.map(lambda p: p[which], parents)
    n_mut = 1 + rng.randint(k_par, (num_candidates,), max_mutations)
    keys = rng.split(k_mut, num_candidates * max_mutations).reshape(max_mutations, num_candidates)
    for i in range(max_mutations):
      mutated = jax.vmap(space.mutate)(keys[i], arch)
      arch = jax.tree.map(lambda m, a: jnp.where((i < n_mut).reshape((-1,) + (1,) * (a.ndim - 1)),
                                                 m, a), mutated, arch)
    return arch

  def ask(key, state):
    k_rand, k_fit, k_cand, k_acq = rng.split(key, 4)
    random_archs = space.sample(k_rand, (k,))
    if fit_once:
      need = ~state.fitted & (state.count >= num_init)
      model = jax.lax.cond(need, lambda: fit(k_fit, state), lambda: state.model)
      fitted = state.fitted | need
      k_cand = state.pool_key  # one fixed pool, ranked once; queried members drop out
    else:
      model, fitted = fit(k_fit, state), state.count >= num_init
    if acq_fn_optimization == "mutation":
      cands = mutation_candidates(k_cand, state)
    else:
      cands = space.sample(k_cand, (num_candidates,))
    mean, std = predictor.predict(model, encode(cands))
    best = jnp.max(jnp.where(state.mask, state.y, NEG_INF))
    score = acquisition(acq_fn_type, k_acq, mean, std, best, explore_factor,
                        ei_calibration_factor)
    score = jnp.where(jnp.isfinite(score), score, -1e30)  # a failed fit ranks last, still usable
    if deduplicate:
      cid = fingerprint(cands)
      seen = jnp.any(same(cid[:, None], state.ids[None, :]) & state.mask[None, :], axis=1)
      earlier = jnp.arange(num_candidates)[None, :] < jnp.arange(num_candidates)[:, None]
      repeated = jnp.any(same(cid[:, None], cid[None, :]) & earlier, axis=1)
      score = jnp.where(seen | repeated, NEG_INF, score)
    top_score, top = jax.lax.top_k(score, k)
    chosen = jax.tree.map(lambda c: c[top], cands)
    use_random = (state.count + jnp.arange(k) < num_init) | ~jnp.isfinite(top_score)
    archs = jax.tree.map(
        lambda r, c: jnp.where(use_random.reshape((-1,) + (1,) * (r.ndim - 1)), r, c),
        random_archs, chosen)
    return archs, state.replace(model=model, fitted=fitted)

  def tell(key, state, archs, fitness):
    del key
    f = clean_fitness(fitness)
    slots = (state.count + jnp.arange(k)) % buffer_size
    return state.replace(
        ids=state.ids.at[slots].set(fingerprint(archs).astype(jnp.int32)),
        archs=jax.tree.map(lambda b, a: b.at[slots].set(a.astype(b.dtype)), state.archs, archs),
        x=state.x.at[slots].set(encode(archs)),
        y=state.y.at[slots].set(f),
        mask=state.mask.at[slots].set(jnp.isfinite(f)),
        count=state.count + k), {}

  return BlackBoxOptimizer(init=init, ask=ask, tell=tell, num_ask=k, name=name)


def bananas(space: SearchSpace, *, num_init: int = 10, k: int = 10, num_ensemble: int = 3,
            predictor: str = "mlp_ensemble", encoding_type: str = "path", acq_fn_type: str = "its",
            acq_fn_optimization: str = "mutation", num_arches_to_mutate: int = 2,
            max_mutations: int = 1, num_candidates: int = 100, explore_factor: float = 0.5,
            target_transform: str = "none", buffer_size: int = 160,
            deduplicate: bool = True) -> BlackBoxOptimizer:
  """BANANAS: Bayesian optimisation with a neural-network ensemble on the path encoding.

  ``num_init`` random architectures, then per ``ask``: fit the predictor on every result so far,
  make ``num_candidates`` candidates (mutations of the ``num_arches_to_mutate`` best, or random
  samples), score them with the acquisition function, and query the top ``k`` (each a query, as
  in NASLib). Defaults are NASLib's (``naslib/optimizers/discrete/bananas``, the
  ``nb201`` search config): num_init 10, k 10, num_ensemble 3, its, mutation, path encoding,
  num_arches_to_mutate 2, max_mutations 1, num_candidates 100.

  Args:
    space: the search space.
    num_init: random architectures first.
    k: architectures queried per iteration (``num_ask``).
    num_ensemble: ensemble members of ``mlp_ensemble`` / ``gcn_ensemble``.
    predictor: any jittable name in :data:`jaxnas.predictors.PREDICTORS` (default: the BANANAS
      MLP ensemble).
    encoding_type: predictor features (:data:`jaxnas.predictors.ENCODINGS`; ``gcn*`` need
      ``graph``).
    acq_fn_type: ``its``, ``ucb``, ``ei`` or ``exploit_only``.
    acq_fn_optimization: ``mutation`` or ``random_sampling``.
    num_arches_to_mutate, max_mutations, num_candidates: candidate generation.
    explore_factor: UCB's weight on the std.
    target_transform: ``none`` or ``log_gap`` (see
      :func:`jaxnas.predictors.with_target_transform`).
    buffer_size: results kept for fitting (a ring buffer; >= the number of queries keeps all).
    deduplicate: never re-query a known cell (a fix over NASLib).

  Returns:
    A :class:`BlackBoxOptimizer` (``num_ask = k``).

  References:
    White, Neiswanger, Savani. BANANAS: Bayesian Optimization with Neural Architectures for Neural
    Architecture Search. AAAI 2021.
  """
  p = build_predictor(predictor, encoding_type, num_ensemble, target_transform, space,
                      use_indices=True)
  encoding_type = feature_encoding(space, predictor, encoding_type)
  return model_based(space, p, name="bananas", encoding_type=encoding_type, num_init=num_init,
                     k=k, num_candidates=num_candidates, acq_fn_type=acq_fn_type,
                     acq_fn_optimization=acq_fn_optimization,
                     num_arches_to_mutate=num_arches_to_mutate, max_mutations=max_mutations,
                     buffer_size=buffer_size, explore_factor=explore_factor,
                     deduplicate=deduplicate)


def npenas(space: SearchSpace, *, num_init: int = 10, k: int = 10, num_ensemble: int = 3,
           predictor: str = "mlp_ensemble", encoding_type: str = "path",
           num_arches_to_mutate: int = 2, max_mutations: int = 1, num_candidates: int = 100,
           target_transform: str = "none", buffer_size: int = 160,
           deduplicate: bool = True) -> BlackBoxOptimizer:
  """NPENAS: neural-predictor-guided evolution (candidates by mutation, exploit-only acquisition).

  As NASLib's ``Npenas``: BANANAS' loop with the acquisition fixed to the predicted mean (no
  exploration term) and mutation candidates.

  Args:
    space: the search space.
    num_init, k, num_ensemble, predictor, encoding_type, num_arches_to_mutate, max_mutations,
      num_candidates, target_transform, buffer_size, deduplicate: as for
      :func:`bananas`.

  Returns:
    A :class:`BlackBoxOptimizer` (``num_ask = k``).

  References:
    Wei, Niu, Tang, Wang, Hu, Liang. NPENAS: Neural Predictor Guided Evolution for Neural
    Architecture Search. IEEE TNNLS 2022.
  """
  p = build_predictor(predictor, encoding_type, num_ensemble, target_transform, space,
                      use_indices=True)
  encoding_type = feature_encoding(space, predictor, encoding_type)
  return model_based(space, p, name="npenas", encoding_type=encoding_type, num_init=num_init,
                     k=k, num_candidates=num_candidates, acq_fn_type="exploit_only",
                     acq_fn_optimization="mutation", num_arches_to_mutate=num_arches_to_mutate,
                     max_mutations=max_mutations, buffer_size=buffer_size,
                     deduplicate=deduplicate)
