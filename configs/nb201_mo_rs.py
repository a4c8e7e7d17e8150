"""Multi-objective NAS on HW-NAS-Bench-360: random search with Pareto bookkeeping (the baseline); accuracy x median latency on
pi5/litert/cifar100, 100 seeds x 300 queries.

  python -m jaxnas.run --config configs/nb201_mo_rs.py --workdir runs/mo_rs
  python -m jaxnas.run --config configs/nb201_mo_rs.py --config.combination=pixel/litert/cifar100
  python -m jaxnas.run --config configs/nb201_mo_rs.py \
      --config.objectives="('accuracy', 'lat_ms_median', 'energy_mj')"
  python -m jaxnas.run --config configs/nb201_mo_rs.py --config.constraints="('lat_ms_median <= 5',)"

Keys: objectives, constraints, reference_point (() = nadir of the whole table - 1% of each range)
and the optimizer's hyperparameters; see jaxnas.drivers.multiobjective.
"""

from jaxnas.drivers.multiobjective import mo_config


def get_config(arg=None):
  del arg
  return mo_config("rs")
