"""Sanity check of the zero-cost proxies on the real NB201 network (C=16, N=5, CIFAR-10 shapes).

Not collected by pytest (minutes of XLA compiles on CPU). Run::

    python tests/predictors/zero_cost/nb201_sanity.py                 # all 13 proxies
    python tests/predictors/zero_cost/nb201_sanity.py params nwot     # a few

For a few cells it scores (1) the discrete ``NB201Network`` of each cell, with the weights that
``restrict`` takes from one ``NB201Supernet`` init, one jit per cell, and (2) all cells at once
with ``score_many`` over the ``mode="select"`` supernet (``flops`` excepted: the supernet stacks
its convs, see ``zero_cost.flops``). It checks that every score is finite, that (1) == (2), and
that ``params``/``flops`` equal ``jaxnas.nn.count_params``/``count_flops``; it prints the table and
exits non-zero on a mismatch.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import nn as jnn
from jaxnas.predictors import zero_cost as zc
from jaxnas.spaces import nb201 as space

CELLS = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # output ignores the input
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",  # node 1 never reaches 3
)


def main(names) -> int:
  key = jax.random.key(0)
  x = jax.random.normal(jax.random.key(1), (16, 32, 32, 3))
  y = jax.random.randint(jax.random.key(2), (16,), 0, 10)
  sup = jnn.supernet_nb201(10, mode="select")
  weights = jnp.stack([jnn.one_hot(space.from_string(s)) for s in CELLS])
  sv = jax.jit(lambda k: sup.init(k, x[:1], weights[0], False))(key)
  sv = {k: v for k, v in sv.items() if k in ("params", "batch_stats")}

  def net_fn(v, x, w, *, train, mutable):
    return sup.apply(v, x, w, train, mutable=mutable)

  ok = True
  for name in names:
    t = time.time()
    discrete, refs = [], []
    for s in CELLS:
      net = jnn.compile_nb201(s, 10)
      like = jax.eval_shape(lambda net=net: net.init(key, x[:1], False))
      v = jnn.restrict(sv, {k: like[k] for k in ("params", "batch_stats")})
      apply_fn = lambda v, x, *, train, mutable, net=net: net.apply(v, x, train, mutable=mutable)
      discrete.append(float(jax.jit(lambda v, b, f=apply_fn: zc.score(name, key, f, v, b))(
          v, (x, y))))
      if name in ("params", "flops"):
        refs.append((jnn.count_params(net) if name == "params" else jnn.count_flops(net)) / 1e6)
    discrete = np.array(discrete)
    line = f"{name:10s} discrete {np.array2string(discrete, precision=6)}"
    ok &= bool(np.all(np.isfinite(discrete)))
    if refs:
      ok &= bool(np.allclose(discrete, refs, rtol=1e-6))
      line += f" reference {np.array2string(np.array(refs), precision=6)}"
    if name != "flops":
      many = np.asarray(zc.score_many(name, key, net_fn, sv, weights, (x, y), chunk_size=4))
      ok &= bool(np.allclose(many, discrete, rtol=1e-3, atol=1e-4))
      line += f" supernet {np.array2string(many, precision=6)}"
    print(f"{line} ({time.time() - t:.0f} s)", flush=True)
  print("OK" if ok else "MISMATCH")
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:] or zc.names()))
