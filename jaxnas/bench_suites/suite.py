"""``python -m jaxnas.bench suite``: every black-box optimizer on every tabular task (issue 13).

NAS-Bench-Suite (Mehta et al., ICLR 2022) found that conclusions drawn on one benchmark do not
transfer to others; this suite runs each optimizer on each (space, dataset) task and writes one
table, so the claim can be checked here.

Tasks are **discovered from the registries**: every benchmark in ``jaxnas.benchmarks.BENCHMARKS``
whose space is registered in ``jaxnas.spaces.SPACES``, every dataset of its table. A table is the
embedded one (``nasbench201``, ``nasbench_graph``) or is built from ``$JAXNAS_SHARED_DATA`` into a
cache folder (:data:`SHARED_SOURCES`: the registry entry's ``shared_build`` when it declares one,
else the benchmark's ``python -m jaxnas.benchmarks build NAME`` command with the shared file); a
task whose data is absent is skipped with a printed note. With the issue's five benchmarks that
is NB201 x3, TNB micro x7, TNB macro x7, NB-Macro x1, NB-Graph x9 = 27 tasks.

Each optimizer runs with NASLib's default hyperparameters (``jaxnas.optimizers.BLACKBOX``), except
where a space lacks what a default names: BANANAS/NPENAS's ``path`` encoding falls back to
``adjacency_one_hot`` on spaces without one, and multi-fidelity optimizers get the table's declared
fidelities (one, the final epoch, on every table here: Hyperband's brackets collapse to full
budget evaluations and BOHB is its TPE model). A benchmark entry's ``space_options`` (per
dataset) make the space for that dataset (NB-Graph's proteins: only its five ops). All datasets
of one table that share space options run as ONE compiled program per optimizer
(``bbo_report.run_rows``: datasets vmapped with the seeds).

Output (``--json``): ``tasks[]`` with ``space``, ``dataset``, ``metric``, ``higher_is_better``,
``optimum``, ``num_archs``, ``results[]`` (``optimizer``, ``seeds``, ``queries``, ``mean_best`` at
the last query, ``sem``, ``mean_best_at`` {"50", "100", "150"}, ``seconds_per_seed_run``, and
``cpu_seconds_per_seed_run``: the process CPU time, all threads, less inflated by load), and
``average_rank`` (optimizer -> mean over tasks of its rank by ``mean_best``, 1 = best, ties
averaged). ``--markdown``: normalised regret per task and the average ranks, with the command,
wall time and machine load. ``--predictors``: Kendall tau of predictors at 100 and 400 training
architectures (:func:`predictor_table`).
"""

from __future__ import annotations

import os
import pathlib
import platform
import shlex
import sys
import time

import jax
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.bench_suites import bbo_report
from jaxnas.paths import shared_data_dir

CHECKPOINTS = (50, 100, 150)
# benchmark name -> (shared-data file, build-command option naming it): how a table without an
# embedded file and without a registry ``shared_build`` is built from the shared data.
SHARED_SOURCES = {
    "transnas101_micro": ("transnas101/tnb101_micro_zen.zip", "--zip"),
    "transnas101_macro": ("transnas101/tnb101_macro_zen.zip", "--zip"),
    "nasbench_macro": ("nas_bench_macro/nas-bench-macro_cifar10.json", "--json"),
}
# predictor part: benchmark -> tasks, and the predictors compared (fast, strong on NB201)
PREDICTOR_TASKS = {"transnas101_micro": ("jigsaw", "class_scene"),
                   "transnas101_macro": ("jigsaw", "class_scene"),
                   "nasbench_macro": None}  # None: every dataset of the table
PREDICTORS = ("blr", "gp", "mlp_ensemble", "xgboost", "lightgbm", "random_forest")


def default_cache_dir() -> pathlib.Path:
  """``$JAXNAS_CACHE`` or ``~/.cache/jaxnas``, ``/suite_tables``."""
  root = os.environ.get("JAXNAS_CACHE") or (pathlib.Path.home() / ".cache" / "jaxnas")
  return pathlib.Path(root) / "suite_tables"


