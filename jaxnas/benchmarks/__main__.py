"""Build commands for benchmark tables.

``python -m jaxnas.benchmarks build nasbench201 --out PATH [--test-accuracy-csv CSV] [--hp12-csv CSV]``
``python -m jaxnas.benchmarks build nasbench201 --out PATH --test-accuracy-csv CSV --hw-nas-bench-360 CSV``
``python -m jaxnas.benchmarks build transnas101_micro --zip tnb101_micro_zen.zip --out PATH``
``python -m jaxnas.benchmarks build nasbench101 --tfrecord FILE [--tfrecord FILE ...] --out PATH``
``python -m jaxnas.benchmarks enumerate nasbench101 --out FILE.npz [--max-vertices 7]``
``python -m jaxnas.benchmarks build transnas101_macro --zip tnb101_macro_zen.zip --out PATH``
``python -m jaxnas.benchmarks build nasbench_macro --json nas-bench-macro_cifar10.json --out PATH``
``python -m jaxnas.benchmarks build nasbench_graph --out PATH`` (from ``pip install --no-deps nas-bench-graph==1.4.0``)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from jaxnas.benchmarks import io, nb201_build, transnas_build
from jaxnas.benchmarks import nb101_build
from jaxnas.benchmarks import nb_macro_build, transnas_macro_build
from jaxnas.benchmarks import nb_graph_build


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m jaxnas.benchmarks",
                              description="Build jaxnas benchmark tables (.npz).")
  sub = p.add_subparsers(dest="cmd", required=True)
  b = sub.add_parser("build", help="build a table")
  b.add_argument("name", choices=["nasbench201", "transnas101_micro", "nasbench101"]
                 + ["transnas101_macro", "nasbench_macro", "nasbench_graph"])
  b.add_argument("--out", required=True, help="output .npz path")
  b.add_argument("--test-accuracy-csv", default=None,
                 help="nats_bench.csv-format file: adds test_accuracy and the official index order")
  b.add_argument("--hp12-csv", default=None,
                 help="hp12_accuracy.csv-format file: adds the 12-epoch fidelity")
  b.add_argument("--zip", default=None,
                 help="transnas101_micro: NASLib's tnb101_micro_zen.zip")
  b.add_argument("--json", default=None,
                 help="nasbench_macro: NAS-Bench-Macro's nas-bench-macro_cifar10.json")
  b.add_argument("--tfrecord", action="append", default=[],
                 help="nasbench101: an official (or EC-NAS) tfrecord file; repeat for several")
  b.add_argument("--halfway", action="store_true",
                 help="nasbench101: also store the intermediate (halfway) evaluation's tables")
  b.add_argument("--hw-nas-bench-360", default=None,
                 help="nasbench201: hw_nas_bench_360.csv.gz: adds <device>/<framework>/<task>/"
                      "{lat_ms_median,lat_ms_var,energy_mj,accuracy} (needs --test-accuracy-csv)")
  en = sub.add_parser("enumerate", help="list every unique cell of a space (.npz)")
  en.add_argument("name", choices=["nasbench101"])
  en.add_argument("--out", required=True, help="output .npz path")
  en.add_argument("--max-vertices", type=int, default=7,
                  help="nasbench101: cells on at most this many vertices (7: the whole space)")
  args = p.parse_args(argv)
  if args.cmd == "enumerate":
    from jaxnas.benchmarks import nb101_enumerate  # pylint: disable=import-outside-toplevel
    if not 2 <= args.max_vertices <= 7:
      print(f"error: --max-vertices must be 2..7, got {args.max_vertices}", file=sys.stderr)
      return 2
    return nb101_enumerate.main(args.out, args.max_vertices)
  try:
    if args.name == "nasbench_graph":
      arrays = nb_graph_build.build()
    elif args.name == "nasbench101":
      if not args.tfrecord:
        raise ValueError(f"--tfrecord is required: {nb101_build.BUILD_HINT}")
      arrays = nb101_build.build(args.tfrecord, progress=nb101_build.print_progress,
                                 halfway=args.halfway)
    elif args.name == "transnas101_macro":
      if not args.zip:
        raise ValueError(f"--zip is required: {transnas_macro_build.BUILD_HINT}")
      arrays = transnas_macro_build.build(args.zip)
    elif args.name == "nasbench_macro":
      if not args.json:
        raise ValueError(f"--json is required: {nb_macro_build.BUILD_HINT}")
      arrays = nb_macro_build.build(args.json)
    elif args.name == "transnas101_micro":
      if not args.zip:
        raise ValueError(f"--zip is required: {transnas_build.BUILD_HINT}")
      arrays = transnas_build.build(args.zip)
    else:
      arrays = nb201_build.build(args.test_accuracy_csv, args.hp12_csv, args.hw_nas_bench_360)
  except (FileNotFoundError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  path = io.save(args.out, arrays)
  tables = sorted(k for k in arrays if np.asarray(arrays[k]).dtype == np.float32)
  print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {', '.join(tables)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
