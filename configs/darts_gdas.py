"""One-shot search on the DARTS space (NAS-Bench-301's cells) with GDAS (hard Gumbel-softmax, one op
per edge): the DARTS search supernet (C=16, 8 cells, reductions at 2 and 5, 14 mixed edges x 8 ops
with ``none``; see jaxnas.nn.darts_supernet). ``results.json`` holds the genotype (the ``darts``
space's string) after every epoch; rerunning with the same workdir resumes.

  python -m jaxnas.run --config configs/darts_gdas.py --workdir runs/darts_gdas
  # a quick CPU check: 4 channels, 3 cells, Fashion-MNIST at 8x8, one epoch
  python -m jaxnas.run --config configs/darts_gdas.py:smoke --workdir runs/darts_gdas_smoke
"""

from jaxnas.drivers.oneshot import oneshot_config


def get_config(arg=None):
  return oneshot_config("gdas", search_space="darts", preset=arg)
