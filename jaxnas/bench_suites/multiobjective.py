"""``python -m jaxnas.bench multiobjective --json OUT [--markdown MD] [--combos a,b]
[--optimizers a,b] [--seeds N] [--queries Q]``: hardware-aware multi-objective search on
HW-NAS-Bench-360 (``docs/multiobjective_results.md``).

* True Pareto fronts (size, hypervolume, reference point) of all 12 combinations for accuracy x
  ``lat_ms_median``, plus accuracy x latency x ``energy_mj`` on the 9 Pi 5 combinations (named
  ``<combination>+energy_mj``).
* The multi-objective optimizers (``rs``, ``nsga2``, ``mo_ls``, ``parego``), ``--seeds`` x
  ``--queries`` each, on the ``--combos`` (default: ``pi5/litert/cifar100``, ``pi5/onnx/ninapro``,
  ``pixel/litert/cifar100`` and ``pi5/litert/cifar100+energy_mj``): the hypervolume ratio (found
  front / true front, mean over seeds) after 50, 100 and 300 queries with its standard error.
* Speed: ``nsga2``, ``--speed-seeds`` (1,000) seeds x 300 queries as one program, in us per
  seed-run.

JSON: ``combos[]`` (every combination with a true front; ``results`` empty where not searched),
each with ``name``, ``combination``, ``objectives`` (``metric``, ``higher_is_better``),
``reference_point`` (metric units; the default: nadir of the whole table pushed out by 1% of each
range), ``true_front_hv``, ``true_front_size`` and ``results[]`` (``optimizer``, ``seeds``,
``queries``, ``hv_ratio_at`` {"50", "100", "300"}, ``sem_at``, ``seconds_per_seed_run``,
``compile_seconds``, ``archive_overflow``); plus ``speed``, ``command``, ``load_average``,
``wall_seconds``.
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

BUDGETS = (50, 100, 300)
DEFAULT_COMBOS = ("pi5/litert/cifar100", "pi5/onnx/ninapro", "pixel/litert/cifar100",
                  "pi5/litert/cifar100+energy_mj")
ENERGY = "+energy_mj"
OPTIMIZERS = ("rs", "nsga2", "mo_ls", "parego")


def all_combos() -> tuple[str, ...]:
  """Every case with a true front: the 12 combinations, then the 9 Pi 5 ones with energy."""
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  return hw.COMBOS + tuple(c + ENERGY for c in hw.PI5_COMBOS)


def metrics_of(name: str) -> tuple[str, tuple[str, ...]]:
  """``(combination, metrics)`` of a case name (one-line ValueError for an unknown one)."""
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  if name not in all_combos():
    raise ValueError(f"unknown combination {name!r}; valid: {', '.join(all_combos())}")
  if name.endswith(ENERGY):
    return name[:-len(ENERGY)], ("accuracy", "lat_ms_median", "energy_mj")
  hw.check_combo(name)
  return name, ("accuracy", "lat_ms_median")


def _load() -> str:
  try:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
  except OSError:
    return "n/a"


def _ratio_stats(hv: np.ndarray, true_hv: float, budgets) -> tuple[dict, dict]:
  mean, sem = {}, {}
  for q in budgets:
    r = hv[:, q - 1] / true_hv
    mean[str(q)] = float(r.mean())
    sem[str(q)] = float(r.std(ddof=1) / np.sqrt(len(r))) if len(r) > 1 else 0.0
  return mean, sem


def run(json_out=None, *, markdown_out=None, combos=None, names=None, num_seeds: int = 100,
        num_queries: int = 300, seeds_for=None, speed_seeds: int = 1000, quick: bool = False,
        command: str = "", say=print) -> dict:
  """Runs the suite; writes ``json_out`` (and ``markdown_out``) as it goes. See the module doc."""
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import multiobjective as mo  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers.multiobjective import loop  # pylint: disable=import-outside-toplevel

  if quick:
    num_seeds, num_queries, speed_seeds = 4, 30, 16
  combos = list(DEFAULT_COMBOS if combos is None else combos)
  names = list(OPTIMIZERS if names is None else names)
  for c in combos:
    metrics_of(c)
  for n in names:
    if n not in mo.MO_OPTIMIZERS:
      raise ValueError(f"unknown multi-objective optimizer {n!r}; valid: {', '.join(mo.MO_OPTIMIZERS)}")
  seeds_for = dict(seeds_for or {})
  budgets = tuple(q for q in BUDGETS if q <= num_queries) or (num_queries,)
  t_start = time.perf_counter()
  report = {"command": command, "load_average_start": _load(), "num_seeds": num_seeds,
            "num_queries": num_queries,
            "reference_point_rule": "nadir of the whole table (worst value of each objective over "
                                    "all 15,625 cells) pushed out by 1% of each objective's range",
            "darcy_direction": "accuracy maximised for every task, darcy included (documented "
                               "choice, see jaxnas.benchmarks.hw_nas_bench)",
            "combos": []}
  bench = hw.load()
  space = spaces.get_space("nasbench201")
  problems = {}
  for name in all_combos():
    combo, metrics = metrics_of(name)
    problem, rows, _ = loop.prepare(bench, metrics, combo)
    problems[name] = problem
    report["combos"].append({
        "name": name, "combination": combo,
        "objectives": problem.objective.to_json()["objectives"],
        "reference_point": [float(s * r) for s, r in zip(problem.objective.signs, problem.ref)],
        "true_front_hv": problem.true_hv, "true_front_size": problem.true_front_size,
        "results": []})
  say(f"true fronts of {len(problems)} cases ({time.perf_counter() - t_start:.1f} s)")
  entry = {c["name"]: c for c in report["combos"]}
  opts = {}  # one optimizer object per (name, M): combinations of a table share its compile
  for name in combos:
    problem = problems[name]
    m = problem.objective.num_objectives
    for opt_name in names:
      opt = opts.setdefault((opt_name, m), mo.make(
          opt_name, space, num_objectives=m,
          **({"buffer_size": max(num_queries, 10)} if opt_name == "parego" else {})))
      seeds = int(seeds_for.get(opt_name, num_seeds))
      res = loop.run(bench, optimizer=opt, space=space, problem=problem,
                     num_queries=num_queries, num_seeds=seeds)
      ratio, sem = _ratio_stats(res.outputs.hv, problem.true_hv, budgets)
      entry[name]["results"].append({
          "optimizer": opt_name, "seeds": seeds, "queries": num_queries,
          "hv_ratio_at": ratio, "sem_at": sem,
          "seconds_per_seed_run": res.run_seconds / seeds,
          "compile_seconds": res.compile_seconds,
          "archive_overflow": int(res.outputs.overflow.max()),
          "load_average": _load()})
      say(f"{name} {opt_name}: hv ratio " + ", ".join(f"@{q} {ratio[q]:.4f}+-{sem[q]:.4f}"
                                                     for q in ratio)
          + f" ({res.compile_seconds:.1f} s compile, {res.run_seconds:.2f} s run, load {_load()})")
      report["wall_seconds"] = time.perf_counter() - t_start
      if json_out:
        write_json(pathlib.Path(json_out), report)
  if speed_seeds and "nsga2" in names:
    name = combos[0]
    problem = problems[name]
    opt = opts[("nsga2", problem.objective.num_objectives)]
    q = 300 if not quick else num_queries
    res = loop.run(bench, optimizer=opt, space=space, problem=problem, num_queries=q,
                   num_seeds=speed_seeds)
    report["speed"] = {"optimizer": "nsga2", "combination": name, "seeds": speed_seeds,
                       "queries": q, "compile_seconds": res.compile_seconds,
                       "run_seconds": res.run_seconds,
                       "us_per_seed_run": 1e6 * res.run_seconds / speed_seeds,
                       "load_average": _load()}
    say(f"speed: nsga2 {speed_seeds} seeds x {q} queries in {res.run_seconds:.2f} s = "
        f"{report['speed']['us_per_seed_run']:.0f} us per seed-run (load {_load()})")
  report["wall_seconds"] = time.perf_counter() - t_start
  report["load_average_end"] = _load()
  if json_out:
    write_json(pathlib.Path(json_out), report)
  if markdown_out:
    pathlib.Path(markdown_out).write_text(markdown(report))
  return report


def markdown(report: dict) -> str:
  """The report as markdown tables (true fronts; hypervolume ratios vs rs; speed)."""
  lines = ["## True Pareto fronts", "",
           f"Reference point: {report['reference_point_rule']}. Accuracy is maximised "
           "(darcy too: a documented choice), latency and energy minimised.", "",
           "| case | objectives | reference point | true front size | true front HV |",
           "|---|---|---|---:|---:|"]
  for c in report["combos"]:
    objs = " x ".join(o["metric"] for o in c["objectives"])
    ref = ", ".join(f"{x:.4g}" for x in c["reference_point"])
    lines.append(f"| {c['name']} | {objs} | ({ref}) | {c['true_front_size']} | "
                 f"{c['true_front_hv']:.6g} |")
  searched = [c for c in report["combos"] if c["results"]]
  if searched:
    lines += ["", "## Hypervolume ratio (found front / true front), mean +- s.e.m. over seeds", ""]
  for c in searched:
    budgets = list(c["results"][0]["hv_ratio_at"])
    rs = next((r for r in c["results"] if r["optimizer"] == "rs"), None)
    lines += [f"### {c['name']} ({' x '.join(o['metric'] for o in c['objectives'])})", "",
              "| optimizer | seeds x queries | " + " | ".join(f"@{q}" for q in budgets)
              + " | s per seed-run | compile s |",
              "|---|---|" + "---:|" * len(budgets) + "---:|---:|"]
    for r in c["results"]:
      cells = []
      for q in budgets:
        mark = ""
        if rs is not None and r is not rs:
          d = r["hv_ratio_at"][q] - rs["hv_ratio_at"][q]
          se = np.hypot(r["sem_at"][q], rs["sem_at"][q])
          mark = " (>rs)" if d > 2 * se else (" (<rs)" if d < -2 * se else " (~rs)")
        cells.append(f"{r['hv_ratio_at'][q]:.4f} +- {r['sem_at'][q]:.4f}{mark}")
      lines.append(f"| {r['optimizer']} | {r['seeds']} x {r['queries']} | " + " | ".join(cells)
                   + f" | {r['seconds_per_seed_run']:.4f} | {r['compile_seconds']:.0f} |")
    lines.append("")
  sp = report.get("speed")
  if sp:
    lines += ["## Speed", "",
              f"nsga2 on {sp['combination']}, {sp['seeds']} seeds x {sp['queries']} queries as one "
              f"compiled program: {sp['run_seconds']:.2f} s = **{sp['us_per_seed_run']:.0f} us per "
              f"seed-run** (compile {sp['compile_seconds']:.0f} s; load average {sp['load_average']}).",
              ""]
  lines.append(f"Wall time {report.get('wall_seconds', 0):.0f} s; load average at start "
               f"{report['load_average_start']}, at end {report.get('load_average_end', 'n/a')}.")
  return "\n".join(lines) + "\n"
