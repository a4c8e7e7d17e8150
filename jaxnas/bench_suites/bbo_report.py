"""``python -m jaxnas.bench bbo-report``: the measured black-box optimizer report (issue 6).

Two tables, each from as few compiled programs as possible: ONE per optimizer, because the
dataset axis (and the time budget) is vmapped together with the seed axis over per-dataset views
of the benchmark (:func:`stack_views`), ``jit(vmap_rows(vmap_seeds(scan)))``.

1. **Query budget** (:func:`query_table`): mean +- standard error of the best validation accuracy
   after 50 / 100 / 150 queries, and the 200-epoch test accuracy of the architecture returned at
   that point, for every optimizer (NASLib defaults) on cifar10, cifar100 and ImageNet16-120.
   Every query counts as one, including the 12-epoch ones of SH / Hyperband / BOHB (their best
   so far counts 200-epoch results only), so that table is not their fair comparison; the time
   budget is.
2. **Simulated time budget** (:func:`time_budget_table`): the NAS-Bench-201 paper's protocol
   (REA population 10 / sample 3 and RS rewarded with the 12-epoch validation accuracy; a query
   that would overrun the budget ends the search, ``R_EA.py``), Hyperband and BOHB on the 12- and
   200-epoch fidelities; mean test accuracy of the returned architecture over 500 runs, beside the
   paper's Table 5. Budgets: 12,000 s on every dataset (what the NAS-Bench-201 scripts
   ``scripts-search/NAS-Bench-201-algos/*.sh`` pass for any dataset) and NATS-Bench's larger
   20,000 / 40,000 / 120,000 s (``exps/NATS-algos/run-all.sh``).

The table needs the test accuracies and the 12-epoch fidelity: by default it is assembled in memory
from the embedded table and the shared data's ``nb201/nats_bench.csv`` and
``nb201/hp12_accuracy.csv`` (``$JAXNAS_SHARED_DATA``), or read from ``--benchmark-path`` (a table
built with ``python -m jaxnas.benchmarks build nasbench201 --test-accuracy-csv ... --hp12-csv
...``). Command (the numbers in ``docs/blackbox_results.md``)::

  python -m jaxnas.bench bbo-report --json bbo_report.json --markdown bbo_report.md

(``--parts sweep`` reruns one table into an existing JSON; ``--quick`` is the smoke test.)
"""

from __future__ import annotations

import functools
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.benchmarks import io, nb201_build
from jaxnas.paths import EMBEDDED_DIR, shared_data_dir

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
QUERY_OPTIMIZERS = ("rs", "re", "ls", "bananas", "npenas", "bp", "gp_bo", "sh", "hb", "bohb")
CHECKPOINTS = (50, 100, 150)
VIEW = "dataset"  # the single dataset name of a per-dataset view of the benchmark

# (name, hyperparameters, reward epoch) of the time-budget protocol; None = the top fidelity
BUDGET_SETTINGS = (
    ("re", {"population_size": 10, "sample_size": 3}, 12),
    ("rs", {}, 12),
    ("hb", {}, None),
    ("bohb", {}, None),
)
NB201_BUDGET = 12000.0  # scripts-search/NAS-Bench-201-algos/{R-EA,Random,BOHB}.sh, every dataset
NATS_BUDGETS = {"cifar10": 20000.0, "cifar100": 40000.0, "ImageNet16-120": 120000.0}
# REA and RS between the two: which budget do the paper's cifar100 / ImageNet16-120 numbers need?
SWEEP_BUDGETS = {"cifar100": (12000.0, 20000.0, 30000.0, 40000.0),
                 "ImageNet16-120": (12000.0, 30000.0, 60000.0, 90000.0, 120000.0)}
PARTS = ("query", "budget", "sweep")

