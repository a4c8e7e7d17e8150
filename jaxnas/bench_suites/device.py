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

Every part reports its compile seconds apart from its run seconds. In one process the programs
of ``synflow``, ``jacov``, ``darts`` and ``gdas`` are built first, concurrently (one thread per
core: XLA compiles release the GIL, and compilation dominates a run, on CPU and on a GPU host
alike), so their compile figures are wall times during other compiles (``build_s``: the whole
build phase); then every part runs and is timed alone. Several processes build each part in turn
(same collectives in the same order on every process). ``jacov``'s first call scores every cell
(its program depends on the cells per device), so its ``first_call_s`` is compile + one run.
The JSON has ``sizes``, the device, ``jax.device_count()``, the load average and one entry per
part; it is rewritten after every part, so a run cut short keeps what it measured. See
``docs/scaling.md`` for the expected duration (<= 8 minutes on one H200) and the figures measured.
"""

from __future__ import annotations

import concurrent.futures
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
# ``--quick`` is a smoke test of the code paths, whose run time is compilation (every part's
# program at tiny sizes): it compiles with XLA's cheapest settings. Measured on the 2-core CPU
# with two forced devices at load 10-15 (CPU seconds of the whole run): 118 with the first flag
# alone, 90 with both (the fusion emitters off roughly halve the supernet step's compile), peak RSS
# 1.8 GB -> 0.97 GB. They change code generation only; a flag the user set keeps its value.
QUICK_XLA_FLAGS = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")


def with_quick_flags(xla_flags: str) -> str:
  """``xla_flags`` (an ``XLA_FLAGS`` value) plus each of :data:`QUICK_XLA_FLAGS` whose name it does
  not set already. Set before JAX initialises its backend (``python -m jaxnas.bench device --quick``
  does), else it has no effect."""
  have = {f.split("=", 1)[0] for f in xla_flags.split()}
  extra = [f for f in QUICK_XLA_FLAGS if f.split("=", 1)[0] not in have]
  return " ".join([xla_flags.strip()] + extra).strip()


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


def _synflow(s: dict, zc_nets):
  """Builds (compiles, scoring one block) SynFlow; returns the timed run's closure."""
  from jaxnas.evaluate import zero_cost as zcd  # pylint: disable=import-outside-toplevel
  _, mixed, v = zc_nets
  n, chunk, H = s["synflow_archs"], s["synflow_chunk"], s["zc_image"]
  w = _cells(n)
  t0 = time.perf_counter()
  zcd.synflow_many(mixed, v, w[:chunk], H, chunk)  # compiles (+ one block: the same program)
  first = time.perf_counter() - t0

  def measure() -> dict:
    t0 = time.perf_counter()
    scores = zcd.synflow_many(mixed, v, w, H, chunk)
    dt = time.perf_counter() - t0
    return {"num_archs": n, "chunk": chunk, "first_call_s": first, "run_s": dt,
            "archs_per_s": n / dt, "finite": int(np.isfinite(scores).sum())}

  return measure


def _jacov(s: dict, zc_nets, check: bool = False):
  """Builds jacov (its first call scores every cell: the program depends on the number of cells
  per device, so a smaller warm-up would compile another one); returns the timed run's closure."""
  from jaxnas.evaluate import zero_cost as zcd  # pylint: disable=import-outside-toplevel
  select, _, v = zc_nets
  n, B, H, chunk = s["jacov_archs"], s["jacov_batch"], s["zc_image"], s["jacov_chunk"]
  rng = np.random.default_rng(0)
  x = rng.standard_normal((B, H, H, 3)).astype(np.float32)
  y = rng.integers(0, 10, B).astype(np.int32)

  def net_fn(vv, xx, ww, *, train, mutable):
    return select.apply(vv, xx, ww, train, mutable=mutable)

  from jaxnas.predictors import zero_cost as zc  # pylint: disable=import-outside-toplevel
  w = _cells(n)
  key = jax.random.key(0)
  if jax.device_count() == 1:
    # score_many_sharded on one device is score_many itself, unjitted: an eager lax.map traces
    # and compiles its body anew at every call, so jit it once and the timed call reuses it
    one = jax.jit(lambda v, w, x, y: zc.score_many("jacov", key, net_fn, v, w, (x, y),
                                                   chunk_size=chunk))
    score = lambda: np.asarray(one(v, w, x, y))
  else:
    score = lambda: zcd.score_many_sharded("jacov", key, net_fn, v, w, (x, y), chunk_size=chunk)
  t0 = time.perf_counter()
  score()
  first = time.perf_counter() - t0
  single = None
  if check and jax.device_count() > 1:  # the sharded scores equal one device's score_many
    single = np.asarray(zc.score_many("jacov", key, net_fn, v, w, (x, y), chunk_size=chunk))

  def measure() -> dict:
    t0 = time.perf_counter()
    scores = score()
    dt = time.perf_counter() - t0
    out = {"num_archs": n, "batch": B, "chunk": chunk, "first_call_s": first, "run_s": dt,
           "archs_per_s": n / dt, "finite": int(np.isfinite(scores).sum())}
    if single is not None:
      out["max_abs_diff_vs_unsharded"] = float(np.max(np.abs(single - scores)))
    return out

  return measure


