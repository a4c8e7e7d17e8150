"""DARTS (first order) on the TransNAS-Bench-101 micro supernet (skeleton 64-41414), the one-shot
driver on a second space; results are looked up in the micro table when ``benchmark.path`` names
one built from NASLib's zip:

  python -m jaxnas.benchmarks build transnas101_micro --zip tnb101_micro_zen.zip --out tnb.npz
  python -m jaxnas.run --config configs/transnas101_micro_darts.py --workdir runs/tnb_darts \
      --config.benchmark.path=tnb.npz --config.benchmark.dataset=class_scene
  # a quick CPU check: one skeleton module, 8 channels, Fashion-MNIST at 16x16
  python -m jaxnas.run --config configs/transnas101_micro_darts.py:smoke --workdir runs/tnb_smoke

Any optimizer of ``jaxnas.optimizers.oneshot`` works the same way (``--config.optimizer.name``
only if its hyperparameters match; otherwise build the config with
``jaxnas.drivers.oneshot.oneshot_config(name, search_space="transnas101_micro")``).
"""

from jaxnas.drivers.oneshot import oneshot_config


def get_config(arg=None):
  c = oneshot_config("darts", search_space="transnas101_micro", second_order=False)
  c.benchmark.dataset = "class_scene"
  if arg == "smoke":
    c.data.name = "fashion_mnist"
    c.data.max_examples = 256
    c.data.image_size = 16
    c.epochs, c.batch_size = 1, 32
    c.network.channels, c.network.skeleton = 8, "4"
  return c
