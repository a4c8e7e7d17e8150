"""BasePredictor (Wen et al.'s neural predictor) on NAS-Bench-201: 130 random queries, one fit,
then the predicted top 20 of a 300-cell random pool (NASLib's 20/172 split of the budget).

  python -m jaxnas.run --config configs/nb201_bp.py --workdir runs/bp
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("bp", num_init=130, k=10, num_candidates=300)
