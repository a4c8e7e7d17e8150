"""One-shot search on the DARTS space (NAS-Bench-301's cells) with DARTS (first order;
--config.optimizer.second_order=True for the unrolled hypergradient, finite-difference Hessian as
DARTS's; --config.optimizer.hessian=exact differentiates exactly): the DARTS search supernet
(C=16, 8 cells, reductions at 2 and 5, 14 mixed edges x 8 ops with ``none``; see
jaxnas.nn.darts_supernet). ``results.json`` holds the genotype (the ``darts`` space's string) after
every epoch; rerunning with the same workdir resumes.

  python -m jaxnas.run --config configs/darts_darts.py --workdir runs/darts_darts
  # a quick CPU check: 4 channels, 3 cells, Fashion-MNIST at 8x8, one epoch
  python -m jaxnas.run --config configs/darts_darts.py:smoke --workdir runs/darts_darts_smoke
"""

from jaxnas.drivers.oneshot import oneshot_config


def get_config(arg=None):
  return oneshot_config("darts", search_space="darts", second_order=False, preset=arg)
