"""Final training of one NAS-Bench-101 cell from scratch with NAS-Bench-101's recipe (Ying et
al., ICML 2019, Sec. 2.2): RMSProp (decay 0.9, momentum 0.9, epsilon 1.0), lr 0.2 (0.1 scaled by
the benchmark's 2 TPU shards) cosine-decayed to 0 by step, L2 weight decay 1e-4, batch 256,
108 epochs; the network is the benchmark's (128-channel stem, 3 stacks x 3 modules). Here on
Fashion-MNIST (native 28x28, grayscale replicated to RGB; random crop + flip), with checkpoints:
rerunning the same command resumes.

  python -m jaxnas.run --config configs/nb101_train.py --workdir runs/nb101_train
  python -m jaxnas.run --config configs/nb101_train.py --workdir runs/nb101_train \
      --config.arch='(0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, ...)'   # a NASLib 56-int tuple
  python -m jaxnas.run --config configs/nb101_train.py:smoke --workdir /tmp/nb101_smoke

``arch`` takes the space's string (``<V*V adjacency bits>:<V op names>``, pruned or 7x7) or
NASLib's 56-int tuple; the default is the paper's Inception-like cell (2,694,282 parameters at
10 classes). ``:smoke`` trains a tiny version (C=8, 2 stacks of 1 module, 8x8 images, 64
examples, 2 epochs) in seconds.
"""

from jaxnas.drivers.train import train_config

INCEPTION = ("0111010000000100000010000100000000100000010000000:input,conv1x1-bn-relu,"
             "conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,maxpool3x3,output")


def get_config(arg=None):
  c = train_config(INCEPTION)
  c.search_space = "nasbench101"
  c.optimizer = "rmsprop"
  c.rmsprop_decay = 0.9
  c.rmsprop_eps = 1.0
  c.lr = 0.2
  c.momentum = 0.9
  c.nesterov = False
  c.weight_decay = 1e-4
  c.epochs = 108
  c.batch_size = 256
  c.data.name = "fashion_mnist"
  c.network.channels = 128
  c.network.cells_per_stage = 3  # modules per stack
  c.network.num_stacks = 3
  if arg == "smoke":
    c.epochs = 2
    c.batch_size = 16
    c.data.max_examples = 64
    c.data.test_max_examples = 32
    c.data.image_size = 8
    c.network.channels = 8
    c.network.cells_per_stage = 1
    c.network.num_stacks = 2
  return c
