"""The seven one-shot optimizers as :func:`~jaxnas.optimizers.oneshot.base.bilevel` instances.

Each factory takes a cell supernet (``jaxnas.nn.compile(space, None, ...)``, e.g.
``jaxnas.nn.supernet_nb201(...)`` or a user cell's ``jaxnas.nn.cell.supernet(...)``; the factory
sets the MixedOp mode and partial channels it needs) and the schedule length, and returns a
:class:`~jaxnas.optimizers.oneshot.base.OneShotOptimizer`. Defaults are NASLib's / the papers'.
Shared keyword hyperparameters (all factories):

* weights (:func:`~jaxnas.optimizers.oneshot.base.weights_tx`): ``lr=0.025`` cosine to
  ``lr_min=0.001``, ``momentum=0.9``, ``weight_decay=3e-4``, ``grad_clip=5``;
* alphas (:func:`~jaxnas.optimizers.oneshot.base.alphas_tx`): Adam ``arch_lr=3e-4``, betas
  (0.5, 0.999), ``arch_weight_decay=1e-3``;
* ``w_tx`` / ``a_tx``: replace either optax transform entirely;
* ``spec``: the space's :class:`~jaxnas.nn.cell.SupernetSpec` (alpha shape ``[E, O]``, edge
  targets, discretisation, one-hot, path sampler); default the supernet's own ``network.spec``
  (NB201's for a module without one).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxnas.optimizers.oneshot import base


def _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip, arch_lr,
         arch_weight_decay, w_tx, a_tx):
  w_tx = w_tx or base.weights_tx(epochs, steps_per_epoch, lr=lr, lr_min=lr_min, momentum=momentum,
                                 weight_decay=weight_decay, grad_clip=grad_clip)
  a_tx = a_tx or base.alphas_tx(lr=arch_lr, weight_decay=arch_weight_decay)
  return w_tx, a_tx


def _check(network, epochs, steps_per_epoch):
  if not hasattr(network, "clone") or not hasattr(network, "mode"):
    raise ValueError(f"one-shot optimizers need a cell supernet (jaxnas.nn.compile(space, None, "
                     f"...), e.g. the NB201 supernet jaxnas.nn.supernet_nb201), got "
                     f"{type(network).__name__}")
  if int(epochs) < 1 or int(steps_per_epoch) < 1:
    raise ValueError(f"epochs and steps_per_epoch must be >= 1, got {epochs}, {steps_per_epoch}")


def _sample_only(network, on: bool | None) -> dict:
  """``clone`` keywords running only the sampled op per edge, for supernets that support it
  (NB201's ``sample_only``); ``None`` (the default): on wherever supported. Nothing for the
  others when off or ``None``, a one-line error when asked for."""
  if hasattr(network, "sample_only"):
    return {"sample_only": True if on is None else bool(on)}
  if on:
    raise ValueError(f"sample_only=True needs a supernet with a sample_only attribute (NB201's); "
                     f"{type(network).__name__} has none")
  return {}


def _small_normal(spec):
  """NASLib's alpha init: ``key -> {"alpha": 1e-3 * randn}`` per edge and op."""
  return lambda key: {"alpha": 1e-3 * jax.random.normal(key, spec.alpha_shape)}


def _softmax(alphas):
  return jax.nn.softmax(alphas["alpha"], -1)


# ----------------------------------------------------------------------------- DARTS, PC-DARTS


def darts(network, *, epochs: int, steps_per_epoch: int, second_order: bool = False,
          hessian: str = "finite_difference", fd_radius: float = 0.01,
          lr: float = 0.025, lr_min: float = 0.001, momentum: float = 0.9,
          weight_decay: float = 3e-4, grad_clip: float = 5.0, arch_lr: float = 3e-4,
          arch_weight_decay: float = 1e-3, w_tx=None, a_tx=None, spec=None,
          op_regulariser=None) -> base.OneShotOptimizer:
  """DARTS: softmax-relaxed op weights, alphas descend the validation loss.

  First order uses ``dL_val(w, alpha)/dalpha``. Second order descends the unrolled objective
  ``L_val(w - xi * dL_train/dw, alpha)`` where the inner step is one step of ``w_tx`` itself
  (so ``xi`` is the current learning rate, with momentum, weight decay and clipping as in DARTS's
  ``_compute_unrolled_model``). The mixed second derivative ``d/dalpha <dL_train/dw, u>`` is, by
  default, Liu et al.'s central finite difference (``hessian="finite_difference"``, two more
  reverse-mode gradients at ``w -+ 0.01 dL_val/dw' / |dL_val/dw'|``, as DARTS's code); with
  ``hessian="exact"`` JAX differentiates through the inner step exactly, the mixed term a gradient
  of a forward-mode directional derivative (a larger, slower program: full-size NB201 on 2
  vCPUs, 414 s of XLA:CPU compile, 14.1 GB peak RSS and 11.4 s per step vs 247 s, 9.0 GB and
  8.8 s; tests check both against the exact derivative of the unrolled objective). NASLib
  implements only first order.

  Args:
    network: a cell supernet, e.g. NB201's (mode set to ``"mixed"`` here).
    epochs, steps_per_epoch: schedule length.
    second_order: unrolled (True) or first-order (False) hypergradient.
    hessian: ``"finite_difference"`` (DARTS's Eq. 8) or ``"exact"``; second order only.
    fd_radius: the finite difference's radius relative to ``|dL_val/dw'|`` (DARTS: 0.01).
    lr ... a_tx, spec: see the module doc.
    op_regulariser: optional ``op_weights f32[E, O] -> f32[]`` added to the validation loss on
      ``softmax(alpha)``, e.g. :func:`jaxnas.optimizers.oneshot.latency.cost_regulariser` (an
      expected-latency term); None: DARTS unchanged.

  Returns:
    A ``OneShotOptimizer``.

  References:
    Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    arch_lr, arch_weight_decay, w_tx, a_tx)
  return base.bilevel("darts", network.clone(mode="mixed"), epochs=epochs,
                      steps_per_epoch=steps_per_epoch, init_alphas=_small_normal(spec),
                      weights_fn=lambda key, a, tau: _softmax(a), probs_fn=_softmax,
                      second_order=second_order, w_tx=w_tx, a_tx=a_tx,
                      spec=spec, op_reg_fn=op_regulariser, hessian=hessian,
                      fd_radius=fd_radius)


def edge_normalisation(beta, spec=None):
  """``f32[E]``: softmax of ``beta`` among the edges sharing a target node (PC-DARTS Eq. 4); the
  targets are ``spec``'s (default NB201's)."""
  return base.resolve_spec(None, spec).edge_normalisation(beta)


def pc_darts(network, *, epochs: int, steps_per_epoch: int, partial_channels: int = 4,
             lr: float = 0.025, lr_min: float = 0.001, momentum: float = 0.9,
             weight_decay: float = 3e-4, grad_clip: float = 5.0, arch_lr: float = 3e-4,
             arch_weight_decay: float = 1e-3, w_tx=None, a_tx=None, spec=None) -> base.OneShotOptimizer:
  """PC-DARTS: DARTS on ``1/K`` of the channels of every edge, with edge normalisation.

  Only the first ``C/K`` channels of each edge go through the MixedOp (the rest bypass it, then a
  channel shuffle); each edge's output is scaled by ``softmax(beta)`` over the edges entering the
  same node. The MixedOp is linear in its op weights, so the normalisation is folded into them:
  ``op_weights[k] = edge_norm(beta)[k] * softmax(alpha[k])``. In NB201 every edge is kept, so the
  discretization is the argmax of ``alpha`` per edge (a positive edge factor does not change it).
  In a space whose spec ``selects_edges`` (the DARTS space: two edges per node) the
  discretization and ``op_weights`` use those beta-weighted op weights, as PC-DARTS's genotype.
  The edges into each node come from the spec's edge targets.

  Args:
    network: a cell supernet (``partial_channels`` set here; ``C`` must be divisible by it).
    partial_channels: ``K`` (paper: 4).
    others: as :func:`darts` (first order, as PC-DARTS).

  References:
    Xu et al., "PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture Search",
    ICLR 2020.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  k = int(partial_channels)
  if k < 1 or network.C % k:
    raise ValueError(f"partial_channels={k} must be >= 1 and divide the supernet's C="
                     f"{network.C}")
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    arch_lr, arch_weight_decay, w_tx, a_tx)

  def init_alphas(key):
    ka, kb = jax.random.split(key)
    return {"alpha": 1e-3 * jax.random.normal(ka, spec.alpha_shape),
            "beta": 1e-3 * jax.random.normal(kb, (spec.num_edges,))}

  def weights(key, a, tau):
    return spec.edge_normalisation(a["beta"])[:, None] * jax.nn.softmax(a["alpha"], -1)

  # spaces whose discretization selects edges by strength (the DARTS space's top-2 per node):
  # PC-DARTS's genotype ranks edges by softmax(alpha) x edge_norm(beta) (its ``_parse(weights,
  # weights2)``); the NB201-style spaces keep every edge, so their op distribution stays
  # softmax(alpha) (the same argmax, and the op weights they log are unchanged).
  edge_selecting = bool(getattr(spec, "selects_edges", False))
  return base.bilevel("pcdarts", network.clone(mode="mixed", partial_channels=k), epochs=epochs,
                      steps_per_epoch=steps_per_epoch, init_alphas=init_alphas,
                      weights_fn=weights,
                      probs_fn=(lambda a: weights(None, a, None)) if edge_selecting else _softmax,
                      w_tx=w_tx, a_tx=a_tx, spec=spec)


