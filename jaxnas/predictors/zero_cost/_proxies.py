"""The 13 zero-cost proxies of NASLib, each ``fn(key, apply_fn, variables, batch) -> f32[]``.

Conventions shared by all of them (see ``_common`` for the network protocol):

* higher is better for every proxy (as in NASLib, which negates GraSP and JacCov for this);
* "weights" ``theta`` are the Conv/Dense kernels (NASLib sums its per-weight measures over
  ``Conv2d``/``Linear`` weights only; biases and BatchNorm affine parameters are excluded);
* the loss is mean softmax cross-entropy, and gradient/activation proxies run the network in train
  mode (BatchNorm on batch statistics), as NASLib's copies of the network do;
* every result is finite: an undefined or -inf score becomes ``SENTINEL`` (lowest float32), see
  each docstring for when that happens;
* ``key`` is used only by ``zen`` (random input and weights); the others are deterministic.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from . import _common as c

_JACOV_K = 1e-5  # Mellor et al. (v1) regulariser of the eigenvalues
_EPE_K = 1e-5  # Lopes et al. regulariser of |correlation|
_EPE_MANY_CLASSES = 100  # above this, EPE-NAS switches to its pairwise-difference form
_ZEN_ALPHA = 1e-2  # Zen-NAS perturbation scale


def _unflatten(flat: dict):
  return traverse_util.unflatten_dict(flat)


def _loss_fn(apply_fn, variables, x, y):
  """``kernels -> loss`` with every other variable fixed (train-mode BatchNorm)."""
  params = c._flat(variables["params"])  # pylint: disable=protected-access

  def loss(kernels):
    full = dict(params)
    full.update(kernels)
    logits, _ = c.forward(apply_fn, {**variables, "params": _unflatten(full)}, x, train=True)
    return c.cross_entropy(logits, y)

  return loss


def _kernel_grads(apply_fn, variables, x, y) -> tuple[dict, dict]:
  """``(kernels, dL/dkernels)`` as ``{path: array}`` dicts."""
  kernels = c.kernel_leaves(variables["params"])
  grads = jax.grad(_loss_fn(apply_fn, variables, x, y))(kernels)
  return kernels, grads


def _sum(values) -> jax.Array:
  return sum((jnp.asarray(v, jnp.float32) for v in values), jnp.float32(0.0))


# ----------------------------------------------------------------------------- gradient-based


def grad_norm(key, apply_fn, variables, batch) -> jax.Array:
  """Gradient norm (Abdelfattah et al., 2021): ``sum_l ||dL/dW_l||_2``.

  The Euclidean (Frobenius) norm of the loss gradient of each Conv/Dense kernel ``W_l``, summed
  over layers (not the global norm), as NASLib's ``grad_norm`` does.

  References:
    Abdelfattah, Mehrotra, Dudziak, Lane. Zero-Cost Proxies for Lightweight NAS. ICLR 2021.
  """
  del key
  x, y = c.check_batch(batch)
  variables = c.network_variables(variables)
  _, grads = _kernel_grads(apply_fn, variables, x, y)
  return c.finite(_sum(jnp.linalg.norm(g.ravel()) for g in grads.values()))


def snip(key, apply_fn, variables, batch) -> jax.Array:
  """SNIP connection sensitivity (Lee et al., 2019): ``sum |theta * dL/dtheta|``.

  Lee et al. define the saliency of a connection as ``|dL/dc|`` for a multiplicative mask ``c`` at
  ``c = 1``; since ``dL/dc = theta * dL/dtheta`` this is the same number without the mask. (Lee et
  al. normalise saliencies to sum to one for pruning; as in NASLib the network score is the
  unnormalised sum.)

  References:
    Lee, Ajanthan, Torr. SNIP: Single-shot Network Pruning based on Connection Sensitivity.
    ICLR 2019.
  """
  del key
  x, y = c.check_batch(batch)
  variables = c.network_variables(variables)
  kernels, grads = _kernel_grads(apply_fn, variables, x, y)
  return c.finite(_sum(jnp.sum(jnp.abs(kernels[k] * grads[k])) for k in kernels))


def plain(key, apply_fn, variables, batch) -> jax.Array:
  """Plain first-order saliency (Mozer & Smolensky, 1989; Abdelfattah et al., 2021):
  ``sum theta * dL/dtheta`` (signed; ``|plain| <= snip``).

  References:
    Mozer, Smolensky. Skeletonization: a technique for trimming the fat from a network via
    relevance assessment. NeurIPS 1989. Abdelfattah et al., ICLR 2021.
  """
  del key
  x, y = c.check_batch(batch)
  variables = c.network_variables(variables)
  kernels, grads = _kernel_grads(apply_fn, variables, x, y)
  return c.finite(_sum(jnp.sum(kernels[k] * grads[k]) for k in kernels))


def grasp(key, apply_fn, variables, batch) -> jax.Array:
  """GraSP (Wang et al., 2020): ``sum -theta * (H g)`` with ``g = dL/dtheta`` and ``H`` the Hessian
  of the loss, both over the Conv/Dense kernels.

  ``H g`` is one forward-over-reverse Hessian-vector product (NASLib differentiates
  ``g_detached . dL/dtheta`` a second time, the same quantity). Wang et al. prune the weights with
  the *largest* ``theta * Hg`` (removing them least reduces gradient flow); NASLib's sign, kept
  here, makes higher better (accuracy correlates negatively with ``sum theta * Hg``).

  References:
    Wang, Zhang, Grosse. Picking Winning Tickets Before Training by Preserving Gradient Flow.
    ICLR 2020.
  """
  del key
  x, y = c.check_batch(batch)
  variables = c.network_variables(variables)
  kernels = c.kernel_leaves(variables["params"])
  grad_fn = jax.grad(_loss_fn(apply_fn, variables, x, y))
  g = grad_fn(kernels)
  _, hg = jax.jvp(grad_fn, (kernels,), (jax.lax.stop_gradient(g),))
  return c.finite(_sum(jnp.sum(-kernels[k] * hg[k]) for k in kernels))


def fisher(key, apply_fn, variables, batch) -> jax.Array:
  """Fisher pruning saliency (Theis et al., 2018; Turner et al., 2020), summed over channels:
  ``sum_{a, c} 1/(2N) sum_n (sum_{h,w} a_nchw * dL/da_nchw)^2``.

  ``a`` ranges over the activations the network marks with ``probes.act`` (its post-ReLU maps, i.e.
  the feature maps a channel-pruning mask would multiply), ``dL/da`` comes from the Flax
  perturbation each probe registers. NASLib hooks the output of every ``Conv2d``/``Linear``
  instead (pre-BatchNorm); we follow the paper's pruned feature maps through the probe contract.

  References:
    Theis, Korshunova, Tejani, Huszar. Faster gaze prediction with dense networks and Fisher
    pruning. 2018. Turner, Crowley, O'Boyle, Storkey, Gray. BlockSwap. ICLR 2020.
  """
  del key
  x, y = c.check_batch(batch)
  variables = c.network_variables(variables)
  _, st = c.forward(apply_fn, variables, x, train=True, collections=("perturbations",))
  perts = st.get("perturbations", {})
  if not perts:
    raise ValueError("fisher needs activations marked with jaxnas.nn.probes.act in the network")

  def loss(perts):
    logits, st = c.forward(apply_fn, {**variables, "perturbations": perts}, x, train=True,
                           collections=("intermediates",))
    return c.cross_entropy(logits, y), st

  grads, st = jax.grad(loss, has_aux=True)(perts)
  inter = c._flat(st.get("intermediates", {}))  # pylint: disable=protected-access
  total = []
  for k, g in c._flat(grads).items():  # pylint: disable=protected-access
    a = c.single_call(k, inter[k])
    spatial = tuple(range(1, a.ndim - 1))
    per_channel = jnp.sum(a * g, axis=spatial) if spatial else a * g  # [N, C]
    total.append(jnp.sum(0.5 * jnp.mean(per_channel**2, axis=0)))
  return c.finite(_sum(total))


def synflow(key, apply_fn, variables, batch) -> jax.Array:
  """log SynFlow (Tanaka et al., 2020): ``log sum theta * dR/dtheta``, ``R = 1^T f(1; |theta|)``.

  Every parameter is replaced by its absolute value, the input is all ones with batch size 1,
  ``R`` is the sum of the logits, and the sum runs over the Conv/Dense kernels. BatchNorm is taken
  out of the computation as in NASLib's ``synflow`` measure (registered with ``bn=False``,
  following Abdelfattah et al.): here by evaluating it in eval mode with running mean 0 and
  variance 1 (``_common.neutral_stats``), which at initialisation (scale 1, bias 0) is NASLib's
  no-op BatchNorm up to a factor ``(1 + eps)^-1/2`` per layer (a log-score shift of ~2e-4 on
  NB201), and keeps ``|scale|``, ``|bias|`` for trained networks. A network whose BatchNorm tracks
  no running statistics would normalise the constant input instead.

  All of this runs in float64 (``jax.enable_x64`` scoped to this function; it also works inside
  an outer ``jit``/``vmap``), like NASLib's ``net.double()``: NB201 scores reach ~1e40 and more,
  beyond float32. The value returned is the natural log, which is what NASLib's ``ZeroCost``
  predictor reports for SynFlow (and what fits a float32). A network whose output does not depend
  on its input scores 0, log ``SENTINEL`` (NASLib returns 0 there, ranking such a network above
  every real one with SynFlow < 1). A network whose modules fix ``dtype=float32`` computes in
  float32 and may overflow (then the largest float32).

  References:
    Tanaka, Kunin, Yamins, Ganguli. Pruning neural networks without any data by iteratively
    conserving synaptic flow. NeurIPS 2020. Abdelfattah et al., ICLR 2021.
  """
  del key
  x, _ = c.check_batch(batch)
  variables = c.network_variables(variables)
  with jax.enable_x64(True):
    cast = lambda t: jax.tree.map(lambda p: jnp.abs(jnp.asarray(p)).astype(jnp.float64), t)
    others = {k: cast(v) for k, v in c.neutral_stats(variables).items() if k != "params"}
    params = cast(variables["params"])
    ones = jnp.ones((1,) + tuple(x.shape[1:]), jnp.float64)

    def r(params):
      logits, _ = c.forward(apply_fn, {**others, "params": params}, ones, train=False)
      return jnp.sum(logits.astype(jnp.float64))

    grads = c._flat(jax.grad(r)(params))  # pylint: disable=protected-access
    flat = c._flat(params)  # pylint: disable=protected-access
    total = sum((jnp.sum(flat[k] * grads[k]) for k in flat if c.is_kernel(k)),
                jnp.float64(0.0))
    out = jnp.log(total).astype(jnp.float32)  # leave the x64 scope in float32
  return c.finite(out)


# ----------------------------------------------------------------------------- activation-based


def nwot(key, apply_fn, variables, batch) -> jax.Array:
  """NASWOT (Mellor et al., 2021, v2): ``log |K_H|`` with ``K_H = sum_l C_l C_l^T +
  (1 - C_l)(1 - C_l)^T``.

  ``C_l`` is the binary code ``[a > 0]`` of the l-th ``probes.act`` activation, flattened per
  image (``N x D_l``); ``K_H[i, j]`` is the number of ReLUs on which images ``i`` and ``j`` agree
  (``N_A`` minus their Hamming distance). Summed over the probes the architecture instantiates
  (``_common.usage``: every one in a discrete network, as NASLib hooks every ReLU module; the
  chosen ops' in a supernet). ``K_H`` is accumulated in float32 (exact
  integers below 2**24 units) and ``log|det|`` taken in float64. A singular ``K_H`` (two images
  with identical codes, e.g. a network whose activations ignore the input) has log-determinant
  -inf, returned as ``SENTINEL``.

  References:
    Mellor, Turner, Storkey, Crowley. Neural Architecture Search without Training. ICML 2021.
  """
  del key
  x, _ = c.check_batch(batch, min_size=2)
  variables = c.network_variables(variables)
  _, st = c.forward(apply_fn, variables, x, train=True,
                    collections=("intermediates", "perturbations"))
  acts = c.activations(st)
  if not acts:
    raise ValueError("nwot needs activations marked with jaxnas.nn.probes.act in the network")
  _, used = c.usage(apply_fn, variables, x.shape)
  n = x.shape[0]
  k_h = jnp.zeros((n, n), jnp.float32)
  for path, a in acts.items():
    code = (a.reshape(n, -1) > 0).astype(jnp.float32)
    agree = code @ code.T + (1.0 - code) @ (1.0 - code).T
    k_h = k_h + jnp.where(used[path], agree, 0.0)
  with jax.enable_x64(True):
    _, logdet = jnp.linalg.slogdet(k_h.astype(jnp.float64))
    logdet = logdet.astype(jnp.float32)
  return c.finite(logdet)


def _input_jacobian(apply_fn, variables, x) -> jax.Array:
  """``d(sum of logits)/dx`` flattened per image: ``f32[N, H*W*C]`` (train-mode BatchNorm)."""

  def total(x):
    logits, _ = c.forward(apply_fn, variables, x, train=True)
    return jnp.sum(logits)

  return jax.grad(total)(x).reshape(x.shape[0], -1)


def _corrcoef(j: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Row correlation matrix in float64 (call under ``enable_x64``) and whether every row varies.

  Where a row is constant the correlation is undefined (NumPy gives NaN); the matrix returned then
  is the identity, and callers turn the score into ``SENTINEL``.
  """
  j = j.astype(jnp.float64)
  j = j - jnp.mean(j, axis=1, keepdims=True)
  cov = j @ j.T
  sd = jnp.sqrt(jnp.diag(cov))
  ok = jnp.all(sd > 0)
  safe = jnp.where(sd > 0, sd, 1.0)
  corr = cov / (safe[:, None] * safe[None, :])
  corr = jnp.where(ok, corr, jnp.eye(j.shape[0], dtype=j.dtype))
  return corr, ok


