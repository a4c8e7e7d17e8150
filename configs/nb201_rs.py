"""Random search on NAS-Bench-201.

  python -m jaxnas.run --config configs/nb201_rs.py --workdir runs/rs
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("rs")
