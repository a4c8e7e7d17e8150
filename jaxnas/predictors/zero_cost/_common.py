"""Shared machinery of the zero-cost proxies: the network protocol, batch checks, forward passes
that read the ``jaxnas.nn.probes`` collections, the "which parts of the network are used" mask and
the finite-value convention.

The network protocol (what every proxy needs from a network):

* ``apply_fn(variables, x, *, train: bool, mutable: list[str])`` is Flax's ``module.apply`` (or a
  ``functools.partial`` of it that fixes e.g. an architecture). It returns ``(logits, state)`` with
  ``logits: f32[N, num_classes]`` (Flax's convention when ``mutable`` is non-empty). With
  ``train=True`` BatchNorm must use batch statistics (``use_running_average=not train``) and the
  call must need no RNGs (no dropout), since proxies pass none.
* ``variables`` holds ``"params"`` and optionally ``"batch_stats"``. Conv/Dense weights are the
  leaves named ``"kernel"`` (Flax's naming); these are the "prunable weights" that NASLib's
  per-weight measures sum over (its ``Conv2d``/``Linear`` ``.weight``).
* The network marks post-ReLU activations with ``probes.act`` (NWOT, Fisher) and the
  pre-global-pooling feature map with ``probes.features`` (Zen). BatchNorm layers keep running
  statistics as ``batch_stats`` leaves ``mean``/``var`` and use them when ``train=False`` (Flax's
  ``BatchNorm``, ``jaxnas.nn.layers.BatchNorm``): SynFlow neutralises them, Zen reads the batch
  variance from their update. Nothing depends on module classes, so BatchNorm computed inline by a
  supernet works too.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxnas.nn import probes

ApplyFn = Callable[..., Any]
Batch = tuple[jax.Array, jax.Array]

# The value of a score that is undefined or -inf (singular NWOT kernel, constant Jacobians, a
# network whose output ignores its input). It is the lowest float32 so the architecture ranks last,
# which is where every such NB201 cell belongs (it trains to chance accuracy). NASLib maps NaN/inf
# to -1e8 instead; any value below every real score ranks the same.
SENTINEL = float(np.finfo(np.float32).min)
_F32_MAX = float(np.finfo(np.float32).max)



def finite(x: jax.Array) -> jax.Array:
  """Casts a score to ``f32[]``: NaN and -inf become ``SENTINEL``, +inf the largest float32."""
  x = jnp.asarray(x)
  x = jnp.where(jnp.isnan(x), -jnp.inf, x)
  x = jnp.clip(x, SENTINEL, _F32_MAX)
  return x.astype(jnp.float32)


def check_batch(batch, min_size: int = 1) -> Batch:
  """Validates ``batch = (images f[N, H, W, C], labels int[N])``; raises a one-line ValueError."""
  if not isinstance(batch, (tuple, list)) or len(batch) != 2:
    raise ValueError("a zero-cost batch is a pair (images [N, H, W, C], integer labels [N]), got "
                     f"{type(batch).__name__}")
  x, y = batch
  x_shape, y_shape = tuple(np.shape(x)), tuple(np.shape(y))
  if len(x_shape) != 4:
    raise ValueError(f"zero-cost images must be NHWC (rank 4), got shape {x_shape}")
  if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
    raise ValueError(f"zero-cost images must be floating point, got dtype {jnp.result_type(x)}")
  if len(y_shape) != 1 or y_shape[0] != x_shape[0]:
    raise ValueError(f"zero-cost labels must be int[N] with N = {x_shape[0]} images, got shape "
                     f"{y_shape}")
  if not jnp.issubdtype(jnp.result_type(y), jnp.integer):
    raise ValueError(f"zero-cost labels must be integers, got dtype {jnp.result_type(y)}")
  if x_shape[0] < min_size:
    raise ValueError(f"this zero-cost proxy needs a batch of at least {min_size} images, got "
                     f"{x_shape[0]}")
  return x, y


def network_variables(variables) -> dict:
  """The collections a proxy passes to the network: ``params`` and ``batch_stats`` only.

  ``module.init`` also returns ``perturbations`` and ``intermediates`` (from the probes) sized for
  its example batch; passed back in, a stale perturbation would be added to the activations.
  """
  if "params" not in variables:
    raise ValueError(f"zero-cost proxies need variables with a 'params' collection, got "
                     f"{sorted(variables)}")
  return {k: v for k, v in variables.items() if k in ("params", "batch_stats")}


def check_fits(apply_fn: ApplyFn, variables, x) -> None:
  """Traces (no compute) one forward pass; a shape error becomes a ValueError naming the batch."""
  try:
    out = jax.eval_shape(lambda v, i: forward(apply_fn, v, i, train=True)[0], variables, x)
  except Exception as e:  # pylint: disable=broad-except
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise ValueError(f"images of shape {tuple(np.shape(x))} do not fit the network (wrong image "
                     f"size or channel count?): {msg}") from e
  if len(out.shape) != 2 or out.shape[0] != np.shape(x)[0]:
    raise ValueError(f"the network must return logits [N, num_classes], got shape {out.shape}")


# ----------------------------------------------------------------------------- forward passes


def forward(apply_fn: ApplyFn, variables, x, *, train: bool, collections=()) -> tuple[Any, dict]:
  """One forward pass; returns ``(logits, state)`` with the requested mutable ``collections``.

  ``batch_stats`` is always mutable so that ``train=True`` BatchNorm works; its update is dropped
  (proxies never change the network).
  """
  mutable = sorted(set(collections) | {"batch_stats"})
  logits, state = apply_fn(variables, x, train=train, mutable=mutable)
  return logits, dict(state)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy (PyTorch's ``F.cross_entropy``, NASLib's loss)."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1))


def _flat(tree) -> dict:
  return traverse_util.flatten_dict(dict(tree)) if tree else {}


def activations(state: dict) -> dict:
  """The ``probes.act`` activations of a forward pass run with ``collections`` including both
  ``intermediates`` and ``perturbations``: ``{path: f[N, ...]}``.

  A probe point is recognised by its ``perturbations`` entry (only ``probes.act`` makes one), so
  other sown values (``probes.features``, anything the network sows for itself) are never mistaken
  for ReLU outputs.
  """
  inter = _flat(state.get("intermediates", {}))
  return {k: single_call(k, inter[k]) for k in _flat(state.get("perturbations", {})) if k in inter}


def single_call(path: tuple, sown: tuple) -> jax.Array:
  """The one value sown at ``path``; a probe name used twice in a module is an error (its two
  calls would share one Flax perturbation, mixing their gradients)."""
  if len(sown) != 1:
    raise ValueError(f"probes.act point {'/'.join(path)} was called {len(sown)} times in one "
                     "forward pass; give each call its own name (probes.act(self, x, name))")
  return sown[0]


def features(state: dict) -> jax.Array:
  """The ``probes.features`` map of a forward pass run with ``intermediates`` mutable."""
  found = [v[-1] for k, v in _flat(state.get("intermediates", {})).items()
           if k[-1] == probes.FEATURES]
  if len(found) != 1:
    raise ValueError(f"Zen needs exactly one probes.features(...) call in the network, found "
                     f"{len(found)}")
  return found[0]


def is_kernel(path: tuple) -> bool:
  """True for Conv/Dense weights (Flax leaf name ``kernel``)."""
  return path[-1] == "kernel"


def kernel_leaves(params) -> dict:
  """``{path: kernel}`` for every Conv/Dense weight in ``params``."""
  return {k: v for k, v in _flat(params).items() if is_kernel(k)}


def neutral_stats(variables) -> dict:
  """``variables`` with every BatchNorm running mean set to 0 and variance to 1.

  Evaluated with ``train=False``, a BatchNorm is then the affine map ``x * scale / sqrt(1 + eps) +
  bias``: at initialisation (scale 1, bias 0) the identity up to ``(1 + eps)^-1/2``. This works
  for any BatchNorm that reads ``batch_stats`` ``mean``/``var`` in eval mode, including one
  computed inline by a supernet (NB201's ``MixedOp``), where no module call could be
  intercepted.
  """
  if "batch_stats" not in variables:
    return dict(variables)
  stats = traverse_util.unflatten_dict({
      k: (jnp.ones_like(v) if k[-1] == "var" else jnp.zeros_like(v))
      for k, v in _flat(variables["batch_stats"]).items()})
  return {**variables, "batch_stats": stats}


def batchnorm_batch_variances(apply_fn: ApplyFn, variables, x) -> dict:
  """Per-channel batch variance at the input of every BatchNorm in a train-mode pass on ``x``:
  ``{module path: (f32[C], bool[])}``, the bool telling whether the layer ran (updated its
  running statistics) at all.

  Read from the running statistics, so it works for any BatchNorm that tracks them (Flax's, the
  PyTorch-style ``jaxnas.nn.layers.BatchNorm``, a supernet's inline one): with running variance
  ``v`` the update is ``v' = v + c * (b - v)`` for the batch variance ``b`` and an unknown weight
  ``c`` (momentum, times the op weight in a supernet). Two passes, from ``v = 0`` and ``v = 1``,
  give ``c = 1 - (v'_1 - v'_0)`` and ``b = v'_0 / c``. (PyTorch-style layers store the unbiased
  variance, larger by ``n / (n - 1)`` with ``n = N * H * W``.) Layers without running statistics
  are not seen.
  """
  if "batch_stats" not in variables:
    return {}
  flat = _flat(variables["batch_stats"])

  def run(value):
    stats = traverse_util.unflatten_dict({
        k: (jnp.full_like(v, value) if k[-1] == "var" else jnp.zeros_like(v))
        for k, v in flat.items()})
    _, st = forward(apply_fn, {**variables, "batch_stats": stats}, x, train=True)
    return _flat(st.get("batch_stats", {}))

  after0, after1 = run(0.0), run(1.0)
  out = {}
  for k in flat:
    if k[-1] != "var" or k not in after0:
      continue
    weight = 1.0 - (after1[k] - after0[k])  # [C], the same c for every channel
    ran = jnp.all(weight > 1e-6)
    out[k[:-1]] = (after0[k] / jnp.where(ran, weight, 1.0), ran)
  return out


# ----------------------------------------------------------------------------- used parts


def usage(apply_fn: ApplyFn, variables, image_shape: tuple[int, ...]) -> tuple[dict, dict]:
  """Which parameter leaves and ``probes.act`` points the architecture instantiates.

  This is what makes ``params``, ``flops``, ``l2_norm`` and ``nwot`` depend on the architecture of
  a supernet whose op choice is an input (shared params for every op; an op that is not chosen
  must enter with a zero weight *before* its parameters act, e.g. ``conv(x, w * kernel)`` as in
  NB201's ``MixedOp(mode="select")``), while a discrete network counts in full, like
  NB201/NASLib count its modules (also an op whose node never reaches the output, and the cells
  after an all-``none`` cell).

  The test is one backward pass through a *positive*, *always-alive* copy of the network: kernels
  ``1/fan_in``, other params ``|p|``, biases 0, BatchNorm in eval mode with mean 0 / var 1, an
  all-ones input of batch 1, and every module call's first argument (its input activation) shifted
  by +1, so that no module ever sees an all-zero input. A leaf counts when the gradient of the sum
  of every module call's output (the logits included) w.r.t. it is non-zero: all terms are
  non-negative, so no cancellation can hide a dependence, and the gradient is exactly 0 only when
  the leaf is multiplied by a zero op weight. ``1/fan_in`` keeps each layer's gain near 1, so
  float32 does not overflow on deep networks.

  Returns:
    ``(params, points)``: ``{param path: bool[]}`` and ``{probes.act path: bool[]}``.
  """

  def positive(path, p):
    if path[-1] == "kernel":
      fan_in = max(1, p.size // max(1, p.shape[-1]))
      return jnp.full_like(p, 1.0 / fan_in)
    if path[-1] == "bias":
      return jnp.zeros_like(p)
    if path[-1] == "scale":
      return jnp.ones_like(p)
    return jnp.abs(p)

  params = traverse_util.unflatten_dict(
      {k: positive(k, v) for k, v in _flat(variables["params"]).items()})
  base = neutral_stats({k: v for k, v in variables.items() if k in ("params", "batch_stats")})
  base["params"] = params
  x = jnp.ones((1,) + tuple(image_shape[1:]), jnp.float32)
  _, st0 = forward(apply_fn, base, x, train=False, collections=("perturbations",))
  perts = st0.get("perturbations", {})

  def total(params, perts):
    outputs = []

    def alive(next_fun, args, kwargs, context):
      del context
      if args and _is_float_array(args[0]) and args[0].ndim >= 1:
        args = (args[0] + 1.0,) + tuple(args[1:])
      out = next_fun(*args, **kwargs)
      outputs.extend(jnp.sum(o) for o in jax.tree.leaves(out) if _is_float_array(o))
      return out

    with nn.intercept_methods(alive):
      logits, _ = forward(apply_fn, {**base, "params": params, "perturbations": perts}, x,
                          train=False)
    return jnp.sum(logits) + sum(outputs, jnp.float32(0.0))

  gp, ga = jax.grad(total, argnums=(0, 1))(params, perts)
  used_p = {k: jnp.any(g != 0) for k, g in _flat(gp).items()}
  used_a = {k: jnp.any(g != 0) for k, g in _flat(ga).items()}
  return used_p, used_a


def _is_float_array(v) -> bool:
  return hasattr(v, "dtype") and hasattr(v, "ndim") and jnp.issubdtype(v.dtype, jnp.floating)


def kernel_macs(apply_fn: ApplyFn, variables, image_shape: tuple[int, ...]) -> dict:
  """Multiply-accumulates per image of every module call that owns a ``kernel`` parameter (Flax
  or ``jaxnas.nn.layers`` Conv/Dense): ``{kernel path: int}``, static Python ints read from shapes
  while tracing.

  NATS-Bench's convention (``jaxnas.nn.counting.count_flops``): a call contributes ``positions *
  kernel.size`` plus ``positions * bias.size`` when the module also owns a ``bias``, where
  ``positions`` is the number of output positions (``H_out * W_out`` for a convolution, 1 for a
  dense layer on ``[N, D]``); i.e. ``H_out W_out k k C_in/groups C_out`` and ``D_in D_out + D_out``.
  """
  macs: dict[tuple, int] = {}

  def count(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    mod = context.module
    if (context.method_name == "__call__" and hasattr(out, "shape")
        and mod.has_variable("params", "kernel")):
      positions = int(np.prod(out.shape[1:-1])) if len(out.shape) > 1 else 1
      size = int(np.prod(mod.get_variable("params", "kernel").shape))
      if mod.has_variable("params", "bias"):
        size += int(np.prod(mod.get_variable("params", "bias").shape))
      key = tuple(mod.scope.path) + ("kernel",)
      macs[key] = macs.get(key, 0) + positions * size
    return out

  # A real (not eval_shape) pass, so that this also works under vmap with a traced op choice in
  # apply_fn's closure; its result is unused, so XLA removes the computation.
  x = jnp.zeros((1,) + tuple(image_shape[1:]), jnp.float32)
  with nn.intercept_methods(count):
    forward(apply_fn, variables, x, train=False)
  return macs


def offsets_are_zero(params) -> bool:
  """True when every bias before the classifier is 0: a SynFlow tangent (absolute weights, all-ones
  input, neutral BatchNorm) is then linear in the input, so a scaled float32 input is exact in
  log space."""
  flat = traverse_util.flatten_dict(params)
  return all(not np.any(np.asarray(v)) for p, v in flat.items()
             if p[-1] == "bias" and p[:2] != ("head", "classifier"))
