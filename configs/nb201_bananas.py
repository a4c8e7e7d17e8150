"""BANANAS on NAS-Bench-201 (NASLib defaults: num_init 10, k 10, 3-member MLP ensemble on the path
encoding, independent Thompson sampling, 100 candidates by single mutations of the best 2).

  python -m jaxnas.run --config configs/nb201_bananas.py --workdir runs/bananas
  python -m jaxnas.run --config configs/nb201_bananas.py --config.optimizer.predictor=gp \\
      --config.optimizer.encoding_type=adjacency_one_hot --config.optimizer.acq_fn_type=ei
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  return blackbox_config("bananas", num_init=10, k=10, num_ensemble=3, acq_fn_type="its",
                         acq_fn_optimization="mutation", encoding_type="path",
                         num_arches_to_mutate=2, max_mutations=1, num_candidates=100)
