"""Regularized evolution on NAS-Bench-201 (NASLib defaults: population 30, sample 10).

  python -m jaxnas.run --config configs/nb201_re.py --workdir runs/re
  python -m jaxnas.run --config configs/nb201_re.py --config.dataset=cifar100 --config.num_seeds=1000
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("re", population_size=30, sample_size=10)
