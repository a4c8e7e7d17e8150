"""Supernet step benchmarks (``python -m jaxnas.bench supernet --json OUT``); ``python -m
jaxnas.optimizers.oneshot.bench fashion NAMES`` runs the Fashion-MNIST search measurement used for
the README figures (``jaxnas.drivers.oneshot.fashion_search``).

``bench_supernet`` times one jitted search step of DARTS (first and second order), GDAS and DrNAS
on the full NB201 supernet (C=16, N=5, two batches of 64 32x32x3 images per step, as NASLib's
CIFAR-10 search; the search driver's cell batch norm) on the default device, after compilation:
median step time, images per second (train + validation images per step), the time of one search
epoch over NB201's 25k/25k CIFAR-10 halves (``ceil(25000 / 64) = 391`` steps, data loading and
augmentation not included), compile time, and memory. Memory is given twice: ``xla_buffers_mib``,
what XLA's buffer assignment reserves for the compiled step (arguments, outputs, temporaries; per
case, any backend), and ``peak_mib``, the device's ``peak_bytes_in_use`` where the backend
reports it, otherwise the process's peak RSS from ``getrusage`` (a high-water mark of the whole
process, so it only grows from one case to the next; run one case per process with ``--cases``
for a per-case figure). The 1-minute load average before and after each case is recorded,
because on a shared CPU it explains most of the spread between runs.

  python -m jaxnas.bench supernet --json OUT
  python -m jaxnas.bench supernet --json OUT --cases darts_1st,gdas --baseline torch --repeats 5
  python -m jaxnas.optimizers.oneshot.bench OUT --cases darts_2nd --repeats 3
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import resource
import sys
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import nn as jnn
from jaxnas.optimizers import oneshot as oneshot_lib

CASES = (("darts_1st", "darts", {}), ("darts_2nd", "darts", {"second_order": True}),
         ("gdas", "gdas", {}), ("drnas", "drnas", {}))
# opt-in NB201 cases: second order with the exact mixed derivative instead of DARTS's finite
# difference (darts_2nd; ~7 min of compile and 14 GB at full size), timed against the same
# reference step
EXTRA_CASES = (("darts_2nd_exact", "darts", {"second_order": True, "hessian": "exact"}),)
TORCH_CASE = {"darts_2nd_exact": "darts_2nd"}  # the reference step a case is timed against
# DARTS-space cases (opt-in with --cases): the same step on the DARTS search supernet (C=16, 8
# cells, 28 x 8 alphas; quick: C=4, 3 cells), same batches, the driver's cell BN.
DARTS_CASES = (("darts_space_darts_1st", "darts", {}), ("darts_space_gdas", "gdas", {}),
               ("darts_space_pcdarts", "pcdarts", {}))
SEARCH_HALF = 25_000  # images in each NB201 CIFAR-10 search half (train / valid)


def _peak_memory() -> tuple[float, str]:
  dev = jax.devices()[0]
  try:
    stats = dev.memory_stats() or {}
  except Exception:  # pylint: disable=broad-except
    stats = {}
  if "peak_bytes_in_use" in stats:
    return stats["peak_bytes_in_use"] / 2**20, "device peak_bytes_in_use (process high-water mark)"
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
  return rss / (2**20 if sys.platform == "darwin" else 2**10), "process max RSS (host high-water mark)"


def _xla_buffers_mib(compiled) -> float | None:
  """The memory XLA's buffer assignment reserves for one compiled program: arguments + outputs +
  temporaries - aliased (None where the backend does not say). Not ``peak_memory_in_bytes``,
  which the CPU backend reports without the temporaries."""
  try:
    m = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except
    return None
  if m is None:
    return None
  return (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
          - m.alias_size_in_bytes) / 2**20


def _load() -> float | None:
  try:
    return os.getloadavg()[0]
  except OSError:  # pragma: no cover
    return None


class StepProgram(NamedTuple):
  """A compiled search step with the state and batch it runs on (:func:`build_step`)."""

  compiled: Any  # (key, state, x, y) -> (state, Metrics)
  state: Any
  x: Any
  y: Any
  init_compile_s: float  # wall seconds of jit(init): compile + one run
  compile_s: float  # wall seconds of lowering + compiling the step


def build_step(opt, batch, *, data_parallel: bool = False) -> StepProgram:
  """Initialises a one-shot optimizer and compiles its search step ahead of time (the step
  building shared by ``bench supernet`` and ``bench device``; :func:`time_program` times it).

  ``jit(opt.init)`` from an ``unsafe_rbg`` key (threefry's per-parameter path hashing compiles for
  minutes on CPU), then ``jit(step).lower(...).compile()``; the same batch is the train and the
  validation batch. Thread-safe (``bench device`` builds several parts' programs concurrently).

  Args:
    opt: a :class:`~jaxnas.optimizers.oneshot.OneShotOptimizer`.
    batch: ``(x f32[B, H, W, 3], y int32[B])``.
    data_parallel: shard the batch over every device of every process (weights replicated, the
      gradient averaged by XLA, as the one-shot driver); False: the default device only.
  """
  x, y = batch
  k = jax.random.key(0)
  if data_parallel:
    from jaxnas.drivers import io  # pylint: disable=import-outside-toplevel
    rep, shard = io.replicated(), io.mesh_constraint()
    x, y = jax.device_put(x, rep), jax.device_put(y, rep)

    def step(key, state, x, y):
      xs, ys = shard(x), shard(y)
      return opt.step(key, state, (xs, ys), (xs, ys))

    step = jax.jit(step, out_shardings=rep)
  else:
    rep = None
    step = jax.jit(lambda key, state, x, y: opt.step(key, state, (x, y), (x, y)))
  t0 = time.perf_counter()
  state = jax.jit(opt.init)(jax.random.key(0, impl="unsafe_rbg"), (x, y))
  if rep is not None:  # the sharding of a state the step returns: the step compiles once
    state = jax.device_put(state, rep)
  jax.block_until_ready(state)
  init_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  compiled = step.lower(k, state, x, y).compile()
  return StepProgram(compiled, state, x, y, init_s, time.perf_counter() - t0)


def time_program(prog: StepProgram, repeats: int) -> dict:
  """One warm-up step, then ``repeats`` timed steps (keys folded from the step number).

  Returns:
    ``{"init_compile_s", "compile_s", "step_ms" (median), "step_ms_min", "images_per_s" (train +
    validation images per second), "train_loss" (after the last step)}``.
  """
  k = jax.random.key(0)
  state, m = prog.compiled(k, prog.state, prog.x, prog.y)  # warm-up
  jax.block_until_ready((state, m))
  times = []
  for i in range(repeats):
    t0 = time.perf_counter()
    state, m = prog.compiled(jax.random.fold_in(k, i), state, prog.x, prog.y)
    jax.block_until_ready((state, m))
    times.append(time.perf_counter() - t0)
  return _stats(prog, times, m)


def _stats(prog: StepProgram, times, m) -> dict:
  """The per-case jaxnas figures from the timed steps (seconds) and the last step's metrics."""
  med = float(np.median(times))
  return {"init_compile_s": prog.init_compile_s, "compile_s": prog.compile_s,
          "step_ms": 1e3 * med, "step_ms_min": 1e3 * float(np.min(times)),
          "images_per_s": 2 * len(prog.y) / med, "train_loss": float(m.train_loss)}


def time_paired(prog: StepProgram, make_torch_step, repeats: int,
                on_warm=None) -> tuple[dict, list, float]:
  """The jaxnas step and the torch reference's step alternately: the jaxnas warm-up,
  ``on_warm()`` (the bench reads the peak memory there, before torch allocates anything), then
  ``torch_step = make_torch_step()`` (returns ``(seconds, loss)`` of one step, timed where it
  runs: here or in a process of its own) and its warm-up, then ``repeats`` pairs,
  so that both sides see the same
  machine. On a shared or virtual CPU the speed drifts by 10-50% over minutes (issue 18: torch's
  darts_2nd step took 19.8 s in one session and 30.4 s in the next on the same 2-vCPU machine),
  which sequential blocks of steps turn into a bias of the ratio; alternating cancels most of
  it. Keys are folded from the step number as in :func:`time_program`.

  Returns:
    ``(jaxnas stats as time_program, torch step times in seconds, torch's last loss)``; the
    jaxnas stats add ``ratio_paired``: the median over pairs of jaxnas / torch step time.
  """
  k = jax.random.key(0)
  state, m = prog.compiled(k, prog.state, prog.x, prog.y)  # warm-ups
  jax.block_until_ready((state, m))
  if on_warm is not None:
    on_warm()
  torch_step = make_torch_step()
  _, loss = torch_step()
  times, ttimes = [], []
  for i in range(repeats):
    t0 = time.perf_counter()
    state, m = prog.compiled(jax.random.fold_in(k, i), state, prog.x, prog.y)
    jax.block_until_ready((state, m))
    times.append(time.perf_counter() - t0)
    seconds, loss = torch_step()
    ttimes.append(seconds)
  r = _stats(prog, times, m)
  r["ratio_paired"] = float(np.median(np.asarray(times) / np.asarray(ttimes)))
  return r, ttimes, loss


def _torch_reference():
  """The PyTorch reference module, or None (with a one-line notice) when torch is missing."""
  try:
    from jaxnas.bench_suites import torch_supernet  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    print(f"supernet bench: --baseline torch needs PyTorch (pip install 'jaxnas[bench-torch]'), "
          f"not importable here ({e}); timing the jaxnas cases only", file=sys.stderr, flush=True)
    return None
  return torch_supernet


def bench_supernet(json_out: str | None = None, quick: bool = False, repeats: int = 10,
                   cases=None, quiet: bool = False, baseline: str | None = None,
                   torch_process: str = "separate") -> dict:
  """Times search steps on the NB201 supernet and writes the figures as JSON.

  Args:
    json_out: output path (its folder is created); None writes nothing.
    quick: a tiny setting (C=4, N=1, batch 8, 16x16, 3 timed steps) for tests.
    repeats: timed steps per case (after one compiling call and one warm-up step).
    cases: labels of :data:`CASES` (default all), :data:`EXTRA_CASES` (``darts_2nd_exact``) or
      :data:`DARTS_CASES` to run.
    quiet: no per-case progress line on stderr.
    baseline: ``"torch"``: for each NB201 case, time the same step in a plain PyTorch CPU
      reference (:mod:`jaxnas.bench_suites.torch_supernet`, same sizes and repeats), its steps
      alternating with the jaxnas ones (:func:`time_paired`), and add ``torch_step_ms``,
      ``torch_step_ms_min``, ``ratio_to_torch`` (jaxnas / torch median),
      ``ratio_to_torch_paired`` (median over pairs of jaxnas / torch) and ``timing:
      "interleaved"`` to the case; without PyTorch a one-line notice,
      ``out["baseline"]["available"] = False`` and the jaxnas cases only. None: no reference.
    torch_process: ``"separate"`` (default): the reference runs in a process of its own
      (:class:`~jaxnas.bench_suites.torch_supernet.ProcessStep`), still alternating step by step
      with ours; ``"same"``: in this process (session 10's form; the two slow each other down
      there). Recorded per case as ``torch_process``.

  Returns:
    ``{"device", "backend", "setting", "load_average", "results": {case: {"step_ms",
    "step_ms_min", "images_per_s", "epoch_25k_s", "compile_s", "init_compile_s", "xla_buffers_mib",
    "peak_mib", "memory_source", "load_before", "load_after", "train_loss", "optimizer",
    "hyperparameters"}}}``; with
    ``baseline="torch"`` also ``"baseline": {"name", "available"}`` and, per NB201 case,
    ``"torch_step_ms", "torch_step_ms_min", "torch_train_loss", "torch_threads",
    "torch_version", "ratio_to_torch", "ratio_to_torch_paired", "timing", "torch_process",
    "torch_case"`` (the reference step: ``darts_2nd`` for ``darts_2nd_exact``).

  Raises:
    ValueError: an unknown case label or baseline.
  """
  if baseline not in (None, "torch"):
    raise ValueError(f"unknown supernet bench baseline {baseline!r}; valid: torch")
  if torch_process not in ("separate", "same"):
    raise ValueError(f"unknown torch_process {torch_process!r}; valid: separate, same")
  labels = [c[0] for c in CASES + EXTRA_CASES + DARTS_CASES]
  cases = [c[0] for c in CASES] if cases is None else list(cases)
  bad = [c for c in cases if c not in labels]
  if bad:
    raise ValueError(f"unknown supernet bench case {bad[0]!r}; valid: {', '.join(labels)}")
  from jaxnas.drivers.oneshot import SEARCH_CELL_BN  # pylint: disable=import-outside-toplevel
  C, N, B, H = (4, 1, 8, 16) if quick else (16, 5, 64, 32)
  repeats = 3 if quick else repeats
  net = jnn.supernet_nb201(10, C, N, cell_bn=SEARCH_CELL_BN)
  k = jax.random.key(0)
  x = jax.random.normal(k, (B, H, H, 3), jnp.float32)
  y = jnp.arange(B, dtype=jnp.int32) % 10
  steps_per_epoch = math.ceil(SEARCH_HALF / B)
  out = {"device": str(jax.devices()[0]), "backend": jax.default_backend(),
         "device_count": jax.device_count(), "cpu_count": os.cpu_count(),
         "setting": {"C": C, "N": N, "batch": B, "image": [H, H, 3], "images_per_step": 2 * B,
                     "repeats": repeats, "steps_per_25k_epoch": steps_per_epoch},
         "load_average": {"before": _load()}, "results": {}}
  reference = None
  if baseline == "torch":
    reference = _torch_reference()
    out["baseline"] = {"name": "torch", "available": reference is not None}
  if any(c in cases for c, _, _ in DARTS_CASES):
    out["setting"]["darts_space"] = {"C": 4 if quick else 16, "layers": 3 if quick else 8}
  for label, name, kw in CASES + EXTRA_CASES + DARTS_CASES:
    if label not in cases:
      continue
    load_before = _load()
    case_net = net
    if label.startswith("darts_space_"):
      case_net = jnn.compile("darts", None, 10, **out["setting"]["darts_space"],
                             cell_bn=SEARCH_CELL_BN)
    opt = oneshot_lib.make(name, case_net, epochs=50, steps_per_epoch=steps_per_epoch, **kw)
    prog = build_step(opt, (x, y))
    torch_case = TORCH_CASE.get(label, label)
    paired = reference is not None and torch_case in reference.CASES
    if paired:  # jaxnas and torch steps alternate (time_paired); the peak after the jaxnas
      # warm-up step, before torch builds its model
      mem, made = [], []

      def make_torch_step(torch_case=torch_case):
        kw = {"C": C, "N": N, "batch": B, "image": H}
        made.append(reference.ProcessStep(torch_case, **kw) if torch_process == "separate"
                    else reference.timed_step(torch_case, **kw))
        return made[0]
      try:
        r, ttimes, tloss = time_paired(prog, make_torch_step, repeats,
                                       on_warm=lambda: mem.append(_peak_memory()))
      finally:
        if made and hasattr(made[0], "close"):
          made[0].close()
      peak, source = mem[0]
    else:
      r = time_program(prog, repeats)
      peak, source = _peak_memory()
    out["results"][label] = {"step_ms": r["step_ms"], "step_ms_min": r["step_ms_min"],
                             "images_per_s": r["images_per_s"],
                             "epoch_25k_s": steps_per_epoch * r["step_ms"] / 1e3,
                             "compile_s": r["compile_s"], "init_compile_s": r["init_compile_s"],
                             "xla_buffers_mib": _xla_buffers_mib(prog.compiled), "peak_mib": peak,
                             "memory_source": source, "load_before": load_before,
                             "load_after": _load(), "train_loss": r["train_loss"],
                             "optimizer": name, "hyperparameters": kw}
    if paired:
      t = reference.summary(ttimes, tloss, getattr(made[0], "threads", None),
                            getattr(made[0], "version", None))
      out["results"][label].update(t, ratio_to_torch=r["step_ms"] / t["torch_step_ms"],
                                   ratio_to_torch_paired=r["ratio_paired"],
                                   timing="interleaved", torch_process=torch_process,
                                   torch_case=torch_case)
    _write(json_out, out)  # after every case: a run killed in a later case keeps the earlier ones
    if not quiet:  # progress on stderr: the full-size second-order case runs for many minutes
      r = out["results"][label]
      ref = (f", torch {r['torch_step_ms']:.1f} ms (x{r['ratio_to_torch']:.2f}, paired "
             f"x{r['ratio_to_torch_paired']:.2f})" if "torch_step_ms" in r else "")
      print(f"supernet bench {label}: compile {r['compile_s']:.1f} s, step {r['step_ms']:.1f} ms, "
            f"{r['images_per_s']:.1f} images/s{ref}, load {load_before} -> {r['load_after']}",
            file=sys.stderr, flush=True)
  out["load_average"]["after"] = _load()
  _write(json_out, out)
  return out


def _write(json_out: str | None, out: dict) -> None:
  if json_out:
    path = pathlib.Path(json_out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))


