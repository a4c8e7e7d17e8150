"""BANANAS on NAS-Bench-101 (NASLib defaults: num_init 10, k 10, 3-member MLP ensemble on the path
encoding, independent Thompson sampling, 100 candidates by single mutations of the best 2), on a
table built from the official tfrecord (see ``configs/nb101_re.py`` and README).

  python -m jaxnas.run --config configs/nb101_bananas.py --workdir runs/nb101_bananas \
      --config.benchmark.path=nb101.npz
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  c = blackbox_config("bananas", num_init=10, k=10, num_ensemble=3, acq_fn_type="its",
                      acq_fn_optimization="mutation", encoding_type="path",
                      num_arches_to_mutate=2, max_mutations=1, num_candidates=100)
  c.search_space = "nasbench101"
  c.benchmark.name = "nasbench101"
  c.benchmark.path = ""  # the built table: --config.benchmark.path=nb101.npz
  return c