# NAS-Bench-201 (Dong & Yang, ICLR 2020), Table 5: mean +- std over 500 runs, 12,000 s budget;
# (validation, test) accuracy per dataset (cifar10: cifar10-valid validation, cifar10 test).
# Transcribed for the comparison column only; nothing here is computed from them.
PAPER = {
    "re": {"cifar10": ((91.19, 0.31), (93.92, 0.30)), "cifar100": ((71.81, 1.12), (71.84, 0.99)),
           "ImageNet16-120": ((45.15, 0.89), (45.54, 1.03))},
    "rs": {"cifar10": ((90.93, 0.36), (93.70, 0.36)), "cifar100": ((70.93, 1.09), (71.04, 1.07)),
           "ImageNet16-120": ((44.45, 1.10), (44.57, 1.25))},
    "bohb": {"cifar10": ((90.82, 0.53), (93.61, 0.52)), "cifar100": ((70.74, 1.29), (70.85, 1.28)),
             "ImageNet16-120": ((44.26, 1.36), (44.42, 1.49))},
}


def load_table(path=None) -> bm.Benchmark:
  """The NB201 table with test accuracy and the 12-epoch fidelity: ``path`` (a built ``.npz``) or,
  when None, the embedded table plus the shared data's CSVs, assembled in memory."""
  if path:
    bench = bm.load("nasbench201", path)
  else:
    d = shared_data_dir() / "nb201"
    test_csv, hp12_csv = d / "nats_bench.csv", d / "hp12_accuracy.csv"
    for f in (test_csv, hp12_csv):
      if not f.is_file():
        raise FileNotFoundError(f"{f} not found: set JAXNAS_SHARED_DATA, or pass --benchmark-path "
                                "a table built with --test-accuracy-csv and --hp12-csv")
    arrays = io.load_arrays(EMBEDDED_DIR / "nasbench201.npz", nb201_build.BUILD_HINT)
    arrays = nb201_build.add_hp12(nb201_build.add_test_accuracy(arrays, test_csv), hp12_csv)
    bench = bm.from_arrays(arrays)
  for metric, epoch in (("test_accuracy", None), ("val_accuracy", 12), ("train_time", None)):
    bm.resolve(bench, metric, DATASETS[0], epoch)  # a clear error if the table lacks one
  return bench


def dataset_view(bench: bm.Benchmark, dataset: str) -> bm.Benchmark:
  """The benchmark restricted to one dataset, renamed :data:`VIEW` (views of different datasets
  then share their static fields and stack into one batched pytree)."""
  d = bench.dataset_index(dataset)
  sl = lambda t: t[d:d + 1]  # noqa: E731
  return bench.replace(tables={k: sl(v) for k, v in bench.tables.items()},
                       seed_means={k: sl(v) for k, v in bench.seed_means.items()},
                       num_seeds=sl(bench.num_seeds), datasets=(VIEW,))


def stack_views(bench: bm.Benchmark, datasets) -> bm.Benchmark:
  """Per-dataset views stacked on a leading row axis (a dataset may repeat)."""
  views = [dataset_view(bench, d) for d in datasets]
  return jax.tree.map(lambda *xs: jnp.stack(xs), *views)


