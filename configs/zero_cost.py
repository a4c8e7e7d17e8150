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

DARTS / NAS-Bench-301 (``search_space=darts``): ``archs_file`` lists NASLib compact strings
``[[(0, 3), (1, 3), ...], [...]]`` or DARTS ``Genotype(normal=[...], ...)`` texts, as a JSON list,
a one-column CSV (compact strings) or a ``.txt`` file with one architecture per line. The network
is NASLib's DARTS zero-cost network (C=32, 8 cells, search-style ops, no auxiliary head; its
``params``/``flops`` are NASLib's ``params_mb``/``flops_m`` exactly) unless ``network`` is changed;
``configs/zero_cost.py:darts`` exposes its keys (``--config.network.layers=...``). ``synflow``,
``jacov`` and ``nwot`` run through ONE compiled program for every genotype (the architecture is an
input: ``jaxnas.nn.darts_zc``; each genotype gets its own discrete network's weights and scores);
other proxies compile each genotype's own network (~94 CPU-s each at C=32, 8 cells). The one
program compiles in a few CPU-minutes, then costs ~12-15 CPU-s per genotype at batch 64 (jacov's and
nwot's train-mode pass; synflow alone is far cheaper): ~2.5-3 CPU-hours for all 725 labelled
genotypes (``nb301/naslib_labeled_725.json``'s keys, as a JSON list; docs/zero_cost_results.md):

  python -m jaxnas.run --config configs/zero_cost.py --workdir runs/zc_darts \
      --config.search_space=darts --config.archs_file=my_genotypes.txt \
      --config.proxies=params,flops,synflow,jacov,nwot
"""

from __future__ import annotations

from jaxnas.drivers.zero_cost import zero_cost_config


def get_config(arg=None):
  if arg in ("darts", "darts_smoke"):
    return _darts(arg)
  return zero_cost_config(arg)


def _darts(arg):
  """``:darts``: the DARTS space on NASLib's zero-cost network with its keys exposed
  (``network.channels`` 32, ``network.layers`` 8, ``network.style`` "search"); ``:darts_smoke``
  shrinks it (C=2, 3 cells) for a quick check."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  c = zero_cost_config("smoke" if arg == "darts_smoke" else None)
  c.search_space = "darts"
  c.network = ml_collections.ConfigDict({"channels": 32, "layers": 8, "style": "search"})
  if arg == "darts_smoke":
    c.network.channels, c.network.layers = 2, 3
  return c
