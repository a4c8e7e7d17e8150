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

from jaxnas.drivers.zero_cost import zero_cost_config


def get_config(arg=None):
  return zero_cost_config(arg)