def run_rows(bench: bm.Benchmark, *, optimizer, space, datasets, num_queries: int, num_seeds: int,
             budgets=None, epoch=None, seed: int = 0):
  """Runs ``num_seeds`` searches on every row (a dataset, and a time budget when ``budgets`` is
  given) as ONE compiled program. Row ``r``, seed ``i`` is the search that
  ``loops.run(..., dataset=datasets[r], seed=seed, time_budget=budgets[r])`` makes for seed ``i``.

  Returns:
    ``(outputs, compile_seconds, run_seconds)``; every leaf of ``outputs`` (a
    :class:`~jaxnas.loops.StepOutput` of numpy arrays) has leading axes ``[rows, seeds, steps]``.
  """
  datasets = tuple(datasets)
  objective = loops.Objective(dataset=VIEW, epoch=epoch)
  first = dataset_view(bench, datasets[0])
  loops.check_objective(first, optimizer, objective)  # fail before compiling
  if num_queries < optimizer.num_ask:
    raise ValueError(f"num_queries must be >= {optimizer.num_ask}, got {num_queries}")
  search = functools.partial(loops.search, optimizer=optimizer, space=space, objective=objective,
                             num_queries=num_queries)
  keys = loops.seed_keys(seed, num_seeds)
  stacked = stack_views(bench, datasets)
  if budgets is None:
    fn = jax.vmap(jax.vmap(search, in_axes=(0, None)), in_axes=(None, 0))
    args = (keys, stacked)
  else:
    if len(budgets) != len(datasets):
      raise ValueError(f"need one budget per row: {len(budgets)} budgets, {len(datasets)} rows")
    for b in budgets:
      if loops.check_time_budget(first, b) is None:
        raise ValueError(f"time budgets must be > 0 seconds, got {b}")
    # the budget is traced, so rows with different budgets share the program
    per_seed = lambda k, b, t: search(k, b, time_budget=t)  # noqa: E731
    fn = jax.vmap(jax.vmap(per_seed, in_axes=(0, None, None)), in_axes=(None, 0, 0))
    args = (keys, stacked, jnp.asarray(budgets, jnp.float32))
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  t1 = time.perf_counter()
  out = jax.block_until_ready(compiled(*args))
  t2 = time.perf_counter()
  return jax.tree.map(np.asarray, out), t1 - t0, t2 - t1


def _stats(v) -> dict:
  """Mean, standard error, std and count of the finite values."""
  v = np.asarray(v, float)
  v = v[np.isfinite(v)]
  n = len(v)
  if n == 0:
    return {"mean": float("nan"), "se": float("nan"), "std": float("nan"), "n": 0}
  std = float(v.std(ddof=1)) if n > 1 else 0.0
  return {"mean": float(v.mean()), "se": std / np.sqrt(n), "std": std, "n": n}


def query_table(bench, *, names=QUERY_OPTIMIZERS, datasets=DATASETS, num_seeds: int = 100,
                checkpoints=CHECKPOINTS, seeds_for=None, log=print, progress=None) -> list[dict]:
  """Table 1: per (optimizer, dataset), best validation accuracy and the returned architecture's
  test accuracy at each checkpoint (queries). ``seeds_for``: ``{name: num_seeds}`` overrides;
  ``progress(rows)`` is called after each optimizer."""
  space = spaces.get_space("nasbench201")
  rows = []
  for name in names:
    opt = optimizers.make(name, space)
    n = (seeds_for or {}).get(name, num_seeds)
    out, compile_s, run_s = run_rows(bench, optimizer=opt, space=space, datasets=datasets,
                                     num_queries=max(checkpoints), num_seeds=n)
    for r, ds in enumerate(datasets):
      row = {"optimizer": name, "dataset": ds, "num_seeds": n, "compile_seconds": compile_s,
             "run_seconds": run_s, "seconds_per_seed_run": run_s / (n * len(datasets))}
      for q in checkpoints:
        j = q // opt.num_ask - 1
        found = np.isfinite(out.best_fitness[r, :, j])  # SH/HB/BOHB: a 200-epoch result exists
        best = jax.tree.map(lambda x, r=r, j=j: x[r, :, j], out.best_arch)  # Arch[seeds]
        test = np.asarray(bm.lookup(bench, space, best, "test_accuracy", ds), float)
        row[f"val@{q}"] = _stats(out.best_fitness[r, :, j])
        row[f"test@{q}"] = _stats(np.where(found, test, np.nan))
      rows.append(row)
    last = max(checkpoints)
    log(f"{name}: {n} seeds x {len(datasets)} datasets x {last} queries, compile "
        f"{compile_s:.1f} s, run {run_s:.1f} s ({run_s / (n * len(datasets)):.3f} s per seed-run); "
        + ", ".join(f"{r['dataset']} val@{last} {r[f'val@{last}']['mean']:.2f}"
                    for r in rows[-len(datasets):]))
    if progress:
      progress(rows)
  return rows


