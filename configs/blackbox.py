"""Any registered black-box optimizer on any registered tabular search space.

  python -m jaxnas.run --config configs/blackbox.py --config.search_space=nasbench201 \
      --config.dataset=cifar10 --config.optimizer.name=bananas --workdir runs/bananas
  python -m jaxnas.benchmarks build transnas101_micro \
      --zip ../shared/data/transnas101/tnb101_micro_zen.zip --out tnb_micro.npz
  python -m jaxnas.run --config configs/blackbox.py --config.search_space=transnas101_micro \
      --config.dataset=jigsaw --config.optimizer.name=re --config.benchmark.path=tnb_micro.npz

``configs/blackbox.py:NAME`` starts from optimizer NAME instead of ``re``. Every hyperparameter of
every optimizer is a key under ``optimizer``, ``None`` until set: the driver gives each ``None`` the
chosen optimizer's default (``fidelities``: the table's declared fidelities; a table with one, such
as TNB micro's final epoch only, gives one rung: BOHB is then TPE-guided full-budget search) and
refuses a set one the chosen optimizer does not take, naming the valid ones.
``optimizer.naslib_valid`` (default True) is a search-space option: the driver makes the space with
it (``jaxnas.spaces.get_space(search_space, naslib_valid=...)``). ``benchmark.name`` ``""`` is the
search space's own benchmark; ``benchmark.path`` a table file (``""``: the embedded table, where the
benchmark has one). The other keys are those of ``configs/nb201_re.py`` (see README).
"""

from __future__ import annotations

from jaxnas.drivers.blackbox import generic_blackbox_config


def get_config(arg=None):
  return generic_blackbox_config(arg or "re")
