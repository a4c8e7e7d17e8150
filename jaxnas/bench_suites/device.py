"""``python -m jaxnas.bench device --json OUT [--quick]``: the accelerator benchmark.

One run measures what an accelerator changes, at explicit sizes (:data:`FULL`; ``--quick`` runs
the same code at :data:`QUICK` sizes, a CPU smoke test):

* ``re``: regularized evolution on NB201 (CIFAR-10 val), ``re_seeds`` x ``re_queries`` as one
  compiled program (``loops.run``, seeds sharded over all devices): microseconds per seed-run;
* ``synflow``: SynFlow of ``synflow_archs`` NB201 cells (all 15,625) on the full C=16, N=5
  network at 32x32, through ``synflow_many`` (grouped fast path; sharded when several devices);
* ``jacov``: the data-dependent ``jacov`` proxy over ``jacov_archs`` cells (all 15,625) with
  ``score_many`` (``evaluate.zero_cost.score_many_sharded``: chunks of ``jacov_chunk`` cells per
  vmapped call, batch ``jacov_batch`` of random 32x32 images); ``--quick`` on several devices
  also scores the cells unsharded and reports the largest difference;
* ``darts`` / ``gdas``: the full-size NB201 supernet (C=16, N=5, search-cell BN without affine)
  step time at batch 64 of random 32x32 images (train and validation batches: 128 images per
  step), and the epoch time of NB201's 25,000-image search half (391 steps);
* ``bananas``: BANANAS with ``bananas_seeds`` x ``bananas_queries`` as one compiled program.

Every part reports its compile seconds apart from its run seconds. The JSON has ``sizes``, the
device, ``jax.device_count()``, the load average and one entry per part; it is rewritten after
every part, so a run cut short keeps what it measured. See ``docs/scaling.md`` for the expected
duration (<= 8 minutes on one H200) and the figures measured.
"""

from __future__ import annotations

import math
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

FULL = {
    "re_seeds": 100_000, "re_queries": 150,
    "zc_channels": 16, "zc_cells": 5, "zc_image": 32,
    "synflow_archs": 15_625, "synflow_chunk": 125,
    "jacov_archs": 15_625, "jacov_batch": 64, "jacov_chunk": 64,
    "supernet_channels": 16, "supernet_cells": 5, "supernet_batch": 64, "supernet_image": 32,
    "supernet_repeats": 10, "search_half": 25_000,
    "bananas_seeds": 1_000, "bananas_queries": 150,
}
QUICK = {
    "re_seeds": 64, "re_queries": 30,
    "zc_channels": 4, "zc_cells": 1, "zc_image": 8,
    "synflow_archs": 25, "synflow_chunk": 25,
    "jacov_archs": 8, "jacov_batch": 4, "jacov_chunk": 4,
    "supernet_channels": 4, "supernet_cells": 1, "supernet_batch": 8, "supernet_image": 8,
    "supernet_repeats": 2, "search_half": 25_000,
    "bananas_seeds": 2, "bananas_queries": 12,
}
PARTS = ("re", "synflow", "jacov", "darts", "gdas", "bananas")


def _load():
  try:
    return round(os.getloadavg()[0], 2)
  except OSError:  # pragma: no cover
    return None


def _write(json_out, report) -> None:
  if json_out:
    from jaxnas import distributed  # pylint: disable=import-outside-toplevel
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    if distributed.is_writer():
      path = pathlib.Path(json_out)
      path.parent.mkdir(parents=True, exist_ok=True)
      write_json(path, report)


def _blackbox(name: str, seeds: int, queries: int, hparams=None) -> dict:
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel
  from jaxnas import loops, optimizers, spaces  # pylint: disable=import-outside-toplevel
  bench = bm.load("nasbench201")
  space = spaces.get_space("nasbench201")
  opt = optimizers.make(name, space, **(hparams or {}))
  r = loops.run(bench, optimizer=opt, space=space, objective=loops.Objective(),
                num_queries=queries, num_seeds=seeds)
  best = np.asarray(r.outputs.best_fitness[:, -1], float)
  return {"num_seeds": seeds, "num_queries": queries, "compile_s": r.compile_seconds,
          "run_s": r.run_seconds, "us_per_seed_run": 1e6 * r.run_seconds / seeds,
          "mean_best_val_accuracy": float(best.mean())}


