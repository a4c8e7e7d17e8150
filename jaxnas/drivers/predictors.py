"""The predictor-evaluation driver (task ``"predictors"``): runs the evaluator of
``jaxnas.evaluate.predictors`` for every configured predictor and writes
``predictor_results.json``, ``predictor_results.md`` and ``predictor_kendall_tau.png``.

It runs on any search space with a table: ``config.search_space`` names the space (its registered
table is loaded, or ``benchmark_path``), and features come from that space's encodings.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import numpy as np

from jaxnas import benchmarks, spaces
from jaxnas.drivers import io
from jaxnas.evaluate import predictors as ev

RESULTS_FILE = "predictor_results.json"
SUMMARY_FILE = "predictor_results.md"
PLOT_FILE = "predictor_kendall_tau.png"


def run(config, workdir, quiet: bool = False) -> dict[str, Any]:
  """Runs the predictor evaluator described by ``config`` and writes its outputs to ``workdir``.

  Config fields: ``predictors`` (comma-separated names of ``jaxnas.predictors.PREDICTORS``, or
  ``early_stop_12``: the 12-epoch validation accuracy, which needs a table built with
  ``--hp12-csv`` passed as ``benchmark_path``),
  ``train_sizes`` (list or comma-separated), ``num_test``, ``num_seeds``, ``seed``,
  ``search_space`` (a registered space, default ``benchmark``'s), ``benchmark`` (the table's
  registered name, default ``search_space``, else ``nasbench201``),
  ``benchmark_path`` (optional ``.npz``), ``dataset``, ``metric``, ``encoding``,
  ``target_transform``, ``score_features`` (OMNI), ``pad_buffer``, ``hparams`` (name -> kwargs),
  ``plot``.

  Writes ``predictor_results.json`` (``{predictor: {str(train_size): {metric: mean over seeds,
  ..., "std": {metric: std over seeds}}}}``; models with a predictive std also get
  ``coverage_1std`` / ``coverage_2std``, the fraction of test targets within one / two stds of
  the mean), ``predictor_results.md`` (:func:`summary_markdown`) and ``predictor_kendall_tau.png``.

  Args:
    config: an ``ml_collections.ConfigDict`` (``configs/nb201_predictors.py``).
    workdir: output folder (created).
    quiet: no per-predictor progress lines.

  Returns:
    The results dict.
  """
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  names = ev._names(config.predictors)
  sizes = config.train_sizes
  if isinstance(sizes, str):
    sizes = [int(s) for s in sizes.split(",") if s.strip()]
  bench = load_benchmark(config)
  y_all = np.asarray(benchmarks.query(bench, np.arange(bench.num_archs), config.get("metric", "val_accuracy"),
                                      config.dataset), np.float32)
  results = {}
  for name in names:
    t0 = time.perf_counter()
    pred, x_all = ev.build(name, config, bench, config.dataset)
    results[name] = ev.evaluate_predictor(pred, x_all, y_all, train_sizes=sizes,
                                       num_test=int(config.num_test), num_seeds=int(config.num_seeds),
                                       seed=int(config.get("seed", 0)),
                                       pad_buffer=bool(config.get("pad_buffer", True)))
    taus = ", ".join(f"{s}: {v['kendall_tau']:.3f}" for s, v in results[name].items())
    if not quiet:
      print(f"[predictors] {name:14s} tau {{{taus}}} ({time.perf_counter() - t0:.0f} s)", flush=True)
    (workdir / RESULTS_FILE).write_text(json.dumps(results, indent=1))  # partial results survive
  (workdir / SUMMARY_FILE).write_text(summary_markdown(results))
  if config.get("plot", True):
    plot(results, workdir / PLOT_FILE)
  return results


def load_benchmark(config):
  """The table of ``config.search_space`` / ``config.benchmark`` (see :func:`run`); one-line
  ValueErrors, before any compile, for an unknown space or a table of another space."""
  space_name = config.get("search_space", None) or None
  if space_name is not None:
    spaces.get_space(space_name)  # ValueError naming the registered spaces
  name = config.get("benchmark", None) or space_name or "nasbench201"
  bench = benchmarks.load(name, config.get("benchmark_path", None) or None)
  if space_name is not None and bench.space_name != space_name:
    raise ValueError(f"benchmark {name!r} is a table of search space {bench.space_name}, not of "
                     f"config.search_space={space_name!r}")
  if config.dataset not in bench.datasets:
    raise ValueError(f"benchmark {name!r} has no {bench.dataset_kind} {config.dataset!r}; "
                     f"valid: {', '.join(bench.datasets)}")
  return bench


def summary_markdown(results: dict, metrics_shown=("kendall_tau", "spearman", "fit_seconds",
                                                   "coverage_1std", "coverage_2std")) -> str:
  """Markdown tables of ``results`` (as :func:`run` returns them): one table per metric, a row per
  predictor and a column per training-set size, each cell ``mean +- std`` over seeds. Predictors
  without a metric (e.g. coverage for models without a predictive std) are left out of its
  table."""
  lines = []
  for key in metrics_shown:
    rows = {n: per for n, per in results.items() if all(key in v for v in per.values())}
    if not rows:
      continue
    sizes = sorted({int(s) for per in rows.values() for s in per})
    fmt = "{:.2f}" if key.endswith("seconds") else "{:.3f}"
    lines += [f"### {key}", "", "| predictor | " + " | ".join(str(s) for s in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for name, per in rows.items():
      cells = []
      for s in sizes:
        v = per.get(str(s))
        cells.append("" if v is None else f"{fmt.format(v[key])} ± {fmt.format(v['std'][key])}")
      lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
  return "\n".join(lines)


def plot(results: dict, path) -> None:
  """Kendall tau (mean +- std over seeds) vs training-set size, one line per predictor."""
  fig, ax = io.figure(figsize=(6, 4))
  for name, per in results.items():
    sizes = sorted(int(s) for s in per)
    mean = [per[str(s)]["kendall_tau"] for s in sizes]
    sd = [per[str(s)]["std"]["kendall_tau"] for s in sizes]
    ax.errorbar(sizes, mean, yerr=sd, label=name, marker="o", capsize=2)
  ax.set_xscale("log")
  ax.set_xlabel("training set size")
  ax.set_ylabel("Kendall tau")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  io.save_figure(fig, path, dpi=120)
