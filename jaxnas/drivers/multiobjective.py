"""Driver of multi-objective search (config ``task = "multiobjective"``): hardware-aware NAS on
HW-NAS-Bench-360 with the optimizers of :mod:`jaxnas.optimizers.multiobjective`.

``python -m jaxnas.run --config configs/nb201_mo_nsga2.py --workdir DIR`` writes:

* ``results.json``: the config, the objectives (metric, direction), the constraints, the reference
  point (metric units, and the rule that made it), the true front (size, hypervolume, points and
  architectures), per seed the found front (architectures and metric values) with its IGD and the
  hypervolume after **every** query, and the mean hypervolume ratio at 50/100/300 queries;
* ``pareto.png``: found fronts (a few seeds) against the true front, and hypervolume ratio against
  queries (mean +- s.e.m.).

Config keys: ``combination`` (``pi5/litert/cifar100``...), ``objectives`` (metric names, or
``(name, higher_is_better)`` pairs; directions default to the table's), ``constraints``
(``("lat_ms_median <= 5",)``), ``reference_point`` (``()``: the default, nadir of the whole table
pushed out by 1% of each range; else one value per objective in metric units), ``benchmark.path``
(``""``: HW-NAS-Bench-360 read from the shared data CSVs; else an NB201 table built with
``--hw-nas-bench-360``), ``optimizer`` (``name`` + hyperparameters), ``num_seeds``,
``num_queries``, ``seed``. Every check runs before anything compiles.
"""

from __future__ import annotations

import pathlib

import numpy as np

from jaxnas.drivers import io

BUDGETS = (50, 100, 300)


def mo_config(optimizer: str, **hparams):
  """The default multi-objective config (what ``configs/nb201_mo_<optimizer>.py`` return)."""
  import ml_collections  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import multiobjective as mo  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict()
  c.task = "multiobjective"
  c.seed = 0  # seed i of the run uses fold_in(key(seed), i)
  c.num_seeds = 100
  c.num_queries = 300
  c.search_space = "nasbench201"
  # "" = HW-NAS-Bench-360 from the shared data CSVs; else an NB201 .npz built with
  # python -m jaxnas.benchmarks build nasbench201 --test-accuracy-csv ... --hw-nas-bench-360 ...
  c.benchmark = ml_collections.ConfigDict({"path": ""})
  c.combination = "pi5/litert/cifar100"  # device/framework/task
  c.objectives = ("accuracy", "lat_ms_median")  # directions: the table's declarations
  c.constraints = ()  # e.g. ("lat_ms_median <= 5",)
  c.reference_point = ()  # () = nadir of the whole table - 1% of each range; else metric units
  c.plot_seeds = 5  # found fronts drawn in pareto.png
  c.optimizer = ml_collections.ConfigDict(dict(name=optimizer, **dict(mo.hyperparameters(optimizer),
                                                                       **hparams)))
  return c


def _list(v) -> list:
  if v is None:
    return []
  if isinstance(v, str):
    return [x.strip() for x in v.split(",") if x.strip()]
  return list(v)


def load_benchmark(config):
  """The combination view of HW-NAS-Bench-360 (:mod:`jaxnas.benchmarks.hw_nas_bench`)."""
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  path = str(config.benchmark.get("path", "") or "")
  if path:
    return hw.combination_benchmark(bm.load("nasbench201", path))
  return hw.load()


def setup(config, bench=None):
  """Host checks and objects: ``(bench, space, optimizer, problem, true rows, true points)``;
  one-line errors before any compile (unknown combination, metric, optimizer or hyperparameter,
  a constraint on a metric the table lacks, a bad reference point)."""
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers import multiobjective as mo  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers.multiobjective import loop  # pylint: disable=import-outside-toplevel

  combo = str(config.combination)
  hw.check_combo(combo)
  opt_cfg = dict(config.optimizer)
  name = opt_cfg.pop("name")
  if name not in mo.MO_OPTIMIZERS:
    raise ValueError(f"unknown multi-objective optimizer {name!r}; valid: "
                     f"{', '.join(mo.MO_OPTIMIZERS)}")
  if bench is None:
    bench = load_benchmark(config)
  metrics = [tuple(m) if isinstance(m, (list, tuple)) else m for m in _list(config.objectives)]
  ref = _list(config.reference_point)
  problem, rows, front = loop.prepare(bench, metrics, combo, _list(config.constraints),
                                      [float(x) for x in ref] if ref else None)
  space = spaces.get_space(str(config.search_space))
  opt = mo.make(name, space, num_objectives=problem.objective.num_objectives, **opt_cfg)
  q = int(config.num_queries)
  if q < opt.num_ask or q % opt.num_ask:
    raise ValueError(f"num_queries must be a positive multiple of {opt.num_ask} for optimizer "
                     f"{name}, got {q}")
  return bench, space, opt, problem, rows, front