def fashion_search(*args, **kwargs) -> dict:
  """``jaxnas.drivers.oneshot.fashion_search`` (kept importable from here)."""
  from jaxnas.drivers.oneshot import fashion_search as run  # pylint: disable=import-outside-toplevel
  return run(*args, **kwargs)


if __name__ == "__main__":
  if sys.argv[1:2] == ["fashion"]:
    for opt_name in sys.argv[2].split(","):
      t = time.perf_counter()
      r = fashion_search(opt_name, f"/tmp/fashion_{opt_name}")
      h = r["history"]
      print(json.dumps({"optimizer": opt_name, "seconds": time.perf_counter() - t,
                        "compile_s": r["compile_seconds"], "train_loss": r["train_loss"],
                        "valid_accuracy": r["valid_accuracy"], "archs": r["archs"],
                        "best_arch": r["best_arch"], "cifar10_val": r["benchmark_val_accuracy"],
                        "cifar10_test": r["benchmark_test_accuracy"],
                        "first_last_step_loss": [h[0]["train_loss"], h[-1]["train_loss"]]}),
            flush=True)
  else:  # python -m jaxnas.optimizers.oneshot.bench [OUT] [--quick] [--cases a,b] [--repeats R]
    args = sys.argv[1:]
    opts = {"--cases": None, "--repeats": "10", "--baseline": None, "--torch-process": "separate"}
    for flag in opts:
      if flag in args:
        opts[flag] = args[args.index(flag) + 1]
    pos = [a for i, a in enumerate(args)
           if not a.startswith("--") and (i == 0 or args[i - 1] not in opts)]
    print(json.dumps(bench_supernet(pos[0] if pos else None, quick="--quick" in args,
                                    repeats=int(opts["--repeats"]),
                                    cases=opts["--cases"].split(",") if opts["--cases"] else None,
                                    baseline=opts["--baseline"],
                                    torch_process=opts["--torch-process"]),
                     indent=1))
