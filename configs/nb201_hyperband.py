"""Hyperband on NAS-Bench-201 under the NAS-Bench-201 paper's simulated budget
(12,000 s of training time on cifar10), querying the 12- and 200-epoch fidelities.

Needs the table with the 12-epoch fidelity (and test accuracy for the final report)::

  python -m jaxnas.benchmarks build nasbench201 --out nb201_full.npz \\
      --test-accuracy-csv ../shared/data/nb201/nats_bench.csv \\
      --hp12-csv ../shared/data/nb201/hp12_accuracy.csv
  python -m jaxnas.run --config configs/nb201_hyperband.py --config.benchmark.path=nb201_full.npz \\
      --workdir runs/hyperband
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  c = blackbox_config("hb", eta=3)
  c.time_budget = 12000.0  # simulated training seconds
  c.num_queries = 400  # a cap on queries; the budget ends the search first
  c.plot_x = "train_time"
  return c
