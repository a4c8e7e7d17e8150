"""Performance benchmarks: ``python -m jaxnas.bench SUITE [--json OUT] [options]``.

Suites: ``bbo`` (black-box search speed vs a NASLib-style Python loop), ``suite`` (every black-box
optimizer on every tabular task, ``docs/suite_results.md``), ``bbo-report`` (the
black-box optimizers' quality on the three NB201 datasets and the NAS-Bench-201 time-budget
protocol, as markdown tables: ``docs/blackbox_results.md``); further suites register in ``SUITES``
(zero-cost proxies, supernet steps, predictors) as they are added. Timings are taken after
compilation and reported separately from compile time.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# suite -> (module, function); imported lazily so one broken suite does not break the others.
SUITES = {
    "bbo": ("jaxnas.bench_suites.bbo", "run"),
    "bbo-report": ("jaxnas.bench_suites.bbo_report", "run"),
    "zc": ("jaxnas.bench_suites.zc", "run"),
    "predictors": ("jaxnas.evaluate.predictors", "bench"),
    "supernet": ("jaxnas.optimizers.oneshot.bench", "bench_supernet"),
    "device": ("jaxnas.bench_suites.device", "run"),
    "nb101": ("jaxnas.bench_suites.nb101", "run"),
    "nb101-predictors": ("jaxnas.bench_suites.nb101_predictors", "run"),
    "suite": ("jaxnas.bench_suites.suite", "run"),
    "darts-surrogate": ("jaxnas.bench_suites.darts_surrogate", "run"),
    "multiobjective": ("jaxnas.bench_suites.multiobjective", "run"),
}


def _optimizer_seeds(text: str | None) -> dict[str, int]:
  """``--optimizer-seeds NAME=N,...`` as ``{NAME: N}`` (ValueError on a malformed item)."""
  out = {}
  for item in (text or "").split(","):
    if item.strip():
      k, _, v = item.partition("=")
      if not v.strip().isdigit():
        raise ValueError(f"--optimizer-seeds takes NAME=N,..., got {item!r}")
      out[k.strip()] = int(v)
  return out


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m jaxnas.bench", description=__doc__.split("\n\n")[0])
  p.add_argument("suite", help=f"one of: {', '.join(SUITES)}")
  p.add_argument("--json", default=None, help="write the figures to this JSON file")
  p.add_argument("--quick", action="store_true", help="small sizes (a smoke test, not a measurement)")
  p.add_argument("--num-seeds", type=int, default=None)
  p.add_argument("--num-queries", type=int, default=None)
  p.add_argument("--repeats", type=int, default=None,
                 help="device: timed supernet steps per optimizer (default 10, --quick 2)")
  p.add_argument("--no-model-based", action="store_true",
                 help="bbo: skip BANANAS/NPENAS/BP/GP-BO (they compile for minutes)")
  p.add_argument("--space", default=None,
                 help="bbo: search space (default nasbench201; transnas101_micro needs "
                      "--benchmark-path)")
  p.add_argument("--dataset", default=None, help="bbo: dataset or task (default the table's first)")
  p.add_argument("--full", action="store_true", help="zc: score SynFlow on all 15,625 cells")
  p.add_argument("--proxies", default=None, help="zc: comma-separated proxies (default all)")
  p.add_argument("--markdown", default=None, help="bbo-report: write the tables to this file")
  p.add_argument("--optimizers", default=None,
                 help="bbo-report: comma-separated optimizers of the query table (default all)")
  p.add_argument("--gp-seeds", type=int, default=None,
                 help="bbo-report: seeds of gp_bo (default --num-seeds, 100)")
  p.add_argument("--budget-seeds", type=int, default=None,
                 help="bbo-report: runs per time-budget row (default 500, as the paper)")
  p.add_argument("--no-nats-budgets", action="store_true",
                 help="bbo-report: only the 12,000 s budget, not NATS-Bench's per-dataset ones")
  p.add_argument("--parts", default=None,
                 help="bbo-report: comma-separated tables to (re)run: query, budget, sweep "
                      "(default all; the others are kept from an existing --json file); device: "
                      "comma-separated parts (re, synflow, jacov, darts, gdas, bananas)")
  p.add_argument("--benchmark-path", default=None,
                 help="bbo-report: a table built with --test-accuracy-csv and --hp12-csv "
                      "(default: assembled from the shared data); bbo: the --space's table")
  p.add_argument("--tasks", default=None,
                 help="suite: comma-separated SPACE/DATASET tasks (default: every discovered task)")
  p.add_argument("--seeds", type=int, default=None, help="suite: seeds per task (default 100)")
  p.add_argument("--queries", type=int, default=None, help="suite: queries per run (default 150)")
  p.add_argument("--optimizer-seeds", default=None,
                 help="suite: fewer seeds for some optimizers, e.g. bananas=20,gp_bo=10 (recorded)")
  p.add_argument("--predictors", action="store_true",
                 help="suite: also the predictors' Kendall tau at 100 and 400 architectures")
  p.add_argument("--merge", default=None,
                 help="suite: merge these comma-separated --json reports (no run) into --json/--markdown")
  p.add_argument("--combos", default=None,
                 help="multiobjective: comma-separated HW-NAS-Bench-360 combinations to search "
                      "(<combination>+energy_mj: 3 objectives)")
  p.add_argument("--speed-seeds", type=int, default=None,
                 help="multiobjective: seeds of the nsga2 speed run (default 1000, 0 = none)")
  p.add_argument("--cases", default=None,
                 help="supernet: comma-separated cases (default the NB201 ones: darts_1st, "
                      "darts_2nd, gdas, drnas; opt-in: darts_2nd_exact and the DARTS space's "
                      "darts_space_darts_1st, darts_space_gdas, darts_space_pcdarts)")
  p.add_argument("--baseline", default=None, choices=["torch"],
                 help="supernet: also time a plain PyTorch CPU reference of each NB201 step "
                      "(optional extra jaxnas[bench-torch])")
  p.add_argument("--torch-process", default="separate", choices=["separate", "same"],
                 help="supernet --baseline torch: run the reference in a process of its own "
                      "(default; its steps still alternate with ours) or in this one")
  args = p.parse_args(argv)
  if args.suite not in SUITES:
    print(f"error: unknown suite {args.suite!r}; valid: {', '.join(SUITES)}", file=sys.stderr)
    return 2
  mod, fn = SUITES[args.suite]
  run = getattr(importlib.import_module(mod), fn)
  kwargs = {}
  if args.suite == "bbo":
    if args.quick:
      kwargs.update(num_seeds=16, num_queries=30, baseline_seeds=2, repeats=1)
    if args.num_seeds:
      kwargs["num_seeds"] = args.num_seeds
    if args.num_queries:
      kwargs["num_queries"] = args.num_queries
    if args.space:
      kwargs["space_name"] = args.space
    if args.dataset:
      kwargs["dataset"] = args.dataset
    if args.benchmark_path:
      kwargs["benchmark_path"] = args.benchmark_path
  elif args.suite == "bbo-report":
    kwargs.update(quick=args.quick, markdown_out=args.markdown, gp_seeds=args.gp_seeds,
                  benchmark_path=args.benchmark_path, nats_budgets=not args.no_nats_budgets)
    if args.num_seeds:
      kwargs["num_seeds"] = args.num_seeds
    if args.budget_seeds:
      kwargs["budget_seeds"] = args.budget_seeds
    if args.parts:
      kwargs["parts"] = tuple(x.strip() for x in args.parts.split(",") if x.strip())
    if args.optimizers:
      kwargs["names"] = [o.strip() for o in args.optimizers.split(",") if o.strip()]
  elif args.suite == "device":  # accelerator benchmark: fixed sizes (--quick: tiny, on CPU)
    kwargs["quick"] = args.quick
    if args.quick:  # cheapest compiles for the smoke test; before any backend starts
      from jaxnas.bench_suites import device  # pylint: disable=import-outside-toplevel
      os.environ["XLA_FLAGS"] = device.with_quick_flags(os.environ.get("XLA_FLAGS", ""))
    if args.parts:
      kwargs["parts"] = tuple(x.strip() for x in args.parts.split(",") if x.strip())
    sizes = {"re_seeds": args.num_seeds, "re_queries": args.num_queries,
             "supernet_repeats": args.repeats}
    kwargs["sizes"] = {k: v for k, v in sizes.items() if v}
  elif args.suite == "suite":
    kwargs.update(markdown_out=args.markdown, predictors=args.predictors,
                  command="python -m jaxnas.bench " + " ".join(argv if argv is not None
                                                               else sys.argv[1:]))
    if args.tasks:
      kwargs["tasks"] = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.optimizers:
      kwargs["names"] = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    if args.seeds:
      kwargs["num_seeds"] = args.seeds
    if args.queries:
      kwargs["num_queries"] = args.queries
    seeds_for = {"gp_bo": args.gp_seeds} if args.gp_seeds else {}
    try:
      seeds_for.update(_optimizer_seeds(args.optimizer_seeds))
    except ValueError as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    if seeds_for:
      kwargs["seeds_for"] = seeds_for
    if args.repeats:
      kwargs["repeats"] = args.repeats
    if args.merge:
      kwargs["merge_files"] = [f.strip() for f in args.merge.split(",") if f.strip()]
  elif args.suite == "multiobjective":
    kwargs.update(markdown_out=args.markdown, quick=args.quick,
                  command="python -m jaxnas.bench " + " ".join(argv if argv is not None
                                                               else sys.argv[1:]))
    for key, val in (("combos", args.combos), ("names", args.optimizers)):
      if val:
        kwargs[key] = [x.strip() for x in val.split(",") if x.strip()]
    if args.seeds:
      kwargs["num_seeds"] = args.seeds
    if args.queries:
      kwargs["num_queries"] = args.queries
    if args.speed_seeds is not None:
      kwargs["speed_seeds"] = args.speed_seeds
    seeds_for = {}
    try:
      seeds_for.update(_optimizer_seeds(args.optimizer_seeds))
    except ValueError as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    kwargs["seeds_for"] = seeds_for
    try:
      run(args.json, **kwargs)
    except (ValueError, FileNotFoundError) as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    return 0
  else:
    if args.quick:
      kwargs["quick"] = True
    if args.suite == "zc":
      kwargs["full"] = args.full
      if args.proxies:
        kwargs["proxies"] = [p.strip() for p in args.proxies.split(",") if p.strip()]
    if args.suite == "nb101" and args.benchmark_path:
      kwargs["benchmark_path"] = args.benchmark_path
    if args.suite == "supernet" and args.cases:
      kwargs["cases"] = [c.strip() for c in args.cases.split(",") if c.strip()]
    if args.suite == "supernet" and args.repeats:
      kwargs["repeats"] = args.repeats
    if args.suite == "supernet" and args.baseline:
      kwargs["baseline"] = args.baseline
      kwargs["torch_process"] = args.torch_process
  report = run(None if args.suite == "bbo" else args.json, **kwargs)
  if args.suite == "bbo" and not args.no_model_based:
    # the model-based optimizers, at 100 seeds x 150 queries (their own, smaller default scale)
    from jaxnas.bench_suites import model_based  # pylint: disable=import-outside-toplevel
    report["model_based"] = model_based.run(
        None, quick=args.quick, space_name=args.space or "nasbench201",
        benchmark_path=args.benchmark_path if args.space else None, dataset=args.dataset)
  if args.suite == "bbo" and args.json:
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    import pathlib  # pylint: disable=import-outside-toplevel
    write_json(pathlib.Path(args.json), report)
  return 0


if __name__ == "__main__":
  sys.exit(main())