def _zc_setup(s: dict):
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  C, N, H = s["zc_channels"], s["zc_cells"], s["zc_image"]
  select = jnn.supernet_nb201(10, C, N, mode="select")
  mixed = jnn.supernet_nb201(10, C, N, mode="mixed")
  v = jax.jit(lambda k: select.init(k, *select.example_args((1, H, H, 3))))(
      jax.random.key(0, impl="unsafe_rbg"))
  return select, mixed, {k: v[k] for k in ("params", "batch_stats")}


def _cells(n: int) -> np.ndarray:
  """``f32[n, 6, 5]`` one-hot op weights of the first ``n`` NB201 cells by id."""
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  from jaxnas.spaces import nb201  # pylint: disable=import-outside-toplevel
  return np.asarray(jnn.one_hot(nb201.from_id(jnp.arange(n))), np.float32)


def _synflow(s: dict, zc_nets) -> dict:
  from jaxnas.evaluate import zero_cost as zcd  # pylint: disable=import-outside-toplevel
  _, mixed, v = zc_nets
  n, chunk, H = s["synflow_archs"], s["synflow_chunk"], s["zc_image"]
  w = _cells(n)
  t0 = time.perf_counter()
  zcd.synflow_many(mixed, v, w[:chunk], H, chunk)  # compiles (+ one block)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  scores = zcd.synflow_many(mixed, v, w, H, chunk)
  dt = time.perf_counter() - t0
  return {"num_archs": n, "chunk": chunk, "first_call_s": first, "run_s": dt,
          "archs_per_s": n / dt, "finite": int(np.isfinite(scores).sum())}


def _jacov(s: dict, zc_nets, check: bool = False) -> dict:
  from jaxnas.evaluate import zero_cost as zcd  # pylint: disable=import-outside-toplevel
  select, _, v = zc_nets
  n, B, H, chunk = s["jacov_archs"], s["jacov_batch"], s["zc_image"], s["jacov_chunk"]
  rng = np.random.default_rng(0)
  x = rng.standard_normal((B, H, H, 3)).astype(np.float32)
  y = rng.integers(0, 10, B).astype(np.int32)

  def net_fn(vv, xx, ww, *, train, mutable):
    return select.apply(vv, xx, ww, train, mutable=mutable)

  w = _cells(n)
  key = jax.random.key(0)
  per_device = chunk * jax.device_count()
  t0 = time.perf_counter()
  zcd.score_many_sharded("jacov", key, net_fn, v, w[:per_device], (x, y), chunk_size=chunk)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  scores = zcd.score_many_sharded("jacov", key, net_fn, v, w, (x, y), chunk_size=chunk)
  dt = time.perf_counter() - t0
  out = {"num_archs": n, "batch": B, "chunk": chunk, "first_call_s": first, "run_s": dt,
         "archs_per_s": n / dt, "finite": int(np.isfinite(scores).sum())}
  if check and jax.device_count() > 1:  # the sharded scores equal one device's score_many
    from jaxnas.predictors import zero_cost as zc  # pylint: disable=import-outside-toplevel
    single = np.asarray(zc.score_many("jacov", key, net_fn, v, w, (x, y), chunk_size=chunk))
    out["max_abs_diff_vs_unsharded"] = float(np.max(np.abs(single - scores)))
  return out