def time_budget_table(bench, *, settings=BUDGET_SETTINGS, datasets=DATASETS, num_seeds: int = 500,
                      nats_budgets: bool = True, max_queries: int = 700, grid=None,
                      log=print) -> list[dict]:
  """Table 2: the NAS-Bench-201 simulated-budget protocol (see the module docstring); rows are
  (dataset, budget) pairs: ``grid``, or 12,000 s on every dataset plus NATS-Bench's budgets."""
  space = spaces.get_space("nasbench201")
  if grid is None:
    grid = [(ds, NB201_BUDGET) for ds in datasets]
    if nats_budgets:
      grid += [(ds, NATS_BUDGETS[ds]) for ds in datasets]
  rows = []
  for name, hp, epoch in settings:
    opt = optimizers.make(name, space, **hp)
    out, compile_s, run_s = run_rows(bench, optimizer=opt, space=space,
                                     datasets=[g[0] for g in grid], budgets=[g[1] for g in grid],
                                     num_queries=max_queries, num_seeds=num_seeds, epoch=epoch)
    for r, (ds, budget) in enumerate(grid):
      best = jax.tree.map(lambda x, r=r: x[r, :, -1], out.best_arch)  # Arch[seeds]
      found = np.isfinite(out.best_fitness[r, :, -1])
      def q(metric, best=best, found=found, ds=ds):
        return np.where(found, np.asarray(bm.lookup(bench, space, best, metric, ds), float),
                        np.nan)
      row = {"optimizer": name, "hyperparameters": hp, "reward_epoch": epoch or 200,
             "dataset": ds, "time_budget": budget, "num_seeds": num_seeds,
             "test_accuracy": _stats(q("test_accuracy")), "val_accuracy": _stats(q("val_accuracy")),
             "queries": _stats(out.counted[r].sum(-1) * opt.num_ask),
             "queries_200_epoch": _stats(
                 ((out.epoch[r] == 200) & out.counted[r][..., None]).sum((-2, -1))),
             "simulated_seconds": _stats(out.train_time[r].sum(-1)),
             "unfinished_seeds": int(out.counted[r, :, -1].sum()),
             "no_result_seeds": int((~found).sum()),
             "compile_seconds": compile_s, "run_seconds": run_s}
      if row["unfinished_seeds"]:
        log(f"warning: {name} {ds} {budget:.0f} s: {row['unfinished_seeds']} seeds did not spend "
            f"the budget within {max_queries} queries")
      rows.append(row)
    log(f"{name}: {num_seeds} seeds x {len(grid)} (dataset, budget) rows, compile "
        f"{compile_s:.1f} s, run {run_s:.1f} s; " + ", ".join(
            f"{r['dataset']}@{r['time_budget']:.0f}s test {r['test_accuracy']['mean']:.2f}"
            for r in rows[-len(grid):]))
  return rows


def budget_sweep(bench, *, num_seeds: int = 500, budgets=None, max_queries: int = 700,
                 log=print) -> list[dict]:
  """Table 3: REA and RS (the paper's settings) over a range of budgets per dataset."""
  budgets = SWEEP_BUDGETS if budgets is None else budgets
  grid = [(ds, float(b)) for ds, bs in budgets.items() for b in bs]
  settings = tuple(s for s in BUDGET_SETTINGS if s[0] in ("re", "rs"))
  return time_budget_table(bench, settings=settings, num_seeds=num_seeds, grid=grid,
                           max_queries=max_queries, log=log)


def _pm(s: dict, key: str = "se", digits: int = 2) -> str:
  if not s or s.get("n", 1) == 0 or not np.isfinite(s["mean"]):
    return "n/a"
  return f"{s['mean']:.{digits}f} ± {s[key]:.{digits}f}"


