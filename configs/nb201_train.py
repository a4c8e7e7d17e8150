"""Final training of one NAS-Bench-201 architecture from scratch (NB201 recipe).

  python -m jaxnas.run --config configs/nb201_train.py --workdir runs/train \
      --config.arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
  python -m jaxnas.run --config configs/nb201_train.py --config.data.name=fashion_mnist \
      --config.epochs=3 --config.network.channels=8 --config.network.cells_per_stage=1
"""

from jaxnas.evaluate.train import train_config


def get_config(arg=None):
  return train_config(arg) if arg else train_config()
