"""Model-based and multi-fidelity black-box optimizers: speed, quality and the NB201 time budget.

* :func:`run` (``python -m jaxnas.bench bbo`` extension): seconds per seed-run of every
  model-based optimizer at ``num_seeds`` x ``num_queries`` as one compiled program each.
* :func:`quality`: mean best validation accuracy (with standard errors) at 50 / 100 / 150 queries
  and the test accuracy of the returned architectures, on the three NB201 datasets.
* :func:`time_budget_protocol`: the NAS-Bench-201 paper's 12,000 s simulated-budget comparison
  (REA population 10, sample 3, 12-epoch validation accuracy as the reward; RS; Hyperband; BOHB),
  reporting the final (200-epoch) test accuracy of the returned architecture.

The last two need a table built with the test and 12-epoch CSVs::

  python -m jaxnas.benchmarks build nasbench201 --out nb201_full.npz \\
      --test-accuracy-csv ../shared/data/nb201/nats_bench.csv \\
      --hp12-csv ../shared/data/nb201/hp12_accuracy.csv
"""

from __future__ import annotations

import pathlib
import time

import jax
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces

MODEL_BASED = ("bananas", "npenas", "bp", "gp_bo")
MULTI_FIDELITY = ("sh", "hb", "bohb")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def _write(json_out, report) -> None:
  if json_out:
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    write_json(pathlib.Path(json_out), report)


def _stats(v) -> tuple[float, float]:
  v = np.asarray(v, float)
  return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def run(json_out=None, num_seeds: int = 100, num_queries: int = 150, quick: bool = False,
        names=MODEL_BASED, dataset: str | None = None, space_name: str = "nasbench201",
        benchmark_path=None) -> dict:
  """Speed of the model-based optimizers: ``num_seeds`` x ``num_queries`` as ONE compiled program
  each (``quick``: 8 seeds x 30 queries, for smoke tests) on ``space_name``'s benchmark (the
  embedded NB201 table, or ``benchmark_path``), on ``dataset`` (None: the table's first).
  Returns (and writes) the figures."""
  if quick:
    num_seeds, num_queries = 8, 30
  bench = bm.load(space_name, benchmark_path)
  space = spaces.get_space(space_name)
  objective = loops.Objective(dataset=dataset or bench.datasets[0])
  rows = []
  for name in names:
    opt = optimizers.make(name, space)
    r = loops.run(bench, optimizer=opt, space=space, objective=objective,
                  num_queries=num_queries, num_seeds=num_seeds)
    best = r.outputs.best_fitness[:, -1]
    m, se = _stats(best)
    rows.append({"optimizer": name, "num_seeds": num_seeds, "num_queries": num_queries,
                 "compile_seconds": r.compile_seconds, "run_seconds": r.run_seconds,
                 "seconds_per_seed_run": r.run_seconds / num_seeds,
                 "mean_best_val_accuracy": m, "stderr_best_val_accuracy": se})
    print(f"{name}: compile {r.compile_seconds:.1f} s, run {r.run_seconds:.2f} s for {num_seeds} "
          f"seeds x {num_queries} queries = {r.run_seconds / num_seeds:.3f} s per seed-run; mean "
          f"best {m:.3f} +- {se:.3f}", flush=True)
  report = {"results": rows, "device": str(jax.devices()[0].device_kind),
            "num_devices": jax.device_count()}
  _write(json_out, report)
  return report


def quality(table_path, json_out=None, num_seeds: int = 100,
            names=("rs", "re", "ls") + MODEL_BASED, datasets=DATASETS,
            checkpoints=(50, 100, 150)) -> dict:
  """Mean best validation accuracy +- standard error at ``checkpoints`` queries, and the mean
  test accuracy of the returned architecture, per (dataset, optimizer) (NASLib defaults)."""
  bench = bm.load("nasbench201", str(table_path))
  space = spaces.get_space("nasbench201")
  report = {"num_seeds": num_seeds, "rows": []}
  for ds in datasets:
    objective = loops.Objective(dataset=ds)
    for name in names:
      opt = optimizers.make(name, space)
      r = loops.run(bench, optimizer=opt, space=space, objective=objective,
                    num_queries=max(checkpoints), num_seeds=num_seeds)
      row = {"dataset": ds, "optimizer": name, "run_seconds": r.run_seconds,
             "compile_seconds": r.compile_seconds}
      for q in checkpoints:
        j = q // opt.num_ask - 1
        row[f"val@{q}"] = _stats(r.outputs.best_fitness[:, j])
        row[f"test@{q}"] = _stats(bm.query(bench, r.outputs.best_id[:, j], "test_accuracy", ds))
      report["rows"].append(row)
      print(ds, name, {k: (round(v[0], 3), round(v[1], 3)) for k, v in row.items()
                       if "@" in k}, f"run {r.run_seconds:.1f} s", flush=True)
      _write(json_out, report)
  return report


def time_budget_protocol(table_path, json_out=None, num_seeds: int = 500,
                         time_budget: float = 12000.0, dataset: str = "cifar10",
                         max_queries: int = 400) -> dict:
  """NAS-Bench-201's simulated-budget comparison: mean (200-epoch) test accuracy of the returned
  architecture under ``time_budget`` seconds of simulated training.

  Single-fidelity optimizers are rewarded with the 12-epoch validation accuracy and charged
  12/200 of the 200-epoch training time per query (the paper's protocol uses the 12-epoch
  schedule's own time; ours is this approximation); the multi-fidelity ones query 12 and 200
  epochs, and return the best 200-epoch result.
  """
  bench = bm.load("nasbench201", str(table_path))
  space = spaces.get_space("nasbench201")
  settings = [
      ("re", {"population_size": 10, "sample_size": 3}, 12),
      ("rs", {}, 12),
      ("hb", {}, None),
      ("bohb", {}, None),
      ("sh", {}, None),
  ]
  report = {"num_seeds": num_seeds, "time_budget": time_budget, "dataset": dataset, "rows": []}
  for name, hp, epoch in settings:
    opt = optimizers.make(name, space, **hp)
    objective = loops.Objective(dataset=dataset, epoch=epoch)
    t0 = time.perf_counter()
    r = loops.run(bench, optimizer=opt, space=space, objective=objective,
                  num_queries=max_queries, num_seeds=num_seeds, time_budget=time_budget)
    o = r.outputs
    if bool(o.counted[:, -1].any()):
      print(f"warning: {name} did not exhaust the budget within {max_queries} queries", flush=True)
    test = bm.query(bench, o.best_id[:, -1], "test_accuracy", dataset)
    val = bm.query(bench, o.best_id[:, -1], "val_accuracy", dataset)
    row = {"optimizer": name, "hyperparameters": hp, "reward_epoch": epoch or 200,
           "test_accuracy": _stats(test), "val_accuracy_200": _stats(val),
           "queries": _stats(o.counted.sum(1) * opt.num_ask),
           "simulated_seconds": _stats(o.train_time.sum(1)),
           "wall_seconds": time.perf_counter() - t0}
    report["rows"].append(row)
    print(name, {k: (round(v[0], 3), round(v[1], 3)) if isinstance(v, tuple) else v
                 for k, v in row.items()}, flush=True)
    _write(json_out, report)
  return report