def _supernet(name: str, s: dict):
  """Builds (initialises, compiles) a supernet search step; returns the timed run's closure."""
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers.oneshot import SEARCH_CELL_BN  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import oneshot as oneshot_lib  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers.oneshot import bench  # pylint: disable=import-outside-toplevel
  C, N, B, H = (s["supernet_channels"], s["supernet_cells"], s["supernet_batch"],
                s["supernet_image"])
  steps = math.ceil(s["search_half"] / B)
  net = jnn.supernet_nb201(10, C, N, cell_bn=SEARCH_CELL_BN)
  opt = oneshot_lib.make(name, net, epochs=50, steps_per_epoch=steps)
  rng = np.random.default_rng(0)
  x = rng.standard_normal((B, H, H, 3)).astype(np.float32)
  y = (np.arange(B) % 10).astype(np.int32)
  # data parallel over every device of every process (the batch sharded, weights replicated)
  prog = bench.build_step(opt, (x, y), data_parallel=True)

  def measure() -> dict:
    r = bench.time_program(prog, s["supernet_repeats"])
    return {"C": C, "N": N, "batch": B, "image": H, "init_compile_s": r["init_compile_s"],
            "compile_s": r["compile_s"], "step_ms": r["step_ms"], "step_ms_min": r["step_ms_min"],
            "steps_per_epoch": steps, "epoch_s": steps * r["step_ms"] / 1e3,
            "images_per_s": r["images_per_s"], "train_loss": r["train_loss"]}

  return measure


def _build(parts, s: dict, quick: bool, workers: int) -> dict:
  """``{part: (() -> its measure closure)}`` for the parts with programs to build before the
  timed run (RE and BANANAS compile and run in one ``loops.run`` call, in the timed phase).

  ``workers > 1``: built now, concurrently, by that many threads (XLA compiles release the GIL;
  jit is thread-safe), returning when all are built; else built lazily, one at a time, when
  the part runs."""
  zc_nets = []

  def zc():
    if not zc_nets:
      zc_nets.append(_zc_setup(s))
    return zc_nets[0]

  build = {"synflow": lambda: _synflow(s, zc()),
           "jacov": lambda: _jacov(s, zc(), check=quick),
           "darts": lambda: _supernet("darts", s), "gdas": lambda: _supernet("gdas", s)}
  build = {p: build[p] for p in parts if p in build}
  if workers <= 1 or not build:
    return build
  if "synflow" in build or "jacov" in build:
    zc()  # the shared zero-cost network first (one init; the two parts then build in parallel)
  with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    futures = {p: pool.submit(f) for p, f in build.items()}
  return {p: (lambda f=f: f.result()) for p, f in futures.items()}


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
            "cpu_count": os.cpu_count(), "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "load_before": _load(), "results": {}}
  t_all = time.perf_counter()
  # one process: the parts' programs are built (compiled) first, concurrently (a thread each, at
  # most one per core), then each part runs and is timed alone, nothing else running; several
  # processes build each part in turn before running it, so that every process runs the same
  # collectives in the same order
  workers = min(len(parts), os.cpu_count() or 1) if jax.process_count() == 1 else 1
  built = _build(parts, s, quick, workers)
  report["build_threads"] = workers
  report["build_s"] = time.perf_counter() - t_all
  for part in parts:
    t0 = time.perf_counter()
    if part == "re":
      r = _blackbox("re", s["re_seeds"], s["re_queries"])
    elif part == "bananas":
      r = _blackbox("bananas", s["bananas_seeds"], s["bananas_queries"])
    else:
      r = built[part]()()
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
