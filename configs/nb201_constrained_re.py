"""Regularized evolution under a latency constraint: feasibility first, then the metric.

  python -m jaxnas.run --config configs/nb201_constrained_re.py --workdir runs/re_constrained
  python -m jaxnas.benchmarks build nasbench201 --test-accuracy-csv nats_bench.csv \\
      --hw-nas-bench-360 hw_nas_bench_360.csv.gz --out nb201_hw.npz
  python -m jaxnas.run --config configs/nb201_constrained_re.py:pi5/litert/cifar100 \\
      --config.benchmark.path=nb201_hw.npz --workdir runs/re_constrained_pi5
  python -m jaxnas.run --config configs/nb201_constrained_re.py \\
      --config.constraints="('latency <= 0.0158', 'params <= 0.8')"

Without an argument: NB201's own ``latency`` table on cifar100, bound 0.015 s (the median,
0.0150004 s: 7,810 of 15,625 cells, 49.98 %, are feasible). With the argument
``pi5/litert/cifar100`` (the one combination whose median is written here): the HW-NAS-Bench-360
metrics of an NB201 table built with ``--hw-nas-bench-360``: maximise
``pi5/litert/cifar100/accuracy`` (the task's test accuracy) subject to
``pi5/litert/cifar100/lat_ms_median <= 3.2615`` ms (the median, 3.26149 ms: 50.01 % feasible).

The driver turns the objective's table into ``jaxnas.objectives.constrained_fitness`` (a feasible
cell's fitness is its metric value, an infeasible one's lies below every feasible value, ordered
by total violation) before compiling, so any black-box optimizer (``--config.optimizer.name`` in
``configs/blackbox.py``) takes constraints the same way. ``results.json`` then has per seed
``feasible`` and ``best_constraint_values``, and a ``constraints`` section with the fraction of
seeds ending feasible and the table's best feasible value of the metric
(``table_best_feasible_value``).
"""

from jaxnas.drivers.blackbox import blackbox_config

MEDIAN_LATENCY_CIFAR100 = 0.015  # s, NB201 table: 0.0150004 rounded; 49.98 % of cells <= it
MEDIAN_LAT_MS = {"pi5/litert/cifar100": 3.2615}  # HW-NAS-Bench-360 median 3.26149 ms; 50.01 %


def get_config(arg=None):
  c = blackbox_config("re", population_size=30, sample_size=10)
  c.dataset = "cifar100"
  if not arg:
    c.constraints = (f"latency <= {MEDIAN_LATENCY_CIFAR100}",)
    return c
  if arg not in MEDIAN_LAT_MS:
    raise ValueError(f"unknown argument {arg!r} of configs/nb201_constrained_re.py; valid: "
                     f"{', '.join(MEDIAN_LAT_MS)} (or none)")
  c.metric = f"{arg}/accuracy"
  c.constraints = (f"{arg}/lat_ms_median <= {MEDIAN_LAT_MS[arg]}",)
  return c
