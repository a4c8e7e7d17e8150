"""Space options are fixed when a space is made (``get_space(name, **options)``), never per call;
the optimizers take none; the config key ``optimizer.naslib_valid`` still reaches the space."""

import ast
import pathlib

import jax
import numpy as np
import pytest

from jaxnas import optimizers, spaces
from jaxnas.spaces import graph, nb201, transnas_micro

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_get_space_options():
  default = spaces.get_space("nasbench201")
  assert default is spaces.NASBENCH201 and dict(default.options) == {"naslib_valid": True}
  assert spaces.get_space("nasbench201", naslib_valid=True) is default  # cached: one jit cache
  everything = spaces.get_space("nasbench201", naslib_valid=False)
  assert everything is spaces.get_space("nasbench201", naslib_valid=False)
  assert everything != default and dict(everything.options) == {"naslib_valid": False}
  key = jax.random.key(4)
  np.testing.assert_array_equal(default.sample(key, (300,)).ops,
                                nb201.sample(key, (300,), naslib_valid=True).ops)
  np.testing.assert_array_equal(everything.sample(key, (300,)).ops, nb201.sample(key, (300,)).ops)
  assert bool(nb201.is_naslib_valid(default.sample(key, (1000,))).all())
  assert not bool(nb201.is_naslib_valid(everything.sample(key, (1000,))).all())
  # the deprecated per-call flag still overrides the option
  np.testing.assert_array_equal(default.sample(key, (50,), naslib_valid=False).ops,
                                everything.sample(key, (50,)).ops)
  tnb = spaces.get_space("transnas101_micro", naslib_valid=False)
  ok = jax.vmap(transnas_micro.naslib_filter)(tnb.sample(key, (4000,)).ops)
  assert 0.9 < float(ok.mean()) < 1.0  # 3,972 of the 4,096 cells pass: a few drawn fail
  with pytest.raises(ValueError, match="^unknown option 'naslib' for search space nasbench201; "
                     "valid: naslib_valid$"):
    spaces.get_space("nasbench201", naslib=False)
  with pytest.raises(ValueError, match="naslib_valid of search space nasbench201 must be True or"):
    spaces.get_space("nasbench201", naslib_valid="no")


def test_optimizers_take_no_space_option():
  for name in optimizers.OPTIMIZERS:
    assert "naslib_valid" not in optimizers.factory_hyperparameters(name)
    assert optimizers.hyperparameters(name)["naslib_valid"] is True  # the config key remains
  # make() applies a space option to the space it is given: the same proposals as an optimizer
  # made on the space made with the option
  everything = spaces.get_space("nasbench201", naslib_valid=False)
  key = jax.random.key(0)
  for name in ("rs", "re"):
    a = optimizers.make(name, spaces.NASBENCH201, naslib_valid=False)
    b = optimizers.make(name, everything)
    ask = lambda opt: np.asarray(opt.ask(key, opt.init(key))[0].ops)  # noqa: E731
    np.testing.assert_array_equal(ask(a), ask(b))
  keys = jax.random.split(key, 400)
  rs_all, rs_nas = (optimizers.make("rs", s) for s in (everything, spaces.NASBENCH201))
  asked = lambda opt: jax.jit(jax.vmap(lambda k: opt.ask(k, opt.init(k))[0].ops[0]))(keys)  # noqa: E731
  assert bool(nb201.is_naslib_valid(asked(rs_nas)).all())
  assert not bool(nb201.is_naslib_valid(asked(rs_all)).all())


def test_cell_graph_is_space_generic():
  tnb = spaces.get_space("transnas101_micro")
  g = graph.cell_to_networkx(tnb, tnb.from_string("64-41414-3_00_210"), drop=("none",))
  assert sorted(g.edges(data="op")) == [(0, 1, "nor_conv_3x3"), (0, 3, "nor_conv_1x1"),
                                        (1, 3, "skip_connect")]
  assert sorted(g.nodes) == [0, 1, 2, 3]  # node 2 has no edge left, still a node
  with pytest.raises(ValueError, match="not an architecture of search space transnas101_micro"):
    graph.cell_to_networkx(tnb, nb201.from_id(3))
  ax = graph.draw_cell(tnb, tnb.from_id(100))
  assert ax.figure is not None and len(ax.texts) >= 1


def test_generic_modules_do_not_import_nb201():
  """No generic space or optimizer module imports NB201 (its facts live in its own files)."""
  files = [ROOT / "jaxnas/spaces" / f for f in ("base.py", "cell.py", "graph.py")]
  files += sorted((ROOT / "jaxnas/optimizers/blackbox").glob("*.py"))
  files += [ROOT / "jaxnas/optimizers/__init__.py"]
  for f in files:
    tree = ast.parse(f.read_text())
    names = []
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        names += [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom):
        names += [f"{node.module}.{a.name}" for a in node.names]
    assert not [n for n in names if "nb201" in n], (f, names)