# ----------------------------------------------------------------------------- GDAS, SNAS


def _gumbel_probs(key, alpha, tau):
  logits = (jax.nn.log_softmax(alpha, -1) + jax.random.gumbel(key, alpha.shape)) / tau
  return jax.nn.softmax(logits, -1)


def gumbel_hard(key, alpha, tau):
  """GDAS's sample: the one-hot argmax of a Gumbel-softmax draw, with straight-through gradients
  (``hard - stop_gradient(probs) + probs``), ``f32[6, 5]``."""
  probs = _gumbel_probs(key, alpha, tau)
  hard = jax.nn.one_hot(jnp.argmax(probs, -1), alpha.shape[-1], dtype=probs.dtype)
  return hard - jax.lax.stop_gradient(probs) + probs


def gdas(network, *, epochs: int, steps_per_epoch: int, tau_max: float = 10.0,
         tau_min: float = 0.1, lr: float = 0.025, lr_min: float = 0.001, momentum: float = 0.9,
         weight_decay: float = 3e-4, grad_clip: float = 5.0, arch_lr: float = 3e-4,
         arch_weight_decay: float = 1e-3, w_tx=None, a_tx=None, spec=None,
         op_regulariser=None, sample_only: bool | None = None) -> base.OneShotOptimizer:
  """GDAS: one op per edge sampled by hard Gumbel-softmax, straight-through gradients.

  The supernet runs in ``"hard"`` mode: only the sampled op is computed, scaled by its live
  weight, plus GDAS's sum of the other (zero-valued, gradient-carrying) weights.
  ``sample_only`` (supernets that support it, e.g. NB201's; ``None``: on wherever supported)
  runs just each edge's sampled op through a ``lax.switch``, as NASLib; ``False`` runs the
  stacked one-conv form (every edge pays a 3x3 conv, the pooling and the skip term). Same values
  and gradients to float rounding; sample-only is faster (docs/oneshot_performance.md, GDAS
  section). A new sample is
  drawn for the alpha pass and for the weight pass. ``tau`` anneals linearly per epoch from
  ``tau_max`` to ``tau_min`` (10 -> 0.1 as in AutoDL-Projects / NASLib). ``op_regulariser``
  (optional ``op_weights -> f32[]``, e.g. an expected-latency term) is added to the validation
  loss on the validation pass's hard sample (straight-through gradients to the probabilities).

  References:
    Dong & Yang, "Searching for A Robust Neural Architecture in Four GPU Hours", CVPR 2019.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    arch_lr, arch_weight_decay, w_tx, a_tx)
  return base.bilevel("gdas", network.clone(mode="hard", **_sample_only(network, sample_only)),
                      epochs=epochs,
                      steps_per_epoch=steps_per_epoch, init_alphas=_small_normal(spec),
                      weights_fn=lambda key, a, tau: gumbel_hard(key, a["alpha"], tau),
                      probs_fn=_softmax,
                      tau_fn=base.linear_tau(tau_max, tau_min, epochs, steps_per_epoch),
                      w_tx=w_tx, a_tx=a_tx,
                      spec=spec, op_reg_fn=op_regulariser)


def snas(network, *, epochs: int, steps_per_epoch: int, tau_max: float = 1.0,
         tau_min: float = 0.33, lr: float = 0.025, lr_min: float = 0.001, momentum: float = 0.9,
         weight_decay: float = 3e-4, grad_clip: float = 5.0, arch_lr: float = 3e-4,
         arch_weight_decay: float = 1e-3, w_tx=None, a_tx=None, spec=None) -> base.OneShotOptimizer:
  """SNAS: op weights are a relaxed (soft) Gumbel-softmax sample of the alphas at temperature
  ``tau``; the supernet mixes all ops with them. ``tau`` anneals linearly per epoch from 1.0 to
  0.33 (the paper starts at 1 and anneals, without giving the rate; 0.33 is confopt's default).
  The resource-constraint term of SNAS is not included.

  References:
    Xie, Zheng, Liu & Lin, "SNAS: Stochastic Neural Architecture Search", ICLR 2019.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    arch_lr, arch_weight_decay, w_tx, a_tx)
  return base.bilevel("snas", network.clone(mode="mixed"), epochs=epochs,
                      steps_per_epoch=steps_per_epoch, init_alphas=_small_normal(spec),
                      weights_fn=lambda key, a, tau: _gumbel_probs(key, a["alpha"], tau),
                      probs_fn=_softmax,
                      tau_fn=base.linear_tau(tau_max, tau_min, epochs, steps_per_epoch),
                      w_tx=w_tx, a_tx=a_tx,
                      spec=spec)


