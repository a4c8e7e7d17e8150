"""The shared machinery of the one-shot (weight-sharing) NAS optimizers.

Every optimizer is a factory (``darts``, ``gdas``, ...) returning a :class:`OneShotOptimizer`, a
NamedTuple of pure functions over a :class:`OneShotState`:

* ``init(key, batch) -> OneShotState``: supernet variables, architecture parameters and the two
  optax states;
* ``step(key, state, train_batch, val_batch) -> (OneShotState, Metrics)``: one bilevel round, the
  architecture update on ``val_batch`` first, then the weight update on ``train_batch`` (NASLib's
  order; Liu et al. 2019, Alg. 1);
* ``discretize(state) -> Arch``: the architecture the search currently picks;
* ``score(state, archs, batch) -> f32[A]``: the validation accuracy of each of ``A`` architectures
  when the supernet runs with their one-hot op weights (vmapped over architectures; Bender et al.
  2018, Li & Talwalkar 2019);
* ``op_weights(state) -> f32[E, O]``: the deterministic per-edge op distribution (softmax of the
  alphas, the Dirichlet mean, ...) for logs and plots.

A batch is a pair ``(images f32[B, H, W, 3], labels int32[B])`` or anything with ``images`` and
``labels`` (a :class:`jaxnas.data.Dataset` slice). Functions are not pre-jitted; drivers jit them.

The optimizers differ only in how alphas become the supernet's ``op_weights: f32[E, O]`` (shared
by every cell, the cell spaces here having one cell type), in an optional regulariser on the
alphas, and in whether alphas are trained at all; :func:`bilevel` builds all of them from those
pieces. What they need to know about the space comes from a
:class:`~jaxnas.nn.cell.SupernetSpec` (``E x O`` alpha shape, edge targets, discretisation to the
space's Arch, one-hot, path sampler), normally the supernet's own ``network.spec``; nothing here
knows a particular space.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxnas import nn as jnn
from jaxnas.nn.cell import SupernetSpec

Array = jax.Array
NO_ARCH = -1  # sentinel in OneShotState.best: no architecture scored yet


@flax.struct.dataclass
class OneShotState:
  """The state of a one-shot search.

  Attributes:
    step: ``int32[]`` optimizer steps taken (sets the learning-rate and temperature schedules).
    params: supernet parameters (the network weights ``w``).
    batch_stats: running BN statistics of the supernet (``{}`` when no BN tracks them).
    alphas: architecture parameters, e.g. ``{"alpha": f32[E, O]}`` (+ ``"beta": f32[E]`` for
      PC-DARTS edge normalisation); kept apart from ``params`` and updated by ``a_tx``.
    w_opt: ``w_tx`` state.
    a_opt: ``a_tx`` state.
    best: ``int32[E]`` the architecture picked by scoring (RandomNAS / OneShot), ``NO_ARCH`` until
      one has been scored.
  """

  step: Array
  params: Any
  batch_stats: Any
  alphas: Any
  w_opt: Any
  a_opt: Any
  best: Array  # [E] int32


@flax.struct.dataclass
class Metrics:
  """Per-step scalars (all ``f32[]``): losses and accuracies of the two passes, the temperature."""

  train_loss: Array
  train_accuracy: Array
  valid_loss: Array
  valid_accuracy: Array
  tau: Array


class OneShotOptimizer(NamedTuple):
  """A one-shot NAS optimizer: pure functions over :class:`OneShotState` (see module doc)."""

  name: str
  network: Any  # the Flax supernet the optimizer trains (mode / partial channels set)
  init: Callable[..., OneShotState]
  step: Callable[..., tuple[OneShotState, Metrics]]
  discretize: Callable[[OneShotState], Any]  # -> the space's Arch
  score: Callable[..., Array]
  op_weights: Callable[[OneShotState], Array]
  # objective(key, state, alphas, train_batch, val_batch) -> (f32[], aux): what the alpha update
  # descends (the unrolled L_val(w - xi dL_train/dw, alpha) for second-order DARTS).
  objective: Callable[..., Any]
  # hypergradient(key, state, train_batch, val_batch) -> (d objective / d alphas, aux)
  hypergradient: Callable[..., Any]
  w_tx: optax.GradientTransformation
  a_tx: optax.GradientTransformation
  spec: SupernetSpec | None = None  # the space's view (alpha shape, discretisation, sampler)


def resolve_spec(network, spec: SupernetSpec | None = None) -> SupernetSpec:
  """The supernet spec to use: ``spec`` if given, else the network's own ``network.spec``, else
  (a stand-in module with NB201's interface, ``op_weights: f32[6, 5]``) NB201's."""
  if spec is not None:
    if not isinstance(spec, SupernetSpec):
      raise ValueError(f"spec must be a jaxnas.nn.cell.SupernetSpec, got {type(spec).__name__}")
    return spec
  own = getattr(network, "spec", None)
  return own if isinstance(own, SupernetSpec) else jnn.supernet_spec("nasbench201")


def xy(batch) -> tuple[Array, Array]:
  """``(images, labels)`` of a batch given as a pair or as a Dataset-like object."""
  if hasattr(batch, "images"):
    return batch.images, batch.labels
  x, y = batch
  return x, y


# ----------------------------------------------------------------------------- optax transforms


def weights_tx(epochs: int, steps_per_epoch: int, *, lr: float = 0.025, lr_min: float = 0.001,
               momentum: float = 0.9, weight_decay: float = 3e-4,
               grad_clip: float = 5.0) -> optax.GradientTransformation:
  """DARTS's weight optimizer: clip the global norm, L2 weight decay, SGD momentum, cosine lr.

  PyTorch order (``clip_grad_norm_`` before ``SGD(weight_decay=...)``): the decay is added to the
  clipped gradient. The cosine goes from ``lr`` to ``lr_min`` over all steps (DARTS anneals per
  epoch with ``CosineAnnealingLR(epochs, eta_min=0.001)``; per step is the smooth version).

  Args:
    epochs, steps_per_epoch: schedule length.
    lr, lr_min: initial and final learning rate (DARTS: 0.025, 0.001).
    momentum: SGD momentum (0.9).
    weight_decay: L2 coefficient (3e-4).
    grad_clip: max global gradient norm (5; 0 disables).

  Returns:
    An ``optax.GradientTransformation``.
  """
  total = max(1, int(epochs) * int(steps_per_epoch))
  schedule = optax.cosine_decay_schedule(lr, total, alpha=lr_min / lr if lr else 0.0)
  parts = [optax.clip_by_global_norm(grad_clip)] if grad_clip else []
  parts += [optax.add_decayed_weights(weight_decay), optax.sgd(schedule, momentum=momentum)]
  return optax.chain(*parts)


def alphas_tx(*, lr: float = 3e-4, betas: tuple[float, float] = (0.5, 0.999),
              weight_decay: float = 1e-3) -> optax.GradientTransformation:
  """DARTS's architecture optimizer: Adam(lr 3e-4, betas (0.5, 0.999)) with L2 decay 1e-3
  (PyTorch ``Adam(weight_decay=...)`` adds the decay to the gradient before the moments)."""
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.adam(lr, b1=betas[0], b2=betas[1]))


def linear_tau(tau_max: float, tau_min: float, epochs: int, steps_per_epoch: int):
  """Temperature annealed linearly per epoch, ``tau_max`` at epoch 0 to ``tau_min`` at the last
  (GDAS, AutoDL-Projects: ``tau_max - (tau_max - tau_min) * epoch / (epochs - 1)``)."""
  def tau(step):
    epoch = jnp.minimum(step // max(int(steps_per_epoch), 1), epochs - 1)
    return tau_max - (tau_max - tau_min) * epoch / max(int(epochs) - 1, 1)
  return tau


# ----------------------------------------------------------------------------- losses


def cross_entropy(logits: Array, labels: Array) -> tuple[Array, Array]:
  """Mean cross-entropy and accuracy of ``logits: f32[B, K]`` against ``labels: int32[B]``."""
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
  acc = jnp.mean(jnp.argmax(logits, -1) == labels)
  return loss, acc


def _variables(params, batch_stats) -> dict:
  return {"params": params, "batch_stats": batch_stats} if batch_stats else {"params": params}


def forward(network, params, batch_stats, x, w, *, update_stats: bool = True):
  """Supernet logits in train mode (batch statistics); returns ``(logits, new_batch_stats)``."""
  v = _variables(params, batch_stats)
  if update_stats and batch_stats:
    logits, new = network.apply(v, x, w, True, mutable=["batch_stats"])
    return logits, new["batch_stats"]
  return network.apply(v, x, w, True), batch_stats


# ----------------------------------------------------------------------------- the bilevel core

# weights_fn(key, alphas, tau) -> f32[E, O]; reg_fn(alphas) -> f32[]
WeightsFn = Callable[[Array, Any, Array], Array]


def bilevel(name: str, network, *, epochs: int, steps_per_epoch: int, init_alphas: Callable,
            weights_fn: WeightsFn, probs_fn: Callable[[Any], Array],
            reg_fn: Callable[[Any], Array] | None = None, train_alphas: bool = True,
            second_order: bool = False, tau_fn: Callable[[Array], Array] | None = None,
            w_tx: optax.GradientTransformation | None = None,
            a_tx: optax.GradientTransformation | None = None,
            discretize_from_best: bool = False,
            spec: SupernetSpec | None = None,
            op_reg_fn: Callable[[Array], Array] | None = None,
            hessian: str = "exact", fd_radius: float = 0.01) -> OneShotOptimizer:
  """Builds a one-shot optimizer from how alphas become op weights.

  Args:
    name: optimizer name.
    network: the Flax supernet (``apply(v, x, op_weights f32[E, O], train)``, e.g.
      ``jaxnas.nn.compile(space, None, ...)``) with its mode / partial channels set.
    epochs, steps_per_epoch: schedule length (learning rate, temperature).
    init_alphas: ``key -> alphas`` pytree.
    weights_fn: ``(key, alphas, tau) -> op_weights f32[E, O]``; called once per pass with an
      independent key (stochastic relaxations resample for the weight step, as NASLib does).
    probs_fn: ``alphas -> f32[E, O]`` deterministic op distribution (argmax = discretization).
    reg_fn: optional regulariser of the alphas added to the validation loss (DrNAS's KL).
    train_alphas: False for RandomNAS / OneShot (alphas stay fixed; no validation backward pass).
    second_order: DARTS's unrolled hypergradient: the alpha gradient of
      ``L_val(w'(alpha), alpha)`` where ``w'`` is one step of ``w_tx`` on the train batch;
      ``hypergradient`` applies the chain rule by hand (a VJP through the optimizer update and a
      mixed second derivative, see ``unrolled_hypergradient``) rather than reverse mode through
      the inner gradient.
    hessian: how ``second_order`` gets the mixed second derivative ``d/dalpha <dL_train/dw, u>``:
      ``"exact"`` (autodiff, forward over reverse where the supernet has forward mode) or
      ``"finite_difference"``, Liu et al.'s central difference of ``dL_train/dalpha`` at
      ``w +- r u`` with ``r = fd_radius / |u|`` (the same two points as DARTS's
      ``_hessian_vector_product``, whose ``R = 0.01 / |dL_val/dw'|``): reverse mode only, so the
      supernet keeps its reverse-only rules, and a smaller program (full-size NB201 on 2 vCPUs:
      247 s of compile, 9.0 GB peak RSS, 8.8 s per step vs the exact form's 414 s, 14.1 GB,
      11.4 s; ``docs/oneshot_performance.md``).
    fd_radius: the radius of ``"finite_difference"`` (DARTS: 0.01).
    tau_fn: ``step -> tau`` temperature schedule (None: constant 1, reported as 1).
    w_tx, a_tx: weight and alpha optimizers (default :func:`weights_tx`, :func:`alphas_tx`).
    discretize_from_best: ``discretize`` returns ``state.best`` (set by scoring) instead of the
      argmax of ``probs_fn``.
    spec: the space's :class:`~jaxnas.nn.cell.SupernetSpec` (default :func:`resolve_spec`).
    op_reg_fn: optional ``op_weights f32[E, O] -> f32[]`` added to the validation loss, applied to
      the same op weights the validation pass uses (GDAS: its sample), e.g. an expected-latency
      term (:mod:`jaxnas.optimizers.oneshot.latency`). None: the loss is unchanged.

  Returns:
    A :class:`OneShotOptimizer`.
  """
  w_tx = w_tx or weights_tx(epochs, steps_per_epoch)
  a_tx = a_tx or alphas_tx()
  tau_fn = tau_fn or (lambda step: jnp.float32(1.0))
  if hessian not in ("exact", "finite_difference"):
    raise ValueError(f"hessian={hessian!r}; valid: 'exact', 'finite_difference'")
  if not fd_radius > 0:
    raise ValueError(f"fd_radius={fd_radius!r} must be > 0")
  forward_mode = second_order and hessian == "exact"
  if not forward_mode and hasattr(network, "reverse_only"):
    # only reverse mode below: the supernet may use its faster reverse-only rules (NB201's BN)
    network = network.clone(reverse_only=True)
  if hasattr(network, "materialize_nodes"):
    # node sums and their cotangents in buffers of their own: XLA:CPU otherwise copies them
    # into every consumer (nn/materialize.py; full-size NB201 DARTS step 13 s -> 3.7 s)
    network = network.clone(materialize_nodes=True)
  # scoring vmaps over architectures, where a per-edge switch would run every op (stacked form)
  # and a materialize cond both of its branches (off)
  score_net = network.clone(mode="select", **(
      {"sample_only": False} if hasattr(network, "sample_only") else {}),
      **({"materialize_nodes": False} if hasattr(network, "materialize_nodes") else {}))
  spec = resolve_spec(network, spec)

  def init(key, batch) -> OneShotState:
    k_net, k_alpha = jax.random.split(key)
    x, _ = xy(batch)
    w = jnp.full(spec.alpha_shape, 1.0 / spec.num_ops, jnp.float32)
    v = network.init(k_net, x, w, False)
    params, batch_stats = v["params"], v.get("batch_stats", {})
    alphas = init_alphas(k_alpha)
    return OneShotState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats,
                        alphas=alphas, w_opt=w_tx.init(params), a_opt=a_tx.init(alphas),
                        best=jnp.full((spec.num_edges,), NO_ARCH, jnp.int32))

  def train_loss(params, batch_stats, alphas, key, tau, batch, update_stats=True):
    x, y = xy(batch)
    logits, bs = forward(network, params, batch_stats, x, weights_fn(key, alphas, tau),
                         update_stats=update_stats)
    loss, acc = cross_entropy(logits, y)
    return loss, (acc, bs)

  def val_loss(alphas, params, batch_stats, key, tau, batch):
    loss, (acc, bs) = train_loss(params, batch_stats, alphas, key, tau, batch)
    reg = reg_fn(alphas) if reg_fn is not None else 0.0
    if op_reg_fn is not None:  # the same key: the op weights of the pass above (XLA reuses them)
      reg = reg + op_reg_fn(weights_fn(key, alphas, tau))
    return loss + reg, (loss, acc, bs)

  def unrolled(alphas, state, k_inner, k_val, tau, train_batch, val_batch):
    """L_val(w'(alpha), alpha) with w' = one step of the weight optimizer on the train batch."""
    g = jax.grad(lambda p: train_loss(p, state.batch_stats, alphas, k_inner, tau, train_batch,
                                      update_stats=False)[0])(state.params)
    upd, _ = w_tx.update(g, state.w_opt, state.params)
    w_prime = optax.apply_updates(state.params, upd)
    loss, (vloss, vacc, _) = val_loss(alphas, w_prime, state.batch_stats, k_val, tau, val_batch)
    return loss, (vloss, vacc, state.batch_stats)  # the virtual step's statistics are dropped

  def objective(key, state: OneShotState, alphas, train_batch, val_batch):
    """The architecture objective whose gradient the alpha update follows (with aux)."""
    k_val, _, k_inner = jax.random.split(key, 3)
    tau = jnp.asarray(tau_fn(state.step), jnp.float32)
    if second_order:
      return unrolled(alphas, state, k_inner, k_val, tau, train_batch, val_batch)
    return val_loss(alphas, state.params, state.batch_stats, k_val, tau, val_batch)

  def unrolled_hypergradient(key, state: OneShotState, train_batch, val_batch):
    """``d unrolled / d alphas`` by the chain rule, without differentiating through a gradient
    in reverse mode (which XLA:CPU took > 700 s to compile at full size): with ``g =
    dL_train/dw (w, a)``, ``w' = w + U(g)`` (``U``: one ``w_tx`` update),
    ``v_w, v_a = dL_val/d(w', a)`` and ``u = (dU/dg)^T v_w`` (a VJP through the optimizer
    update only), the hypergradient is ``v_a + d/da <dL_train/dw (w, a), u>``; ``hessian``
    ``"exact"``: the last term a gradient of a forward-mode directional derivative (Liu et al.'s
    Eq. 7 term with the exact Hessian-vector product), ``"finite_difference"``: their Eq. 8."""
    k_val, _, k_inner = jax.random.split(key, 3)
    tau = jnp.asarray(tau_fn(state.step), jnp.float32)
    alphas, params = state.alphas, state.params

    def inner(p, a):
      return train_loss(p, state.batch_stats, a, k_inner, tau, train_batch, update_stats=False)[0]

    def step_of(g):
      upd, _ = w_tx.update(g, state.w_opt, params)
      return optax.apply_updates(params, upd)

    g = jax.grad(inner)(params, alphas)
    w_prime, step_vjp = jax.vjp(step_of, g)
    (_, (vloss, vacc, _)), (v_a, v_w) = jax.value_and_grad(val_loss, argnums=(0, 1), has_aux=True)(
        alphas, w_prime, state.batch_stats, k_val, tau, val_batch)
    u, = step_vjp(v_w)
    if hessian == "finite_difference":  # DARTS's Eq. 8: two more gradients, reverse mode only
      norm = optax.tree_utils.tree_norm(u)  # 0 if the step ignores g or dL_val/dw' = 0: mixed 0
      r = fd_radius / jnp.maximum(norm, jnp.finfo(norm.dtype).tiny)
      da = jax.grad(inner, argnums=1)
      # two calls, not one lax.map over the signs: the loop compiled in 207 s instead of 247
      # and peaked at 7.0 instead of 9.0 GB, but its step took 13.1 s instead of 8.8 (full size)
      g_plus = da(jax.tree_util.tree_map(lambda p, d: p + r * d, params, u), alphas)
      g_minus = da(jax.tree_util.tree_map(lambda p, d: p - r * d, params, u), alphas)
      mixed = jax.tree_util.tree_map(lambda a, b: (a - b) / (2 * r), g_plus, g_minus)
    elif spec.forward_mode:
      mixed = jax.grad(lambda a: jax.jvp(lambda p: inner(p, a), (params,), (u,))[1])(alphas)
    else:  # custom-VJP layers (the DARTS space's search ops): reverse over reverse, same value
      mixed = jax.grad(lambda a: optax.tree_utils.tree_vdot(jax.grad(inner)(params, a), u))(alphas)
    ga = jax.tree_util.tree_map(jnp.add, v_a, mixed)
    return ga, (vloss, vacc, state.batch_stats)  # the virtual step's statistics are dropped

  def hypergradient(key, state: OneShotState, train_batch, val_batch):
    """``d objective / d alphas`` (exact, also through the unrolled step) and the aux."""
    if second_order:
      return unrolled_hypergradient(key, state, train_batch, val_batch)
    return jax.grad(objective, argnums=2, has_aux=True)(key, state, state.alphas, train_batch,
                                                        val_batch)

  def step(key, state: OneShotState, train_batch, val_batch) -> tuple[OneShotState, Metrics]:
    _, k_train, _ = jax.random.split(key, 3)
    tau = jnp.asarray(tau_fn(state.step), jnp.float32)
    alphas, a_opt = state.alphas, state.a_opt
    if train_alphas:
      ga, (vloss, vacc, bs) = hypergradient(key, state, train_batch, val_batch)
      upd, a_opt = a_tx.update(ga, a_opt, alphas)
      alphas = optax.apply_updates(alphas, upd)
    else:  # RandomNAS / OneShot: a validation pass for logging only
      _, (vloss, vacc, bs) = objective(key, state, alphas, train_batch, val_batch)
    (tloss, (tacc, bs)), gw = jax.value_and_grad(train_loss, has_aux=True)(
        state.params, bs, alphas, k_train, tau, train_batch)
    upd, w_opt = w_tx.update(gw, state.w_opt, state.params)
    params = optax.apply_updates(state.params, upd)
    new = state.replace(step=state.step + 1, params=params, batch_stats=bs, alphas=alphas,
                        w_opt=w_opt, a_opt=a_opt)
    return new, Metrics(train_loss=tloss, train_accuracy=tacc, valid_loss=vloss,
                        valid_accuracy=vacc, tau=tau)

  def op_weights(state: OneShotState) -> Array:
    if discretize_from_best:
      return jax.nn.one_hot(state.best, spec.num_ops)  # all zero before the first scoring
    return probs_fn(state.alphas)

  def discretize(state: OneShotState):
    if discretize_from_best:
      # Before any scoring there is no pick; fall back to the argmax of the (fixed) alphas.
      ops = jnp.where(state.best >= 0, state.best,
                      jnp.argmax(probs_fn(state.alphas), -1).astype(jnp.int32))
      return spec.to_arch(ops)
    # NB201 semantics as NASLib: argmax over all ops per edge, `none` included (these cells keep
    # every edge, unlike the DARTS space whose top-2 edge selection excludes `none`).
    return spec.discretize(probs_fn(state.alphas))

  def score(state: OneShotState, archs, batch) -> Array:
    x, y = xy(batch)
    v = _variables(state.params, state.batch_stats)

    def acc(w):
      logits = score_net.apply(v, x, w, True)  # batch statistics, not updated
      return jnp.mean(jnp.argmax(logits, -1) == y)

    return jax.vmap(acc)(spec.one_hot(archs))

  return OneShotOptimizer(name=name, network=network, init=init, step=step,
                          discretize=discretize, score=score, op_weights=op_weights,
                          objective=objective, hypergradient=hypergradient, w_tx=w_tx, a_tx=a_tx,
                          spec=spec)