def jacov(key, apply_fn, variables, batch) -> jax.Array:
  """Jacobian covariance (Mellor et al., v1 2020): ``-sum_i [log(s_i + k) + 1/(s_i + k)]``.

  ``s_i`` are the eigenvalues of the correlation matrix of the per-image input Jacobians
  ``J_n = d(sum f(x))/dx_n`` over the batch, ``k = 1e-5``. The matrix is symmetric, so we use
  ``eigvalsh`` and clip round-off negatives to 0 (NASLib uses the general ``eig``). A constant
  Jacobian row (e.g. a network whose output ignores its input) has undefined correlation (NaN in
  NASLib, then -1e8): ``SENTINEL``.

  References:
    Mellor, Turner, Storkey, Crowley. Neural Architecture Search without Training. arXiv:2006.04647
    v1, 2020.
  """
  del key
  x, _ = c.check_batch(batch, min_size=2)
  variables = c.network_variables(variables)
  jac = _input_jacobian(apply_fn, variables, x)
  with jax.enable_x64(True):
    corr, ok = _corrcoef(jac)
    s = jnp.clip(jnp.linalg.eigvalsh(corr), 0.0, None)
    out = -jnp.sum(jnp.log(s + _JACOV_K) + 1.0 / (s + _JACOV_K))
    out = jnp.where(ok, out, -jnp.inf).astype(jnp.float32)
  return c.finite(out)