def markdown(report: dict) -> str:
  """The report's tables as markdown."""
  lines = []
  q = report.get("query_table") or []
  if q:
    cps = report["checkpoints"]
    for ds in dict.fromkeys(r["dataset"] for r in q):
      lines += [f"#### {ds}: best validation accuracy / test accuracy of the returned architecture "
                "(mean ± standard error)", ""]
      head = (["optimizer", "seeds"] + [f"val @{c}" for c in cps] + [f"test @{c}" for c in cps])
      lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
      for r in (r for r in q if r["dataset"] == ds):
        cells = [r["optimizer"], str(r["num_seeds"])]
        cells += [_pm(r[f"val@{c}"]) for c in cps] + [_pm(r[f"test@{c}"]) for c in cps]
        lines.append("| " + " | ".join(cells) + " |")
      lines.append("")
    lines += ["#### Cost (one compiled program per optimizer for all three datasets)", "",
              "| optimizer | seeds x datasets | compile (s) | run (s) | per seed-run |",
              "|---|---|---|---|---|"]
    for r in {r["optimizer"]: r for r in q}.values():
      n_ds = sum(1 for x in q if x["optimizer"] == r["optimizer"])
      per = r["seconds_per_seed_run"]
      per = f"{per:.3f} s" if per >= 0.01 else f"{per * 1e6:.0f} µs"
      lines.append(f"| {r['optimizer']} | {r['num_seeds']} x {n_ds} | {r['compile_seconds']:.1f} | "
                   f"{r['run_seconds']:.2f} | {per} |")
    lines.append("")
  t = report.get("time_budget_table") or []
  if t:
    lines += ["#### Simulated training-time budget: final (200-epoch) accuracy of the returned "
              "architecture", "",
              "mean ± standard error (std in brackets, as the paper reports std); paper: "
              "NAS-Bench-201 Table 5, mean ± std over 500 runs at 12,000 s", "",
              "| dataset | budget (s) | optimizer | runs | queries (200-epoch) | val | test (std) "
              "| paper val | paper test |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(t, key=lambda r: (DATASETS.index(r["dataset"]) if r["dataset"] in DATASETS
                                      else 9, r["time_budget"])):
      paper = PAPER.get(r["optimizer"], {}).get(r["dataset"]) if r["time_budget"] == NB201_BUDGET \
          else None
      pv = f"{paper[0][0]:.2f} ± {paper[0][1]:.2f}" if paper else ""
      pt = f"{paper[1][0]:.2f} ± {paper[1][1]:.2f}" if paper else ""
      name = r["optimizer"] + (" (pop 10, sample 3)" if r["optimizer"] == "re" else "")
      test = r["test_accuracy"]
      runs = str(r["num_seeds"]) + (f" ({r['no_result_seeds']} without a 200-epoch result)"
                                    if r["no_result_seeds"] else "")
      lines.append(
          f"| {r['dataset']} | {r['time_budget']:,.0f} | {name} | {runs} | "
          f"{r['queries']['mean']:.1f} ({r['queries_200_epoch']['mean']:.1f}) | "
          f"{_pm(r['val_accuracy'])} | {_pm(test)} ({test['std']:.2f}) | {pv} | {pt} |")
    lines.append("")
  sw = report.get("budget_sweep") or []
  if sw:
    lines += ["#### REA and RS test accuracy against the budget (mean ± standard error; queries "
              "in brackets)", "",
              "| dataset | budget (s) | REA | RS | paper REA (12,000 s) | paper RS (12,000 s) |",
              "|---|---|---|---|---|---|"]
    by = {(r["dataset"], r["time_budget"], r["optimizer"]): r for r in sw}
    for ds, budget in dict.fromkeys((r["dataset"], r["time_budget"]) for r in sw):
      cells = []
      for name in ("re", "rs"):
        r = by.get((ds, budget, name))
        cells.append(f"{_pm(r['test_accuracy'])} ({r['queries']['mean']:.0f})" if r else "")
      for name in ("re", "rs"):
        paper = PAPER.get(name, {}).get(ds)
        cells.append(f"{paper[1][0]:.2f} ± {paper[1][1]:.2f}" if paper else "")
      lines.append(f"| {ds} | {budget:,.0f} | " + " | ".join(cells) + " |")
    lines.append("")
  return "\n".join(lines)


