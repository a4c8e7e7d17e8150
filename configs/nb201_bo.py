"""GP Bayesian optimisation (expected improvement, Matern-5/2 GP on the one-hot op encoding) on
NAS-Bench-201.

  python -m jaxnas.run --config configs/nb201_bo.py --workdir runs/gp_bo
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("gp_bo", num_init=10, k=10, acq_fn_type="ei",
                         encoding_type="adjacency_one_hot")