def epe_nas(key, apply_fn, variables, batch) -> jax.Array:
  """EPE-NAS (Lopes et al., 2021): per-class Jacobian correlation.

  For each class ``c`` present in the batch, ``e_c = sum_{i,j in c} log(|Sigma_c[i, j]| + k)``
  with ``Sigma_c`` the correlation matrix of the input Jacobians (as in :func:`jacov`) of that
  class's images and ``k = 1e-5``. With at most 100 classes the score is ``sum_c |e_c|``; with
  more, ``e_c`` is divided by the class size and the score is
  ``sum_{c, c'} |e_c - e_c'| / (number of classes present)``. The number of classes is the logit
  width. A class with a single image has ``Sigma_c = [1]`` (NASLib skips such classes in the
  many-class form only, by an exception). Constant Jacobian rows: ``SENTINEL``.

  References:
    Lopes, Alirezazadeh, Alexandre. EPE-NAS: Efficient Performance Estimation Without Training for
    Neural Architecture Search. ICANN 2021.
  """
  del key
  x, y = c.check_batch(batch, min_size=2)
  variables = c.network_variables(variables)
  jac = _input_jacobian(apply_fn, variables, x)
  logits = jax.eval_shape(lambda: c.forward(apply_fn, variables, x, train=True)[0])
  num_classes = logits.shape[-1]
  with jax.enable_x64(True):
    corr, ok = _corrcoef(jac)
    log_corr = jnp.log(jnp.abs(corr) + _EPE_K)
    member = jax.nn.one_hot(y, num_classes, dtype=jnp.float64)  # [N, K]
    e = jnp.einsum("ik,ij,jk->k", member, log_corr, member)  # [K]
    size = jnp.sum(member, axis=0)
    present = size > 0
    if num_classes <= _EPE_MANY_CLASSES:
      out = jnp.sum(jnp.abs(e))
    else:
      e = e / jnp.where(present, size, 1.0)
      pair = present[:, None] & present[None, :]
      diff = jnp.where(pair, jnp.abs(e[:, None] - e[None, :]), 0.0)
      out = jnp.sum(diff) / jnp.maximum(jnp.sum(present), 1)
    out = jnp.where(ok, out, -jnp.inf).astype(jnp.float32)
  return c.finite(out)


