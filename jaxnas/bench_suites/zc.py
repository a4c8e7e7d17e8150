"""``python -m jaxnas.bench zc``: zero-cost proxy throughput on the full NB201 network.

Architectures per second for each proxy after compilation (batch 64 of images; synflow at batch 1
of ones, as defined, through the grouped forward-mode scorer, whole blocks of 125 cells), compile
seconds, and the process's peak resident memory. ``full=True`` scores SynFlow for all 15,625 cells
and reports the total time. The row ``synflow_mixed`` times the previous (mixed-supernet) scorer on
128 of the same cells in the same process, so the speed-up is measured under the same load.
"""

from __future__ import annotations

import pathlib
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import nn as jnn
from jaxnas.evaluate import zero_cost as zcd
from jaxnas.predictors import zero_cost as zc
from jaxnas.spaces import nb201


def _peak_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _print(r) -> None:
  extra = (f", {r['seconds']:.1f} s" if r["num_archs"] == nb201.NUM_ARCHS else "")
  print(f"{r['proxy']:13s} {r['archs_per_second']:10.2f} archs/s  (compile "
        f"{r['compile_seconds']:.1f} s, {r['num_archs']} archs{extra}, peak RSS {_peak_mb():.0f} MB)",
        flush=True)


def run(json_out=None, quick: bool = False, proxies=None, num_archs: int = 0, full: bool = False,
        C: int = 16, N: int = 5) -> dict:
  """Runs the suite; returns (and writes to ``json_out``) the figures."""
  if quick:
    C, N = 4, 1
  size = 32
  key = jax.random.key(0)
  names = list(proxies) if proxies else list(zc.names())
  net = jnn.supernet_nb201(10, C, N, mode="select")
  mixed = jnn.supernet_nb201(10, C, N, mode="mixed")
  # unsafe_rbg init key: threefry's per-parameter key derivation compiles for ~50 s on CPU even
  # at C=4, N=1 (measured 53 s -> 8 s); the weights' values do not matter for a throughput bench
  init_key = jax.random.key(0, impl="unsafe_rbg")
  variables = jax.jit(lambda k: net.init(k, *net.example_args((1, size, size, 3))))(init_key)
  variables = {k: variables[k] for k in ("params", "batch_stats")}
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((64 if not quick else 8, size, size, 3)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, x.shape[0]), jnp.int32)

  def net_fn(v, xx, w, *, train, mutable):
    return net.apply(v, xx, w, train, mutable=mutable)

  rows = []
  for name in names:
    if name in ("params", "flops"):
      n = nb201.NUM_ARCHS
      ids = np.arange(n)
      t0 = time.perf_counter()
      if name == "params":
        jnn.nb201_param_counts(nb201.from_id(jnp.asarray(ids)), num_classes=10, C=C, N=N)
      else:
        zcd.nb201_flop_counts(ids, num_classes=10, C=C, N=N, image_size=size)
      dt = time.perf_counter() - t0
      rows.append({"proxy": name, "num_archs": n, "batch_size": 0, "compile_seconds": 0.0,
                   "seconds": dt, "archs_per_second": n / dt, "method": "analytic count"})
    elif name == "synflow":
      # Whole blocks of 5^k cells (k = 3: 125; quick: 5), the unit of the grouped scorer: a
      # scattered random subset would be scored one cell per pass and time something else.
      chunk = 5 if quick else 125
      n = nb201.NUM_ARCHS if full else (num_archs or (10 if quick else 500))
      n_blocks = -(-n // chunk)
      blocks = np.sort(rng.choice(nb201.NUM_ARCHS // chunk, size=n_blocks, replace=False))
      ids = (blocks[:, None] * chunk + np.arange(chunk)).reshape(-1)
      n = len(ids)
      w = np.asarray(jnn.one_hot(nb201.from_id(jnp.asarray(ids))))
      t0 = time.perf_counter()
      zcd.synflow_many(mixed, variables, w[:chunk], size, chunk)  # compile
      comp = time.perf_counter() - t0
      t0 = time.perf_counter()
      zcd.synflow_many(mixed, variables, w, size, chunk)
      dt = time.perf_counter() - t0
      rows.append({"proxy": name, "num_archs": int(n), "batch_size": 1, "compile_seconds": comp,
                   "seconds": dt, "archs_per_second": n / dt,
                   "seconds_for_15625": nb201.NUM_ARCHS / (n / dt),
                   "seconds_for_15625_with_compile": comp + nb201.NUM_ARCHS / (n / dt),
                   "method": f"grouped exact ops, blocks of {chunk} (synflow_many method=grouped)"})
      _print(rows[-1])
      # The previous scorer on the same cells, under the same load, for the speed-up.
      m = min(n, 8 if quick else 128)
      t0 = time.perf_counter()
      zcd.synflow_many(mixed, variables, w[:m], size, 64, method="mixed")  # compile (+ one run)
      comp = time.perf_counter() - t0
      t0 = time.perf_counter()
      zcd.synflow_many(mixed, variables, w[:m], size, 64, method="mixed")
      dt = time.perf_counter() - t0
      rows.append({"proxy": "synflow_mixed", "num_archs": m, "batch_size": 1,
                   "compile_seconds": comp - dt, "seconds": dt, "archs_per_second": m / dt,
                   "seconds_for_15625": nb201.NUM_ARCHS / (m / dt),
                   "method": "mixed supernet JVP, chunks of 64 (synflow_many method=mixed)"})
    else:
      # zc.score_each: one compiled single-architecture program called per cell from the host
      # (the config default on CPU; lax.map / vmapped chunks are ~25x slower on XLA:CPU). The first
      # call includes the compile; the rate is timed over the remaining cells.
      n = max(2, num_archs or (3 if quick else 8))
      ids = rng.choice(nb201.NUM_ARCHS, size=n, replace=False)
      w = jnn.one_hot(nb201.from_id(jnp.asarray(ids)))
      stamps = []
      zc.score_each(name, key, net_fn, variables, w, (x, y),
                    progress=lambda done, total, secs: stamps.append(secs))
      dt = stamps[-1] - stamps[0]
      per = dt / (n - 1)
      rows.append({"proxy": name, "num_archs": int(n - 1), "batch_size": int(x.shape[0]),
                   "compile_seconds": max(0.0, stamps[0] - per), "seconds": dt,
                   "archs_per_second": 1.0 / per,
                   "method": "score_each (select supernet, one program, host loop over cells)"})
    _print(rows[-1])
  report = {"results": rows, "network": {"C": C, "N": N, "image_size": size},
            "peak_rss_mb": _peak_mb(), "device": str(jax.devices()[0].device_kind)}
  if json_out:
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    write_json(pathlib.Path(json_out), report)
  return report
