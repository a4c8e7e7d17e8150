"""Zero-cost proxies on NAS-Bench-201: scores, Spearman/Kendall correlations, scatter plots.

  python -m jaxnas.run --config configs/nb201_zc.py --workdir runs/zc
  python -m jaxnas.run --config configs/nb201_zc.py --config.proxies=synflow,nwot \
      --config.num_archs=1000 --config.benchmark.path=nb201_full.npz   # correlate with test acc

``data.name``/``data.path`` give the images for data-dependent proxies (default: the Fashion-MNIST
IDX files of the shared data, resized to 32x32x3); data-free proxies (synflow, params, flops,
l2_norm, zen) load no data.
"""

import ml_collections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.task = "zero_cost"
  c.proxies = ("epe_nas,fisher,flops,grad_norm,grasp,jacov,l2_norm,nwot,params,plain,snip,"
               "synflow,zen")
  c.num_archs = 0  # 0 = all 15,625 cells; else a seeded random subset
  c.seed = 0
  c.dataset = "cifar10"  # benchmark dataset: sets classes and input size, targets of correlations
  c.batch_size = 64
  # 1 (default, fastest on CPU): each proxy is ONE compiled single-architecture program called
  # from the host per cell (zc.score_each); > 1: vmapped chunks of this many cells under lax.map
  # (zc.score_many; for accelerators; bounds memory). XLA:CPU runs convolutions in loop bodies
  # and grouped (vmapped) convolutions ~25x slower than top-level ones.
  c.chunk_size = 1
  c.synflow_chunk_size = 125  # synflow: cells per batched forward-mode pass (blocks of 5^k <= this)
  c.data = ml_collections.ConfigDict({"name": "fashion_mnist", "path": ""})
  c.network = ml_collections.ConfigDict({"channels": 16, "cells_per_stage": 5})
  c.benchmark = ml_collections.ConfigDict({"name": "nasbench201", "path": ""})
  if arg == "smoke":
    c.num_archs = 8
    c.batch_size = 8
    c.chunk_size = 4
    c.synflow_chunk_size = 4
    c.network.channels = 4
    c.network.cells_per_stage = 1
  return c
