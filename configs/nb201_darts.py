"""DARTS (first order; --config.optimizer.second_order=True for the unrolled hypergradient, with
DARTS's finite-difference Hessian-vector product, or --config.optimizer.hessian=exact for exact
differentiation through the unrolled step) on NAS-Bench-201 (see jaxnas.optimizers.oneshot.darts).

  python -m jaxnas.run --config configs/nb201_darts.py --workdir runs/darts
  python -m jaxnas.run --config configs/nb201_darts.py --config.data.name=fashion_mnist \
      --config.data.max_examples=512 --config.epochs=1 --config.network.channels=8 \
      --config.network.cells_per_stage=1
"""

from jaxnas.drivers.oneshot import oneshot_config


def get_config(arg=None):
  del arg
  return oneshot_config("darts", second_order=False)  # True: unrolled hypergradient
