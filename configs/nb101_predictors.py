"""Predictor evaluation on NAS-Bench-101 (White et al., NeurIPS 2021 protocol), on a table built
from the official tfrecord (``python -m jaxnas.benchmarks build nasbench101 ... --out nb101.npz``).

  python -m jaxnas.run --config configs/nb101_predictors.py --workdir runs/nb101_pred \
      --config.benchmark_path=nb101.npz
  python -m jaxnas.run --config configs/nb101_predictors.py:smoke --workdir /tmp/pred \
      --config.benchmark_path=nb101.npz

Features are the space's encodings (``adjacency_one_hot``; ``path`` for BANANAS-style models; the
GCNs read the ``graph`` encoding). Without a table, NASLib's 500 labelled cells give a
cross-validated Kendall tau for the GP, the GCN and LightGBM:
``python -m jaxnas.bench nb101-predictors`` (``jaxnas/bench_suites/nb101_predictors.py``).
The other keys are those of ``configs/nb201_predictors.py``.
"""

import ml_collections


def get_config(arg=None):
  """The evaluator config on NB101; ``arg="smoke"`` shrinks it to a seconds-long run."""
  c = ml_collections.ConfigDict()
  c.task = "predictors"
  c.predictors = "gp,gcn,lightgbm,xgboost,mlp"
  c.train_sizes = "10,20,50,100,200,400"
  c.num_test = 1000
  c.num_seeds = 5
  c.seed = 0
  c.search_space = "nasbench101"
  c.benchmark = "nasbench101"
  c.benchmark_path = ""  # the built table: --config.benchmark_path=nb101.npz
  c.dataset = "cifar10"
  c.metric = "val_accuracy"
  c.encoding = "adjacency_one_hot"  # GCNs always read the "graph" encoding
  c.target_transform = "log_gap"
  c.score_features = "params"
  c.pad_buffer = True
  c.plot = True
  c.hparams = ml_collections.ConfigDict()
  if arg == "smoke":
    c.predictors = "blr"
    c.train_sizes = "10,20"
    c.num_test = 50
    c.num_seeds = 2
    c.hparams = ml_collections.ConfigDict({"blr": {"num_steps": 5}})
  return c