def run(json_out=None, quick: bool = False, num_seeds: int = 100, gp_seeds: int | None = None,
        budget_seeds: int = 500, names=None, benchmark_path=None, markdown_out=None,
        nats_budgets: bool = True, parts=PARTS) -> dict:
  """Runs the tables; returns (and writes to ``json_out`` / ``markdown_out``) the report.

  Args:
    quick: a smoke test (4 seeds, checkpoints 10/20/30, RS and Hyperband; REA only, 16 runs, at
      12,000 s only, in the budget table): checks the pipeline, measures nothing.
    num_seeds: seeds per (optimizer, dataset) of the query table.
    gp_seeds: seeds for ``gp_bo`` (None: ``num_seeds``), the slowest optimizer.
    budget_seeds: runs per row of the time-budget table (the paper: 500).
    names: optimizers of the query table (default: all ten).
    benchmark_path: a built table (default: assembled from the shared data).
    nats_budgets: also run NATS-Bench's per-dataset budgets.
    parts: which tables: ``query`` (1), ``budget`` (2), ``sweep`` (3). A JSON file already at
      ``json_out`` keeps the tables not rerun (results are deterministic per seed).
  """
  bad = [p for p in parts if p not in PARTS]
  if bad or not parts:
    raise ValueError(f"unknown report parts {bad}; valid: {', '.join(PARTS)}")
  for n in names or ():
    optimizers.hyperparameters(n)  # an unknown name fails here, before anything runs
  bench = load_table(benchmark_path)
  checkpoints = CHECKPOINTS
  settings = BUDGET_SETTINGS
  if quick:
    num_seeds, budget_seeds, checkpoints, nats_budgets = 4, 16, (10, 20, 30), False
    names = names or ("rs", "hb")
    settings = tuple(s for s in BUDGET_SETTINGS if s[0] == "re")
  names = tuple(names or QUERY_OPTIMIZERS)
  report = {}
  if json_out and pathlib.Path(json_out).is_file() and set(parts) != set(PARTS):
    import json  # pylint: disable=import-outside-toplevel
    report = json.loads(pathlib.Path(json_out).read_text())
  report.update({"checkpoints": list(checkpoints), "device": str(jax.devices()[0].device_kind),
                 "num_devices": jax.device_count(), "benchmark_source": bench.source})
  wall = report.setdefault("wall_seconds", {})

  def write():
    if json_out:
      from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
      write_json(pathlib.Path(json_out), report)

  def partial(rows):
    report["query_table"] = rows
    write()

  if "query" in parts:
    t0 = time.perf_counter()
    report["query_table"] = query_table(
        bench, names=names, num_seeds=num_seeds, checkpoints=checkpoints,
        seeds_for={"gp_bo": gp_seeds} if gp_seeds else None, progress=partial)
    wall["query"] = time.perf_counter() - t0
  if "budget" in parts:
    t0 = time.perf_counter()
    report["time_budget_table"] = time_budget_table(
        bench, settings=settings, num_seeds=budget_seeds, nats_budgets=nats_budgets,
        max_queries=150 if quick else 700)
    wall["budget"] = time.perf_counter() - t0
    write()
  if "sweep" in parts and not quick:
    t0 = time.perf_counter()
    report["budget_sweep"] = budget_sweep(bench, num_seeds=budget_seeds)
    wall["sweep"] = time.perf_counter() - t0
  write()
  md = markdown(report)
  print(md, flush=True)
  if markdown_out:
    pathlib.Path(markdown_out).write_text(md + "\n")
  return report
