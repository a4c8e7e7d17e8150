"""Local search on NAS-Bench-201 (NASLib default: 10 random initial architectures).

  python -m jaxnas.run --config configs/nb201_ls.py --workdir runs/ls
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("ls", num_init=10)
