"""One-shot search on NAS-Bench-201 with random search with weight sharing (see jaxnas.optimizers.oneshot.rsws).

  python -m jaxnas.run --config configs/nb201_rsws.py --workdir runs/rsws
  python -m jaxnas.run --config configs/nb201_rsws.py --config.data.name=fashion_mnist \
      --config.data.max_examples=512 --config.epochs=1 --config.network.channels=8 \
      --config.network.cells_per_stage=1
"""

from jaxnas.drivers.oneshot import oneshot_config


def get_config(arg=None):
  del arg
  return oneshot_config("rsws")
