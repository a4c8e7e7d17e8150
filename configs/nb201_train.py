"""Final training of one NAS-Bench-201 architecture from scratch (NB201 recipe).

  python -m jaxnas.run --config configs/nb201_train.py --workdir runs/train \
      --config.arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'

A short CPU run on Fashion-MNIST (all 60,000 training images at their native 28x28, the default
arch above, NB201's best cell by CIFAR-10 test accuracy (94.37% in the paper), C=8, N=1, 3 epochs
of 234 steps of 256, lr 0.1 cosine): test accuracy 0.8947 on all 10,000 test images (0.7998 /
0.8452 / 0.8947 after epochs 1 / 2 / 3), 13.4 CPU-minutes; 40 minutes of wall time on 2 cores
shared with other jobs (load average 6-11):

  python -m jaxnas.run --config configs/nb201_train.py --workdir runs/train_fmnist \
      --config.data.name=fashion_mnist --config.epochs=3 --config.network.channels=8 \
      --config.network.cells_per_stage=1

``data.image_size=0`` keeps the native size (any multiple of 4 works: 28 -> 14 -> 7 over the
three stages); killing the run and rerunning the same command resumes from the last epoch's
checkpoint and ends with the same weights.
"""

from jaxnas.drivers.train import train_config


def get_config(arg=None):
  return train_config(arg) if arg else train_config()
