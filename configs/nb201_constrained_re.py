"""Regularized evolution under a latency constraint: feasibility first, then the metric.

  python -m jaxnas.run --config configs/nb201_constrained_re.py --workdir runs/re_constrained
  python -m jaxnas.run --config configs/nb201_constrained_re.py --config.dataset=cifar10 \\
      --config.constraints="('latency <= 0.0158', 'params <= 0.8')"

The default bound, 0.015 s, is the median of NB201's own ``latency`` table on cifar100 (0.01500 s):
it excludes half of the space. The driver turns the objective's table into
``jaxnas.objectives.constrained_fitness`` (a feasible architecture's fitness is its metric value,
an infeasible one's lies below every feasible value, ordered by total violation) before compiling,
so any black-box optimizer (``--config.optimizer.name`` in ``configs/blackbox.py``) takes
constraints the same way. ``results.json`` then has per seed ``feasible`` and
``best_constraint_values``, and a ``constraints`` section with the fraction of seeds ending
feasible and the table's best feasible value of the metric (``table_best_feasible_value``).

On a HW-NAS-Bench-360 table (``python -m jaxnas.benchmarks build nasbench201 ...
--hw-nas-bench-360 CSV``), set ``benchmark``, ``dataset``, ``metric`` and the constraint on
``lat_ms_median`` of that table.
"""

from jaxnas.drivers.blackbox import blackbox_config

MEDIAN_LATENCY_CIFAR100 = 0.015  # s: 0.0150004 rounded, 7,810 of 15,625 cells (50.0 %) have latency <= it


def get_config(arg=None):
  del arg
  c = blackbox_config("re", population_size=30, sample_size=10)
  c.dataset = "cifar100"
  c.constraints = (f"latency <= {MEDIAN_LATENCY_CIFAR100}",)
  return c
