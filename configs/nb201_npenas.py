"""NPENAS on NAS-Bench-201 (NASLib defaults: mutation candidates, exploit-only acquisition).

  python -m jaxnas.run --config configs/nb201_npenas.py --workdir runs/npenas
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("npenas", num_init=10, k=10, num_ensemble=3, encoding_type="path",
                         num_arches_to_mutate=2, max_mutations=1, num_candidates=100)
