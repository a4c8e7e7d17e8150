"""Final training of one DARTS-space architecture from scratch with DARTS's recipe (Liu et al.,
ICLR 2019, Sec. 3.3 / ``train.py``; NB301's ``config_0.json`` uses the same): SGD lr 0.025
momentum 0.9, cosine-annealed to 0, weight decay 3e-4, batch 96, cutout 16, drop-path 0.2 (ramped
linearly over the epochs), auxiliary head weight 0.4, gradient clipping 5; the evaluation network
(``jaxnas.nn.darts``) with ``network.channels`` C (DARTS 36) and ``network.layers`` cells (20).

  python -m jaxnas.run --config configs/darts_train.py --workdir runs/darts_train
  python -m jaxnas.run --config configs/darts_train.py --workdir runs/darts_train \
      --config.arch="Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], ...)"
  python -m jaxnas.run --config configs/darts_train.py:smoke --workdir /tmp/darts_smoke

``arch`` takes NASLib's compact string or DARTS's ``Genotype(...)`` text (default: DARTS-V2,
3,349,342 parameters at C=36, 20 layers). Data: ``jaxnas.data`` (``data.name=cifar10`` with
``data.path`` when you have CIFAR-10; Fashion-MNIST here, resized to 32x32 because the auxiliary
head needs 8x8 maps after the two reductions). Rerunning the same command resumes from the last
epoch's checkpoint and ends with the same weights. ``:smoke`` trains a tiny network (C=4, 3
cells, 8 steps of 16 images) in one epoch.
"""

from jaxnas.drivers.train import train_config

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
            "reduce_concat=[2, 3, 4, 5])")


def get_config(arg=None):
  import ml_collections  # pylint: disable=import-outside-toplevel

  c = train_config(DARTS_V2)
  c.search_space = "darts"
  c.epochs = 600  # DARTS's CIFAR-10 evaluation (NB301 trained 100)
  c.batch_size = 96
  c.lr = 0.025
  c.momentum = 0.9
  c.nesterov = False
  c.weight_decay = 3e-4
  c.aux_weight = 0.4
  c.drop_path_prob = 0.2
  c.cutout = 16
  c.grad_clip = 5.0
  c.data.name = "fashion_mnist"
  c.data.image_size = 32
  c.network = ml_collections.ConfigDict({"channels": 36, "layers": 20, "auxiliary": True,
                                         "style": "eval"})
  if arg == "smoke":
    c.epochs = 1
    c.batch_size = 16
    c.data.max_examples = 128
    c.data.test_max_examples = 32
    c.cutout = 8
    c.network.channels = 4
    c.network.layers = 3
  return c
