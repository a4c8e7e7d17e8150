"""Hooks that networks place on their activations so zero-cost proxies can read them.

The contract between ``jaxnas.nn`` networks and ``jaxnas.predictors.zero_cost``:

* ``act(module, x, name)`` marks a post-ReLU activation. It registers a Flax perturbation point
  (so ``jax.grad`` w.r.t. the activation is available through the ``perturbations`` collection, as
  Fisher needs) and sows the activation into the ``intermediates`` collection (NWOT's binary codes).
* ``features(module, x)`` marks the pre-pooling feature map of the whole network (Zen-NAS).

Both are identity functions when the collections are not requested, so a network that uses them
behaves exactly like one that does not.
"""

from __future__ import annotations

import flax.linen as nn
import jax

ACT = "act"
FEATURES = "features"


def act(module: nn.Module, x: jax.Array, name: str = ACT) -> jax.Array:
  """Marks a post-ReLU activation ``x`` of ``module``; returns ``x`` unchanged."""
  x = module.perturb(name, x)
  module.sow("intermediates", name, x)
  return x


def features(module: nn.Module, x: jax.Array) -> jax.Array:
  """Marks the network's pre-global-pooling feature map; returns ``x`` unchanged."""
  module.sow("intermediates", FEATURES, x)
  return x
