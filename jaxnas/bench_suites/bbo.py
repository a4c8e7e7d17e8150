"""``python -m jaxnas.bench bbo``: black-box search speed against a NASLib-style Python loop.

Measures, after compilation, RS, RE and LS at ``num_seeds`` x ``num_queries`` as one compiled
program each, and in the same run a plain-Python per-query loop in NASLib's style (architecture
objects, ``np.random.choice`` tournaments, deep copies, op indices -> NB201 string -> nested dict
lookup) as the baseline.
"""

from __future__ import annotations

import collections
import copy
import time

import jax
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import loops, optimizers, spaces
from jaxnas.spaces import nb201


class _Model:  # NASLib keeps a torch.nn.Module per architecture; this is the lightest stand-in
  def __init__(self):
    self.arch = None
    self.accuracy = None


def _naslib_style_table(bench, dataset: str) -> dict:
  """``{nb201 string: {"cifar10-valid": {"eval_acc1es": [...]}}}`` like NASLib's nb201 pickle."""
  vals = np.asarray(bm.query(bench, np.arange(nb201.NUM_ARCHS), "val_accuracy", dataset))
  key = {"cifar10": "cifar10-valid"}.get(dataset, dataset)
  return {nb201.to_string(nb201.from_id(i)): {key: {"eval_acc1es": [float(vals[i])]}}
          for i in range(nb201.NUM_ARCHS)}


def _op_indices_to_str(op_indices) -> str:
  names = [nb201.OPS[i] for i in op_indices]
  return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*names)


def naslib_style_re(table, dataset_key, num_queries, population_size=30, sample_size=10, seed=0):
  """Regularized evolution written like NASLib's loop; returns the best accuracy found."""
  rs = np.random.RandomState(seed)
  population = collections.deque(maxlen=population_size)
  best = -np.inf

  def query(model):
    return table[_op_indices_to_str(model.arch)][dataset_key]["eval_acc1es"][-1]

  for epoch in range(num_queries):
    model = _Model()
    if epoch < population_size:
      model.arch = list(rs.randint(5, size=6))
    else:
      sample = []
      while len(sample) < sample_size:
        sample.append(rs.choice(list(population)))
      parent = max(sample, key=lambda x: x.accuracy)
      arch = copy.deepcopy(parent.arch)
      edge = rs.choice(len(arch))
      arch[edge] = rs.choice([o for o in range(5) if o != arch[edge]])
      model.arch = arch
    model.accuracy = query(model)
    population.append(model)
    best = max(best, model.accuracy)
  return best


def run(json_out=None, num_seeds: int = 1000, num_queries: int = 150, baseline_seeds: int = 20,
        dataset: str | None = None, names=("rs", "re", "ls"), repeats: int = 3,
        space_name: str = "nasbench201", benchmark_path=None) -> dict:
  """Runs the suite; returns (and writes to ``json_out``) the figures.

  Args:
    dataset: the benchmark dataset or task (None: its first one, cifar10 on NB201).
    space_name: a registered space whose benchmark has the same name (``transnas101_micro``
      needs ``benchmark_path``, a table built by ``python -m jaxnas.benchmarks build``).
    benchmark_path: the table (None: the embedded one). The NASLib-style Python baseline is
      NB201's and runs only there.
  """
  space = spaces.get_space(space_name)
  bench = bm.load(space_name, benchmark_path)
  dataset = dataset or bench.datasets[0]
  objective = loops.Objective(dataset=dataset)
  loops.check_space(bench, space)
  loops.check_objective(bench, optimizers.make(names[0], space), objective)
  keys = loops._shard_keys(loops.seed_keys(0, num_seeds))
  results = []
  for name in names:
    opt = optimizers.make(name, space)
    fn = loops.compiled_search(opt, space, objective, num_queries)
    t0 = time.perf_counter()
    compiled = fn.lower(keys, bench).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
      t0 = time.perf_counter()
      out = jax.block_until_ready(compiled(keys, bench))
      times.append(time.perf_counter() - t0)
    run_s = min(times)
    best = np.asarray(out.best_fitness[:, -1])
    results.append({
        "optimizer": name, "num_seeds": num_seeds, "num_queries": num_queries,
        "compile_seconds": compile_s, "run_seconds": run_s,
        "seconds_per_seed_run": run_s / num_seeds,
        "seconds_per_query": run_s / (num_seeds * num_queries),
        "mean_best_val_accuracy": float(best.mean()),
        "stderr_best_val_accuracy": float(best.std(ddof=1) / np.sqrt(len(best))),
    })
    print(f"{name}: compile {compile_s:.2f} s, run {run_s * 1e3:.1f} ms for {num_seeds} seeds x "
          f"{num_queries} queries = {run_s / num_seeds * 1e6:.1f} us per seed-run; mean best "
          f"{best.mean():.3f}", flush=True)
  report = {"results": results, "space": space.name, "dataset": dataset,
            "device": str(jax.devices()[0].device_kind), "num_devices": jax.device_count()}
  if space.name != "nasbench201":  # the Python baseline below is NB201's
    _write(json_out, report)
    return report
  table = _naslib_style_table(bench, dataset)
  key = {"cifar10": "cifar10-valid"}.get(dataset, dataset)
  t0 = time.perf_counter()
  base_best = [naslib_style_re(table, key, num_queries, seed=s) for s in range(baseline_seeds)]
  base_s = time.perf_counter() - t0
  per_query = base_s / (baseline_seeds * num_queries)
  print(f"python baseline (NASLib-style RE): {per_query * 1e6:.1f} us per query "
        f"(mean best {np.mean(base_best):.3f} over {baseline_seeds} seeds)", flush=True)
  re_row = next((r for r in results if r["optimizer"] == "re"), results[0])
  speedup = per_query / re_row["seconds_per_query"]
  print(f"speedup per query ({re_row['optimizer']}): {speedup:,.0f}x", flush=True)
  report.update(baseline={"python_seconds_per_query": per_query, "optimizer": "re",
                          "num_seeds": baseline_seeds, "num_queries": num_queries},
                speedup_per_query=speedup)
  _write(json_out, report)
  return report


def _write(json_out, report: dict) -> None:
  if json_out:
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    import pathlib  # pylint: disable=import-outside-toplevel
    write_json(pathlib.Path(json_out), report)