# ----------------------------------------------------------------------------- DrNAS


def dirichlet_kl(c, p):
  """``KL(Dir(c) || Dir(p))`` over the last axis, ``f32[...]``."""
  c0, p0 = jnp.sum(c, -1), jnp.sum(p, -1)
  return (gammaln(c0) - jnp.sum(gammaln(c), -1) - gammaln(p0) + jnp.sum(gammaln(p), -1)
          + jnp.sum((c - p) * (digamma(c) - digamma(c0)[..., None]), -1))


def concentration(alpha):
  """DrNAS's Dirichlet concentration ``elu(alpha) + 1`` (positive, ~1 at init)."""
  return jax.nn.elu(alpha) + 1.0


def drnas(network, *, epochs: int, steps_per_epoch: int, reg_scale: float = 1e-3,
          prior: float = 1.0, lr: float = 0.025, lr_min: float = 0.001, momentum: float = 0.9,
          weight_decay: float = 3e-4, grad_clip: float = 5.0, arch_lr: float = 3e-4,
          arch_weight_decay: float = 1e-3, w_tx=None, a_tx=None, spec=None) -> base.OneShotOptimizer:
  """DrNAS: op weights are a Dirichlet sample with concentration ``elu(alpha) + 1``.

  Sampling is reparameterised (JAX's gamma sampler has implicit-reparameterisation gradients),
  so the validation loss is differentiable in alpha; the validation objective adds
  ``reg_scale * sum_edges KL(Dir(concentration) || Dir(prior))`` (the official code's ``kl``
  regulariser, anchor ``Dir(1)``, scale 1e-3). Discretization: argmax of the Dirichlet mean (=
  argmax of alpha, as NASLib). The progressive-growing variant is not included.

  References:
    Chen, Wang, Cheng, Tang & Hsieh, "DrNAS: Dirichlet Neural Architecture Search", ICLR 2021.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    arch_lr, arch_weight_decay, w_tx, a_tx)

  def weights(key, a, tau):
    return jax.random.dirichlet(key, concentration(a["alpha"]))

  def reg(a):
    c = concentration(a["alpha"])
    return reg_scale * jnp.sum(dirichlet_kl(c, jnp.full_like(c, prior)))

  def probs(a):
    c = concentration(a["alpha"])
    return c / jnp.sum(c, -1, keepdims=True)

  return base.bilevel("drnas", network.clone(mode="mixed"), epochs=epochs,
                      steps_per_epoch=steps_per_epoch, init_alphas=_small_normal(spec),
                      weights_fn=weights, probs_fn=probs, reg_fn=reg, w_tx=w_tx, a_tx=a_tx,
                      spec=spec)


# ----------------------------------------------------------------------------- RandomNAS, OneShot


def sample_valid_ops(key) -> jax.Array:
  """A uniform NASLib-valid NB201 cell (NASLib's ``sample_random_architecture``), ``int32[6]``:
  NB201's supernet path sampler (``jaxnas.nn.supernet_spec("nasbench201").sample_ops``)."""
  return base.resolve_spec(None).sample_ops(key)


def rsws(network, *, epochs: int, steps_per_epoch: int, lr: float = 0.025,
         lr_min: float = 0.001, momentum: float = 0.9, weight_decay: float = 3e-4,
         grad_clip: float = 5.0, w_tx=None, spec=None,
         sample_only: bool | None = None) -> base.OneShotOptimizer:
  """Random search with weight sharing: each step trains the path of one uniformly sampled
  architecture (supernet in ``"select"`` mode; ``sample_only``, default ``None`` = on wherever
  supported: only the sampled op of each edge runs, see :func:`gdas`; ``False``: one stacked conv
  per edge; scoring keeps the stacked form). Alphas are not used; the pick
  comes from scoring sampled architectures with the shared weights (``score``, done by the
  driver after each epoch), stored in ``state.best`` and returned by ``discretize``. The logged
  validation pass runs another independently sampled architecture.

  References:
    Li & Talwalkar, "Random Search and Reproducibility for Neural Architecture Search", UAI 2019.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    3e-4, 1e-3, w_tx, None)
  return base.bilevel("rsws", network.clone(mode="select", **_sample_only(network, sample_only)),
                      epochs=epochs,
                      steps_per_epoch=steps_per_epoch,
                      init_alphas=lambda key: {"alpha": jnp.zeros(spec.alpha_shape)},
                      weights_fn=lambda key, a, tau: jax.nn.one_hot(spec.sample_ops(key),
                                                                    spec.num_ops),
                      probs_fn=_softmax, train_alphas=False, w_tx=w_tx, a_tx=a_tx,
                      discretize_from_best=True,
                      spec=spec)


def oneshot(network, *, epochs: int, steps_per_epoch: int, lr: float = 0.025,
            lr_min: float = 0.001, momentum: float = 0.9, weight_decay: float = 3e-4,
            grad_clip: float = 5.0, w_tx=None, spec=None) -> base.OneShotOptimizer:
  """One-shot model training: every edge sums all its ops (op weights all 1, as NASLib's
  ``OneShotNASOptimizer``), so every path is trained at every step; afterwards the supernet is a
  performance predictor: ``score`` runs it with one-hot weights per architecture and the best
  scored architecture is the pick (``state.best``). Path dropout (Bender et al. Sec. 3.1) is not
  included.

  References:
    Bender, Kindermans, Zoph, Vasudevan & Le, "Understanding and Simplifying One-Shot
    Architecture Search", ICML 2018.
  """
  _check(network, epochs, steps_per_epoch)
  spec = base.resolve_spec(network, spec)
  w_tx, a_tx = _txs(epochs, steps_per_epoch, lr, lr_min, momentum, weight_decay, grad_clip,
                    3e-4, 1e-3, w_tx, None)
  return base.bilevel("oneshot", network.clone(mode="mixed"), epochs=epochs,
                      steps_per_epoch=steps_per_epoch,
                      init_alphas=lambda key: {"alpha": jnp.ones(spec.alpha_shape)},
                      weights_fn=lambda key, a, tau: a["alpha"], probs_fn=_softmax,
                      train_alphas=False, w_tx=w_tx, a_tx=a_tx, discretize_from_best=True,
                      spec=spec)
