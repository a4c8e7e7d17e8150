"""Build commands for benchmark tables.

``python -m jaxnas.benchmarks build nasbench201 --out PATH [--test-accuracy-csv CSV] [--hp12-csv CSV]``
``python -m jaxnas.benchmarks build transnas101_micro --zip tnb101_micro_zen.zip --out PATH``
``python -m jaxnas.benchmarks build nasbench_graph --out PATH`` (from ``pip install --no-deps nas-bench-graph==1.4.0``)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from jaxnas.benchmarks import io, nb201_build, transnas_build
from jaxnas.benchmarks import nb_graph_build


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m jaxnas.benchmarks",
                              description="Build jaxnas benchmark tables (.npz).")
  sub = p.add_subparsers(dest="cmd", required=True)
  b = sub.add_parser("build", help="build a table")
  b.add_argument("name", choices=["nasbench201", "transnas101_micro", "nasbench_graph"])
  b.add_argument("--out", required=True, help="output .npz path")
  b.add_argument("--test-accuracy-csv", default=None,
                 help="nats_bench.csv-format file: adds test_accuracy and the official index order")
  b.add_argument("--hp12-csv", default=None,
                 help="hp12_accuracy.csv-format file: adds the 12-epoch fidelity")
  b.add_argument("--zip", default=None,
                 help="transnas101_micro: NASLib's tnb101_micro_zen.zip")
  args = p.parse_args(argv)
  try:
    if args.name == "nasbench_graph":
      arrays = nb_graph_build.build()
    elif args.name == "transnas101_micro":
      if not args.zip:
        raise ValueError(f"--zip is required: {transnas_build.BUILD_HINT}")
      arrays = transnas_build.build(args.zip)
    else:
      arrays = nb201_build.build(args.test_accuracy_csv, args.hp12_csv)
  except (FileNotFoundError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  path = io.save(args.out, arrays)
  tables = sorted(k for k in arrays if np.asarray(arrays[k]).dtype == np.float32)
  print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {', '.join(tables)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