def zen(key, apply_fn, variables, batch) -> jax.Array:
  """Zen-score (Lin et al., 2021): ``log E||f(x) - f(x + alpha eps)||_F + sum_i log sigma_i``.

  The weights are re-drawn (Conv/Dense kernels ``N(0, 1)``, biases 0, BatchNorm scale 1), the
  input ``x`` and the perturbation ``eps`` are standard Gaussian of the batch's shape,
  ``alpha = 0.01``, ``f`` is the pre-global-pooling feature map (``probes.features``), and the
  expectation is the mean over the batch of each image's Frobenius norm (the paper's definition;
  the official code and NASLib use the sum of absolute values). BatchNorm runs in train mode, and
  ``sigma_i = sqrt(mean_j var_ij)`` with ``var_ij`` the batch variance of channel ``j`` at the
  input of the i-th BatchNorm in the pass on ``x`` (the paper's definition; the code reads
  ``running_var`` after both passes, i.e. ``0.9 + 0.1 var`` mixes). Only BatchNorms that ran
  (updated their statistics) and that the architecture instantiates count (``_common.usage`` of
  their ``scale``): every one in a discrete network, the chosen ops' in a supernet.
  The data batch supplies only its shape. A zero feature difference or variance: ``SENTINEL``.

  References:
    Lin, Wang, Sun, Chen, Sun, Qian, Li, Jin. Zen-NAS: A Zero-Shot NAS for High-Performance Image
    Recognition. ICCV 2021.
  """
  images, _ = c.check_batch(batch)
  variables = c.network_variables(variables)
  flat = c._flat(variables["params"])  # pylint: disable=protected-access
  kernels = sorted(k for k in flat if c.is_kernel(k))
  # One Gaussian draw for the kernels, x and eps (one threefry call compiles much faster on CPU
  # than one per leaf).
  sizes = [flat[k].size for k in kernels] + [images.size, images.size]
  draw = jax.random.normal(key, (sum(sizes),), jnp.float32)
  parts = jnp.split(draw, np.cumsum(sizes)[:-1])
  fresh = {}
  for path, p in flat.items():
    if path[-1] == "bias":
      fresh[path] = jnp.zeros_like(p)
    elif path[-1] == "scale":
      fresh[path] = jnp.ones_like(p)
    else:
      fresh[path] = p
  for path, part in zip(kernels, parts):
    fresh[path] = part.reshape(flat[path].shape).astype(flat[path].dtype)
  v = {**variables, "params": _unflatten(fresh)}
  x = parts[-2].reshape(images.shape)
  eps = parts[-1].reshape(images.shape)
  _, st = c.forward(apply_fn, v, x, train=True, collections=("intermediates",))
  _, st_mix = c.forward(apply_fn, v, x + _ZEN_ALPHA * eps, train=True,
                        collections=("intermediates",))
  diff = (c.features(st) - c.features(st_mix)).reshape(x.shape[0], -1)
  delta = jnp.mean(jnp.sqrt(jnp.sum(diff.astype(jnp.float32)**2, axis=1)))
  used, _ = c.usage(apply_fn, v, images.shape)
  log_sigma = []
  for path, (var, ran) in c.batchnorm_batch_variances(apply_fn, v, x).items():
    counts = ran & used.get(path + ("scale",), True)
    log_sigma.append(jnp.where(counts, 0.5 * jnp.log(jnp.mean(var)), 0.0))
  return c.finite(jnp.log(delta) + _sum(log_sigma))