def load_table(name: str, cache_dir=None, log=print) -> bm.Benchmark | None:
  """Benchmark ``name``: its embedded table, else a table built from the shared data into
  ``cache_dir`` (reused while newer than its source); None (with a printed note) when absent."""
  info = bm.BENCHMARKS[name]
  if info.get("embedded") is not None:
    return bm.load(name)
  cache = pathlib.Path(cache_dir or default_cache_dir())
  out = cache / f"{name}.npz"
  builder = info.get("shared_build")
  src_rel, flag = SHARED_SOURCES.get(name, (None, None))
  src = shared_data_dir() / src_rel if src_rel else None
  if builder is None and src is None:
    log(f"note: skipping benchmark {name}: no embedded table and no known shared-data source")
    return None
  if src is not None and not src.is_file():
    log(f"note: skipping benchmark {name}: {src} not found (set JAXNAS_SHARED_DATA)")
    return None
  if not out.is_file() or (src is not None and out.stat().st_mtime < src.stat().st_mtime):
    cache.mkdir(parents=True, exist_ok=True)
    try:
      if builder is not None:
        from jaxnas.benchmarks import io  # pylint: disable=import-outside-toplevel
        io.save(out, builder(shared_data_dir()))
      else:
        from jaxnas.benchmarks import __main__ as build_cli  # pylint: disable=import-outside-toplevel
        rc = build_cli.main(["build", name, flag, str(src), "--out", str(out)])
        if rc != 0:
          raise ValueError(f"build command exited {rc}")
    except (SystemExit, ValueError, FileNotFoundError) as e:
      log(f"note: skipping benchmark {name}: building its table from {src} failed ({e})")
      return None
  return bm.load(name, out)


def task_metric(bench) -> str:
  """The searched metric: ``val_accuracy`` where the table has it, else its first declared one."""
  names = bench.metric_names()
  return "val_accuracy" if "val_accuracy" in names else names[0]


def discover(cache_dir=None, tasks=None, log=print) -> list[tuple[str, str, bm.Benchmark]]:
  """``[(benchmark name, dataset, table)]`` for every registered benchmark whose space is
  registered, every dataset (or only ``tasks``: ``SPACE/DATASET`` strings)."""
  wanted = None
  if tasks:
    wanted = [t.split("/", 1) for t in tasks]
    bad = [t for t in tasks if "/" not in t or t.split("/", 1)[0] not in bm.BENCHMARKS]
    if bad:
      raise ValueError(f"unknown task {bad[0]!r}; tasks are SPACE/DATASET with SPACE one of "
                       f"{', '.join(bm.BENCHMARKS)}")
  out = []
  for name, info in bm.BENCHMARKS.items():
    if info.get("space") not in spaces.SPACES:
      continue
    if wanted is not None and name not in {w[0] for w in wanted}:
      continue
    bench = load_table(name, cache_dir, log)
    if bench is None:
      continue
    datasets = bench.datasets
    if wanted is not None:
      datasets = [bench.datasets[bench.dataset_index(d)] for n, d in wanted if n == name]
    out += [(name, d, bench) for d in datasets]
  return out


def _hparams(name: str, space, bench, metric: str, dataset: str) -> dict:
  """NASLib's defaults, adapted where the space or table lacks what a default names."""
  defaults = optimizers.hyperparameters(name)
  hp = {}
  if defaults.get("encoding_type") == "path" and "path" not in dict(space.encoding_dims):
    hp["encoding_type"] = ("adjacency_one_hot" if "adjacency_one_hot" in dict(space.encoding_dims)
                           else space.encodings[0])
  if "fidelities" in defaults:
    declared = bench.metric(metric).fidelities
    hp["fidelities"] = tuple(declared) if len(declared) >= 2 else (
        loops.target_epoch(bench, loops.Objective(dataset=dataset, metric=metric)),)
  return hp


