"""Zero-cost proxies: NASLib's 13 training-free architecture scores as pure JAX functions.

Every proxy is ``PROXIES[name](key, apply_fn, variables, batch) -> f32[]`` (finite, higher is
better); :func:`score` is the checked front door; :func:`score_many` scores many architectures
of an op-choice network, vmapped in chunks (traceable, for ``jit`` and accelerators), and
:func:`score_each` scores them with one compiled single-architecture program called from the host
(several proxies in one program; much faster on CPU).

What a network must provide:

* ``apply_fn(variables, x, *, train, mutable) -> (logits f32[N, K], state)``: Flax's
  ``module.apply``; ``train=True`` means BatchNorm on batch statistics and must need no RNGs.
* ``variables``: ``params`` (Conv/Dense weights named ``kernel``) and optionally ``batch_stats``.
* ``probes.act`` on post-ReLU activations (``nwot``, ``fisher``; one name per call) and
  ``probes.features`` on the pre-global-pooling map (``zen``); BatchNorm keeping running
  ``mean``/``var`` in ``batch_stats`` and using them when ``train=False`` (``synflow``, ``zen``).
* For :func:`score_many`: ``net_fn(variables, x, op_weights, *, train, mutable)``, where an op with
  weight 0 enters with that weight before its parameters act (``jaxnas.nn`` ``NB201Supernet`` with
  ``mode="select"``).

``params``/``flops``/``l2_norm``/``nwot``/``zen`` count what the architecture instantiates: a
discrete network in full (as NB201/NASLib count modules), a supernet's chosen ops only.

Undefined or -inf scores (a cell whose output ignores its input, a singular NWOT kernel, constant
Jacobians) are ``SENTINEL``, the lowest float32.
"""

from ._api import PROXIES, get, names, score, score_each, score_many
from ._common import SENTINEL
from ._proxies import (epe_nas, fisher, flops, grad_norm, grasp, jacov, l2_norm, nwot, params,
                       plain, snip, synflow, zen)

__all__ = [
    "PROXIES", "SENTINEL", "get", "names", "score", "score_each", "score_many", "epe_nas", "fisher", "flops",
    "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params", "plain", "snip", "synflow", "zen",
]
