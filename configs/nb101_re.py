"""Regularized evolution on NAS-Bench-101 (NASLib defaults: population 30, sample 10), on a table
built from the official tfrecord (``python -m jaxnas.benchmarks build nasbench101``, see README).

  python -m jaxnas.benchmarks build nasbench101 --tfrecord nasbench_only108.tfrecord --out nb101.npz
  python -m jaxnas.run --config configs/nb101_re.py --workdir runs/nb101_re \
      --config.benchmark.path=nb101.npz

The table is fingerprint-indexed (module-hash classes); a partial table (e.g. EC-NAS's) is searched
the same way, and queries of cells it lacks are reported. ``--config.dataset`` /
``--config.epoch`` pick the table's dataset and budget (4, 12, 36, 108 epochs).
"""

from jaxnas.drivers.blackbox import blackbox_config


def get_config(arg=None):
  del arg
  c = blackbox_config("re", population_size=30, sample_size=10)
  c.search_space = "nasbench101"
  c.benchmark.name = "nasbench101"
  c.benchmark.path = ""  # the built table: --config.benchmark.path=nb101.npz
  return c