def _rank(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
  """Ranks (1 = best) with ties averaged; NaN values rank last."""
  v = np.where(np.isfinite(values), values, -np.inf if higher_is_better else np.inf)
  key = -v if higher_is_better else v
  order = np.argsort(key, kind="stable")
  ranks = np.empty(len(v))
  ranks[order] = np.arange(1, len(v) + 1)
  for u in np.unique(key):
    tie = key == u
    ranks[tie] = ranks[tie].mean()
  return ranks


def average_rank(tasks: list[dict]) -> dict[str, float]:
  """Optimizer -> mean rank over the tasks it ran on (ranks by ``mean_best`` per task)."""
  ranks: dict[str, list[float]] = {}
  for t in tasks:
    names = [r["optimizer"] for r in t["results"]]
    rk = _rank(np.array([r["mean_best"] for r in t["results"]], float), t["higher_is_better"])
    for n, r in zip(names, rk):
      ranks.setdefault(n, []).append(float(r))
  return {n: float(np.mean(v)) for n, v in ranks.items()}


def _run_rows(bench, opt, space, datasets, metric: str, num_queries: int, num_seeds: int,
              repeats: int = 1):
  """``bbo_report.run_rows`` for any metric: ``num_seeds`` searches per dataset, the datasets
  vmapped with the seeds in ONE compiled program; (outputs [rows, seeds, steps], compile s, (run s,
  process CPU s)), each the smallest of ``repeats`` executions: a loaded machine's stalls inflate
  wall time, much less the CPU time the run itself used)."""
  import functools  # pylint: disable=import-outside-toplevel
  objective = loops.Objective(dataset=bbo_report.VIEW, metric=metric)
  loops.check_objective(bbo_report.dataset_view(bench, datasets[0]), opt, objective)
  if num_queries < opt.num_ask:
    raise ValueError(f"queries must be >= {opt.num_ask} for this optimizer, got {num_queries}")
  search = functools.partial(loops.search, optimizer=opt, space=space, objective=objective,
                             num_queries=num_queries)
  keys = loops.seed_keys(0, num_seeds)
  stacked = bbo_report.stack_views(bench, datasets)
  fn = jax.vmap(jax.vmap(search, in_axes=(0, None)), in_axes=(None, 0))
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(keys, stacked).compile()
  t1 = time.perf_counter()
  run_s = cpu_s = float("inf")
  for _ in range(max(1, repeats)):
    t2, c2 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(compiled(keys, stacked))
    run_s = min(run_s, time.perf_counter() - t2)
    cpu_s = min(cpu_s, time.process_time() - c2)
  return jax.tree.map(np.asarray, out), t1 - t0, (run_s, cpu_s)


def _table_stats(bench, metric, dataset) -> tuple[float, float, int]:
  """(optimum, worst, entries) of ``metric`` on ``dataset`` over the table's present entries."""
  key, d = bm.resolve(bench, metric, dataset)
  t = np.asarray(bench.seed_means.get(key, bench.tables[key])[d], float)
  t = t[np.isfinite(t)]
  hib = bench.higher_is_better(metric)
  return (float(t.max()), float(t.min()), len(t)) if hib else (float(t.min()), float(t.max()), len(t))


def run_tasks(tasks, names, *, num_seeds: int, num_queries: int, seeds_for=None, repeats: int = 1,
              log=print) -> list[dict]:
  """Runs every optimizer on every task; returns the JSON ``tasks`` list (see the module doc)."""
  checkpoints = sorted({q for q in CHECKPOINTS if q <= num_queries} | {num_queries})
  rows = {}
  # group datasets of one table that share space options: one compiled program per optimizer
  groups: dict[tuple, list] = {}
  for name, ds, bench in tasks:
    opts = dict(bm.BENCHMARKS[name].get("space_options", {}).get(ds, {}))
    groups.setdefault((name, tuple(sorted(opts.items()))), []).append((ds, bench))
  for (name, opts), members in groups.items():
    bench = members[0][1]
    datasets = [ds for ds, _ in members]
    space = spaces.get_space(bm.BENCHMARKS[name]["space"], **dict(opts))
    metric = task_metric(bench)
    hib = bench.higher_is_better(metric)
    for ds in datasets:
      opt_val, worst, count = _table_stats(bench, metric, ds)
      rows[(name, ds)] = {"space": bench.space_name, "dataset": ds, "metric": metric,
                          "higher_is_better": hib, "optimum": opt_val, "worst": worst,
                          "num_archs": count, "space_options": dict(opts), "results": []}
    for opt_name in names:
      n = (seeds_for or {}).get(opt_name, num_seeds)
      opt = optimizers.make(opt_name, space, **_hparams(opt_name, space, bench, metric, datasets[0]))
      out, compile_s, (run_s, cpu_s) = _run_rows(bench, opt, space, datasets, metric, num_queries, n,
                                          repeats)
      for r, ds in enumerate(datasets):
        at = {}
        for q in checkpoints:
          j = q // opt.num_ask - 1
          at[str(q)] = float(np.nanmean(np.where(np.isfinite(out.best_fitness[r, :, j]),
                                                 out.best_fitness[r, :, j], np.nan)))
        last = out.best_fitness[r, :, num_queries // opt.num_ask - 1].astype(float)
        last = last[np.isfinite(last)]
        rows[(name, ds)]["results"].append({
            "optimizer": opt_name, "seeds": n, "queries": num_queries,
            "mean_best": float(last.mean()) if len(last) else float("nan"),
            "sem": float(last.std(ddof=1) / np.sqrt(len(last))) if len(last) > 1 else 0.0,
            "mean_best_at": at, "seconds_per_seed_run": run_s / (n * len(datasets)),
            "compile_seconds": compile_s, "cpu_seconds_per_seed_run": cpu_s / (n * len(datasets))})
      log(f"{name} [{', '.join(datasets)}] {opt_name}: {n} seeds x {num_queries} queries, compile "
          f"{compile_s:.1f} s, run {run_s:.2f} s ({run_s / (n * len(datasets)) * 1e6:.0f} us per "
          "seed-run; "
          f"{cpu_s / (n * len(datasets)) * 1e6:.0f} us of process CPU time)")
  return [rows[(name, ds)] for name, ds, _ in tasks if (name, ds) in rows]


def normalised_regret(task: dict, mean_best: float) -> float:
  """(optimum - mean best) / (optimum - worst entry), in the metric's direction: 0 = optimum."""
  span = task["optimum"] - task["worst"]
  return float((task["optimum"] - mean_best) / span) if span else 0.0


def predictor_table(tasks_of=None, predictors=PREDICTORS, train_sizes=(100, 400),
                    num_test: int = 1000, num_seeds: int = 3, cache_dir=None, log=print) -> list[dict]:
  """Kendall tau (mean over ``num_seeds``) of each predictor at each training size on
  :data:`PREDICTOR_TASKS`, through ``jaxnas.evaluate.predictors`` (NASLib's protocol)."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  from jaxnas.evaluate import predictors as ev  # pylint: disable=import-outside-toplevel
  cfg = ml_collections.ConfigDict(dict(encoding="adjacency_one_hot", target_transform="log_gap",
                                       score_features="params", hparams={}))
  rows = []
  for name, datasets in (tasks_of or PREDICTOR_TASKS).items():
    if name not in bm.BENCHMARKS or bm.BENCHMARKS[name].get("space") not in spaces.SPACES:
      log(f"note: predictors: benchmark {name} is not registered here, skipped")
      continue
    bench = load_table(name, cache_dir, log)
    if bench is None:
      continue
    metric = task_metric(bench)
    for ds in datasets or bench.datasets:
      y = np.asarray(bm.query(bench, np.arange(bench.num_archs), metric, ds), np.float32)
      for p in predictors:
        try:
          pred, x = ev.build(p, cfg, bench, ds)
        except (ImportError, ValueError) as e:
          log(f"note: predictor {p} on {name}/{ds} skipped ({e})")
          continue
        res = ev.evaluate_predictor(pred, x, y, train_sizes=train_sizes, num_test=num_test,
                                    num_seeds=num_seeds)
        row = {"space": name, "dataset": ds, "predictor": p,
               **{f"kendall_tau@{s}": res[str(s)]["kendall_tau"] for s in train_sizes}}
        rows.append(row)
        log(f"predictors {name}/{ds} {p}: " + ", ".join(
            f"tau@{s} {res[str(s)]['kendall_tau']:.3f}" for s in train_sizes))
  return rows


def _seeds_of(report: dict, name: str) -> str:
  """``"SEEDS x QUERIES"`` of optimizer ``name`` (from its first result)."""
  for t in report["tasks"]:
    for r in t["results"]:
      if r["optimizer"] == name:
        return f"{r['seeds']} x {r['queries']}"
  return "-"


def markdown(report: dict) -> str:
  """Normalised regret per task and average ranks, with the command, wall time and load."""
  tasks = report["tasks"]
  names = list(report["average_rank"])
  lines = ["# Cross-space black-box suite", "",
           "```bash", report["command"], "```", "",
           f"Wall time {report['wall_seconds'] / 60:.1f} min on {report['machine']}; load average "
           f"{report['load_before']} before, {report['load_after']} after. "
           f"{len(tasks)} tasks. Seeds x queries per optimizer: "
           + ", ".join(f"{n} {_seeds_of(report, n)}"
                       for n in report["average_rank"]) + ".", "",
           "Normalised regret of the mean best (at the last query) = (optimum - mean best) / "
           "(optimum - worst entry), in the metric's direction: 0 = the table's optimum, 1 = its "
           "worst entry. Bold: the best optimizer of the task.", "",
           "| task | metric | optimum | " + " | ".join(names) + " |",
           "|---|---|---|" + "---|" * len(names)]
  for t in tasks:
    by = {r["optimizer"]: r for r in t["results"]}
    regs = {n: normalised_regret(t, by[n]["mean_best"]) for n in names if n in by}
    best = min(regs.values()) if regs else None
    cells = [(f"**{regs[n]:.4f}**" if regs[n] == best else f"{regs[n]:.4f}") if n in regs else "-"
             for n in names]
    lines.append(f"| {t['space']}/{t['dataset']} | {t['metric']} | {t['optimum']:.4g} | "
                 + " | ".join(cells) + " |")
  ar = report["average_rank"]
  ran = {n: sum(any(r["optimizer"] == n for r in t["results"]) for t in tasks) for n in names}
  lines += ["", "Average rank over the tasks (1 = best; ties averaged):", "",
            "| " + " | ".join(names) + " |", "|" + "---|" * len(names),
            "| " + " | ".join(f"{ar[n]:.2f}" for n in names) + " |"]
  if len(set(ran.values())) > 1:  # a merged report where some optimizers ran on fewer tasks
    common = [t for t in tasks if {r["optimizer"] for r in t["results"]} >= set(names)]
    lines[-3] = "| | " + lines[-3][2:]
    lines[-2] = "|---|" + lines[-2][1:]
    lines[-1] = "| average rank | " + lines[-1][2:]
    lines += ["| tasks | " + " | ".join(str(ran[n]) for n in names) + " |"]
    if common:
      car = average_rank(common)
      lines += ["", f"Not every optimizer ran on every task: average rank over the {len(common)} "
                "tasks all of them ran on:", "", "| " + " | ".join(names) + " |",
                "|" + "---|" * len(names), "| " + " | ".join(f"{car[n]:.2f}" for n in names) + " |"]
  wins = {}
  for t in tasks:
    rk = _rank(np.array([r["mean_best"] for r in t["results"]]), t["higher_is_better"])
    for r, k in zip(t["results"], rk):
      if k == rk.min():
        wins[r["optimizer"]] = wins.get(r["optimizer"], 0) + 1
  lines += ["", "Tasks won (rank 1, ties shared): " + ", ".join(
      f"{n} {wins.get(n, 0)}" for n in names) + "."]
  if report.get("skipped"):
    lines += ["", "Skipped: " + "; ".join(report["skipped"]) + "."]
  if report.get("predictors"):
    sizes = [k.split("@")[1] for k in report["predictors"][0] if k.startswith("kendall_tau@")]
    lines += ["", "## Predictors: Kendall tau", "",
              "| task | predictor | " + " | ".join(f"tau @ {s}" for s in sizes) + " |",
              "|---|---|" + "---|" * len(sizes)]
    for r in report["predictors"]:
      lines.append(f"| {r['space']}/{r['dataset']} | {r['predictor']} | "
                   + " | ".join(f"{r[f'kendall_tau@{s}']:.3f}" for s in sizes) + " |")
  return "\n".join(lines)


def merge(reports: list[dict]) -> dict:
  """One report from several runs of the suite with different optimizers or tasks (e.g. the
  model-free ones at 100 seeds, the model-based ones at fewer, per table): results joined per task
  (tasks in the order first seen),
  ``average_rank`` recomputed, each run's command, wall time and load kept."""
  first = reports[0]
  tasks = {(t["space"], t["dataset"]): dict(t, results=list(t["results"])) for t in first["tasks"]}
  for rep in reports[1:]:
    for t in rep["tasks"]:
      key = (t["space"], t["dataset"])
      if key in tasks:
        tasks[key]["results"] += t["results"]
      else:  # a task the earlier reports did not run (per-table runs merged)
        tasks[key] = dict(t, results=list(t["results"]))
  rows = list(tasks.values())
  merged = dict(first, tasks=rows, average_rank=average_rank(rows),
                optimizers=list(dict.fromkeys(n for rep in reports for n in rep["optimizers"])),
                seeds_for={k: v for rep in reports for k, v in rep.get("seeds_for", {}).items()},
                runs=[{k: rep[k] for k in ("command", "wall_seconds", "load_before", "load_after",
                                           "num_seeds", "num_queries", "optimizers")}
                      for rep in reports])
  merged["command"] = "\n".join(rep["command"] for rep in reports)
  merged["wall_seconds"] = sum(rep["wall_seconds"] for rep in reports)
  merged["load_before"] = " / ".join(rep["load_before"] for rep in reports)
  merged["load_after"] = " / ".join(rep["load_after"] for rep in reports)
  for rep in reports[1:]:
    if rep.get("predictors"):
      merged["predictors"] = rep["predictors"]
  return merged


def _merge_files(paths, json_out, markdown_out, log) -> dict:
  """:func:`merge` of the JSON reports at ``paths``; one-line errors for a missing or bad file."""
  import json  # pylint: disable=import-outside-toplevel
  reports = []
  for p in paths:
    p = pathlib.Path(p)
    if not p.is_file():
      raise FileNotFoundError(f"suite report {p} not found (write one with python -m jaxnas.bench "
                              "suite --json FILE)")
    try:
      rep = json.loads(p.read_text())
      if not isinstance(rep, dict) or not isinstance(rep.get("tasks"), list):
        raise ValueError
    except ValueError:
      raise ValueError(f"{p} is not a suite report (JSON with tasks[]; written by python -m "
                       "jaxnas.bench suite --json FILE)") from None
    reports.append(rep)
  report = merge(reports)
  return _emit(report, json_out, markdown_out, log)


def run(json_out=None, *, markdown_out=None, tasks=None, names=None, num_seeds: int = 100,
        num_queries: int = 150, seeds_for=None, predictors: bool = False, cache_dir=None,
        command=None, repeats: int = 1, merge_files=None, log=print) -> dict:
  """Runs the suite; returns (and writes to ``json_out`` / ``markdown_out``) the report.

  Args:
    tasks: ``SPACE/DATASET`` strings (default: every discovered task).
    names: optimizers (default: every one in ``jaxnas.optimizers.BLACKBOX``).
    seeds_for: ``{optimizer: num_seeds}`` overrides (e.g. fewer for ``gp_bo``), recorded.
    predictors: also the Kendall tau table (:func:`predictor_table`).
    merge_files: instead of running, merge these ``--json`` reports (:func:`merge`, e.g. the
      model-free run at 100 seeds and the model-based one at 10) and write the joint report.
    repeats: executions per compiled run; ``seconds_per_seed_run`` is the fastest (the results
      are those of every execution: same keys, same program).
  """
  if merge_files:
    return _merge_files(merge_files, json_out, markdown_out, log)
  names = list(names or optimizers.BLACKBOX)
  for n in names:
    optimizers.hyperparameters(n)  # an unknown name: a one-line ValueError, before any run
  load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
  t0 = time.perf_counter()
  skipped = []
  found = discover(cache_dir, tasks, log=lambda m: (skipped.append(m.split(": ", 1)[-1]), log(m)))
  task_rows = run_tasks(found, names, num_seeds=num_seeds, num_queries=num_queries,
                        seeds_for=seeds_for, repeats=repeats, log=log)
  report = {
      "tasks": task_rows, "average_rank": average_rank(task_rows),
      "optimizers": names, "num_seeds": num_seeds, "num_queries": num_queries,
      "seeds_for": dict(seeds_for or {}), "skipped": skipped, "repeats": repeats,
      "command": command or ("python -m jaxnas.bench suite " + " ".join(
          shlex.quote(a) for a in sys.argv[2:])),
      "machine": f"{platform.machine()} {os.cpu_count()} CPUs, jax {jax.__version__} on "
                 f"{jax.devices()[0].platform}",
  }
  if predictors:
    report["predictors"] = predictor_table(cache_dir=cache_dir, log=log)
  report["wall_seconds"] = time.perf_counter() - t0
  report["load_before"] = load_before
  report["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
  return _emit(report, json_out, markdown_out, log)


def _emit(report: dict, json_out, markdown_out, log) -> dict:
  """Writes ``report`` to ``--json`` and its markdown to ``--markdown``, logs the markdown."""
  if json_out:
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    write_json(pathlib.Path(json_out), report)
  md = markdown(report)
  if markdown_out:
    pathlib.Path(markdown_out).write_text(md + "\n")
  log(md)
  return report
