"""Zero-cost proxies on any search space with a registered network: your own architectures
(``archs_file``) or a sample of the space, scored and, where the benchmark table is at hand,
correlated with it.

  python -m jaxnas.run --config configs/zero_cost.py --workdir runs/zc \
      --config.search_space=nasbench201 --config.archs_file=my_archs.csv --config.proxies=synflow
  python -m jaxnas.run --config configs/zero_cost.py --config.num_archs=200 --config.proxies=nwot

``archs_file``: a JSON list or a one-column CSV (a header row is skipped) of architectures in any of
the space's text forms: its string (NB201 ``|nor_conv_3x3~0|+|...|``) or NASLib's op-index tuple
``(2, 2, 0, 2, 2, 2)``. Without it, ``num_archs`` seeded random cells are scored, or every cell when
the space has no more than that. ``zc_scores.csv`` has ``index, arch`` (the space's string form),
``params`` and ``flops`` (millions, always) and one column per proxy, plus the benchmark's
``val_accuracy``/``test_accuracy`` when its table is available (embedded, or
``benchmark.path``); ``zc_correlations.json`` and ``zc_<proxy>.png`` then correlate them. The other
keys are those of ``configs/nb201_zc.py``. ``:smoke`` shrinks the network for a quick check.
"""

from __future__ import annotations

import ml_collections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.task = "zero_cost"
  c.search_space = "nasbench201"  # a space with a network in jaxnas.nn.NETWORKS
  c.archs_file = ""  # JSON list or one-column CSV of architectures; "" = sample num_archs
  c.num_archs = 1000  # sampled cells (seeded); every cell when the space has no more
  c.proxies = "synflow"  # comma-separated, of jaxnas.predictors.zero_cost (params, flops always)
  c.seed = 0
  c.dataset = "cifar10"  # sets classes and input size; the benchmark's targets of correlations
  c.batch_size = 64
  c.chunk_size = 1  # 1: one compiled program per proxy, a host loop over cells (CPU); > 1: vmapped
  c.synflow_chunk_size = 125  # synflow: cells per batched forward-mode pass
  c.data = ml_collections.ConfigDict({"name": "fashion_mnist", "path": ""})
  c.network = ml_collections.ConfigDict({"channels": 16, "cells_per_stage": 5})
  # name "" = the space's own benchmark; path "" = its embedded table (none: scores only)
  c.benchmark = ml_collections.ConfigDict({"name": "", "path": ""})
  if arg == "smoke":
    c.num_archs = 8
    c.batch_size = 8
    c.chunk_size = 4
    c.synflow_chunk_size = 4
    c.network.channels = 4
    c.network.cells_per_stage = 1
  return c