# ----------------------------------------------------------------------------- size-based


def params(key, apply_fn, variables, batch) -> jax.Array:
  """Parameter count in millions (NASLib's ``params``, NB201's ``params`` unit).

  Counts every leaf of ``variables["params"]`` that the architecture instantiates
  (``_common.usage``): all of them in a discrete network (NB201's ``params``, as
  ``jaxnas.nn.count_params``), those of the chosen ops in an op-choice supernet.
  """
  del key
  x, _ = c.check_batch(batch)
  variables = c.network_variables(variables)
  used, _ = c.usage(apply_fn, variables, x.shape)
  flat = c._flat(variables["params"])  # pylint: disable=protected-access
  return c.finite(_sum(jnp.where(used[k], float(p.size), 0.0) for k, p in flat.items()) / 1e6)


def flops(key, apply_fn, variables, batch) -> jax.Array:
  """FLOPs in millions: multiply-accumulates of the Conv/Dense layers for one image, NATS-Bench's
  convention (``jaxnas.nn.counting.count_flops``; BatchNorm/ReLU/pooling/additions not counted).

  Each call of a module owning a ``kernel`` contributes ``H_out * W_out * kh * kw * C_in/groups *
  C_out`` (dense: ``D_in * D_out + D_out``) when the architecture instantiates its kernel (as in
  :func:`params`). A kernel that is never applied by its own module call (``NB201Supernet`` runs
  the two convs of an edge as one stacked convolution) cannot be counted this way: ValueError;
  count such networks with ``jaxnas.nn.counting`` instead.
  """
  del key
  x, _ = c.check_batch(batch)
  variables = c.network_variables(variables)
  macs = c.kernel_macs(apply_fn, variables, x.shape)
  missing = sorted(k for k in c.kernel_leaves(variables["params"]) if k not in macs)
  if missing:
    raise ValueError(f"flops: kernel {'/'.join(missing[0])} (and {len(missing) - 1} more) is not "
                     "applied by a call of the module that owns it (e.g. NB201Supernet's stacked "
                     "MixedOp convs); use jaxnas.nn.counting.count_flops on discrete networks")
  used, _ = c.usage(apply_fn, variables, x.shape)
  return c.finite(_sum(jnp.where(used[k], float(m), 0.0) for k, m in macs.items()) / 1e6)


def l2_norm(key, apply_fn, variables, batch) -> jax.Array:
  """Weight norm (Abdelfattah et al., 2021): ``sum_l ||W_l||_2`` over the Conv/Dense kernels that
  the architecture instantiates (as in :func:`params`).

  References:
    Abdelfattah et al., ICLR 2021.
  """
  del key
  x, _ = c.check_batch(batch)
  variables = c.network_variables(variables)
  used, _ = c.usage(apply_fn, variables, x.shape)
  kernels = c.kernel_leaves(variables["params"])
  return c.finite(_sum(jnp.where(used[k], jnp.linalg.norm(w.ravel()), 0.0)
                       for k, w in kernels.items()))


MIN_BATCH = {"nwot": 2, "jacov": 2, "epe_nas": 2}