def _supernet(name: str, s: dict) -> dict:
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers import io  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers.oneshot import SEARCH_CELL_BN  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import oneshot as oneshot_lib  # pylint: disable=import-outside-toplevel
  C, N, B, H = (s["supernet_channels"], s["supernet_cells"], s["supernet_batch"],
                s["supernet_image"])
  steps = math.ceil(s["search_half"] / B)
  net = jnn.supernet_nb201(10, C, N, cell_bn=SEARCH_CELL_BN)
  opt = oneshot_lib.make(name, net, epochs=50, steps_per_epoch=steps)
  rng = np.random.default_rng(0)
  rep = io.replicated()
  shard = io.mesh_constraint()  # data parallel over every device (batch sharded)
  x = jax.device_put(rng.standard_normal((B, H, H, 3)).astype(np.float32), rep)
  y = jax.device_put((np.arange(B) % 10).astype(np.int32), rep)
  t0 = time.perf_counter()
  state = jax.device_put(jax.jit(opt.init)(jax.random.key(0, impl="unsafe_rbg"), (x, y)), rep)
  jax.block_until_ready(state)
  init_s = time.perf_counter() - t0

  def step(key, state, x, y):
    xs, ys = shard(x), shard(y)
    return opt.step(key, state, (xs, ys), (xs, ys))

  k = jax.random.key(0)
  t0 = time.perf_counter()
  compiled = jax.jit(step, out_shardings=rep).lower(k, state, x, y).compile()
  compile_s = time.perf_counter() - t0
  state, m = compiled(k, state, x, y)  # warm-up
  jax.block_until_ready((state, m))
  times = []
  for i in range(s["supernet_repeats"]):
    t0 = time.perf_counter()
    state, m = compiled(jax.random.fold_in(k, i), state, x, y)
    jax.block_until_ready((state, m))
    times.append(time.perf_counter() - t0)
  med = float(np.median(times))
  return {"C": C, "N": N, "batch": B, "image": H, "init_compile_s": init_s,
          "compile_s": compile_s, "step_ms": 1e3 * med, "step_ms_min": 1e3 * float(np.min(times)),
          "steps_per_epoch": steps, "epoch_s": steps * med, "images_per_s": 2 * B / med,
          "train_loss": float(m.train_loss)}


def run(json_out=None, quick: bool = False, parts=None, sizes=None) -> dict:
  """Runs the benchmark; returns (and writes to ``json_out`` after every part) the figures.

  Args:
    json_out: output JSON path (None: nothing written; in a multi-process run process 0 writes).
    quick: :data:`QUICK` sizes (a smoke test of the same code), else :data:`FULL`.
    parts: a subset of :data:`PARTS` (default all).
    sizes: overrides of :data:`FULL` / :data:`QUICK` entries (e.g. ``{"re_seeds": 4096}``).

  Raises:
    ValueError: an unknown part name.
  """
  parts = list(PARTS if parts is None else parts)
  bad = [p for p in parts if p not in PARTS]
  if bad:
    raise ValueError(f"unknown device bench part {bad[0]!r}; valid: {', '.join(PARTS)}")
  s = dict(QUICK if quick else FULL)
  unknown = [k for k in (sizes or {}) if k not in s]
  if unknown:
    raise ValueError(f"unknown device bench size {unknown[0]!r}; valid: {', '.join(s)}")
  s.update(sizes or {})
  report = {"suite": "device", "quick": bool(quick), "sizes": s,
            "device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
            "device_count": jax.device_count(), "process_count": jax.process_count(),
            "cpu_count": os.cpu_count(), "load_before": _load(), "results": {}}
  t_all = time.perf_counter()
  zc_nets = None
  for part in parts:
    t0 = time.perf_counter()
    if part == "re":
      r = _blackbox("re", s["re_seeds"], s["re_queries"])
    elif part == "bananas":
      r = _blackbox("bananas", s["bananas_seeds"], s["bananas_queries"])
    elif part in ("synflow", "jacov"):
      zc_nets = zc_nets or _zc_setup(s)
      r = _synflow(s, zc_nets) if part == "synflow" else _jacov(s, zc_nets, check=quick)
    else:
      r = _supernet(part, s)
    r["total_s"] = time.perf_counter() - t0
    r["load_after"] = _load()
    report["results"][part] = r
    report["total_s"] = time.perf_counter() - t_all
    _write(json_out, report)
    print(f"device bench {part}: " + ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()),
          flush=True)
  report["total_s"] = time.perf_counter() - t_all
  _write(json_out, report)
  return report