def run_multiobjective(config, workdir=None, quiet: bool = False, bench=None) -> dict:
  """Runs the config's search (all seeds as one program) and writes ``results.json`` and
  ``pareto.png`` under ``workdir`` (when given). Returns the results dict."""
  from jaxnas import pareto  # pylint: disable=import-outside-toplevel
  from jaxnas.optimizers.multiobjective import loop  # pylint: disable=import-outside-toplevel

  bench, space, opt, problem, rows, front = setup(config, bench)
  obj = problem.objective
  signs = np.array(obj.signs)
  io.say(f"{opt.name} on {problem.dataset}: {' x '.join(obj.metrics)}; true front "
         f"{problem.true_front_size} points, HV {problem.true_hv:.6g}", quiet)
  res = loop.run(bench, optimizer=opt, space=space, problem=problem,
                 num_queries=int(config.num_queries), seed=int(config.seed),
                 num_seeds=int(config.num_seeds))
  out = res.outputs
  n = int(config.num_seeds)
  ratio = out.hv / problem.true_hv  # [S, Q]
  budgets = [b for b in BUDGETS if b <= ratio.shape[1]]
  scale = np.ptp(pareto.table_points(bench, obj, problem.dataset)[0], axis=0)
  seeds = []
  for s in range(n):
    ok = out.front_valid[s]
    ids, vals = out.front_ids[s][ok], out.front_values[s][ok]
    order = np.argsort(-vals[:, 0])
    igd = float(pareto.igd(front, vals, None, scale)) if ok.any() else float("inf")
    seeds.append({
        "seed": s,
        "front": [{"arch": space.to_string(space.from_id(int(i))), "id": int(i),
                   "values": dict(zip(obj.metrics, map(float, signs * v)))}
                  for i, v in zip(ids[order], vals[order])],
        "igd": igd,
        "feasible_queries": int(out.feasible[s].sum()),
        "hypervolume": [float(h) for h in out.hv[s]]})
  results = {
      "task": "multiobjective", "optimizer": opt.name,
      "hyperparameters": {k: v for k, v in dict(config.optimizer).items() if k != "name"},
      "search_space": space.name, "benchmark": bench.name, "combination": problem.dataset,
      **obj.to_json(),
      "reference_point": pareto.to_metric_units(problem.ref, obj.signs),
      "reference_point_rule": ("given in the config" if _list(config.reference_point) else
                               "default: nadir of the whole table pushed out by 1% of each "
                               "objective's range"),
      "true_front": {"size": problem.true_front_size, "hypervolume": problem.true_hv,
                     "points": [list(map(float, signs * p)) for p in front],
                     "archs": [space.to_string(space.from_id(int(i))) for i in rows]},
      "num_seeds": n, "num_queries": int(config.num_queries), "seed": int(config.seed),
      "hv_ratio_at": {str(b): float(ratio[:, b - 1].mean()) for b in budgets},
      "sem_at": {str(b): float(ratio[:, b - 1].std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
                 for b in budgets},
      "compile_seconds": res.compile_seconds, "run_seconds": res.run_seconds,
      "seconds_per_seed_run": res.run_seconds / n,
      "archive_overflow": int(out.overflow.max()),
      "seeds": seeds,
  }
  io.say(f"hypervolume ratio " + ", ".join(f"@{b}: {results['hv_ratio_at'][str(b)]:.4f}"
                                           for b in budgets)
         + f" ({res.compile_seconds:.1f} s compile, {res.run_seconds:.2f} s run)", quiet)
  if workdir is not None:
    wd = pathlib.Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    io.write_json(wd / "results.json", results)
    plot(wd / "pareto.png", results, ratio, int(config.plot_seeds))
  return results


def plot(path, results: dict, ratio: np.ndarray, num_fronts: int = 5) -> None:
  """Found fronts (first objectives pair, ``num_fronts`` seeds) vs the true front; hypervolume
  ratio vs queries (mean +- s.e.m.)."""
  fig, (ax0, ax1) = io.figure(figsize=(10, 4), ncols=2)
  m0, m1 = results["objectives"][0]["metric"], results["objectives"][1]["metric"]
  true = np.array(results["true_front"]["points"])
  o = np.argsort(true[:, 1])
  ax0.step(true[o, 1], true[o, 0], where="post", color="k", lw=2, label="true front")
  for s in results["seeds"][:num_fronts]:
    if s["front"]:
      pts = np.array([[f["values"][m0], f["values"][m1]] for f in s["front"]])
      ax0.scatter(pts[:, 1], pts[:, 0], s=14, alpha=0.7, label=f"seed {s['seed']}")
  ax0.set_xlabel(m1)
  ax0.set_ylabel(m0)
  ax0.set_title(f"{results['optimizer']} on {results['combination']}")
  ax0.legend(fontsize=7)
  q = np.arange(1, ratio.shape[1] + 1)
  mean = ratio.mean(0)
  sem = ratio.std(0, ddof=1) / np.sqrt(len(ratio)) if len(ratio) > 1 else np.zeros_like(mean)
  ax1.plot(q, mean, label=results["optimizer"])
  ax1.fill_between(q, mean - sem, mean + sem, alpha=0.3)
  ax1.set_xlabel("queries")
  ax1.set_ylabel("hypervolume / true front's")
  ax1.set_ylim(max(0.0, float(mean.min()) - 0.05), 1.0)
  ax1.legend()
  io.save_figure(fig, path)
