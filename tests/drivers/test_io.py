"""The drivers' shared io: atomic JSON, config hashes, figures outside pyplot, and the old module
paths that now point at the drivers."""

from __future__ import annotations

import json
import pathlib
import re

import ml_collections

from jaxnas.drivers import io

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_write_json_is_atomic_and_stringifies(tmp_path):
  path = tmp_path / "r.json"
  io.write_json(path, {"a": 1, "p": pathlib.Path("x")})
  assert json.loads(path.read_text()) == {"a": 1, "p": "x"}
  assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_config_hash_drops_keys_and_is_order_free():
  a = ml_collections.ConfigDict({"x": 1, "y": 2, "chunk": 5})
  b = ml_collections.ConfigDict({"y": 2, "x": 1, "chunk": 7})
  assert io.config_hash(a, drop=("chunk",)) == io.config_hash(b, drop=("chunk",))
  assert io.config_hash(a) != io.config_hash(b)
  assert re.fullmatch(r"[0-9a-f]{12}", io.config_hash(a))


def test_figures_leave_pyplot_and_the_backend_alone(tmp_path):
  import matplotlib  # pylint: disable=import-outside-toplevel
  backend = matplotlib.get_backend()
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  before = plt.get_fignums()
  from jaxnas.drivers import blackbox  # pylint: disable=import-outside-toplevel
  blackbox.plot_trajectories(tmp_path / "t.png", {"re": [[1.0, 2.0, 3.0], [1.5, 2.5, 2.5]]})
  fig, axes = io.figure(nrows=2, ncols=3)
  assert axes.shape == (2, 3)
  io.save_figure(fig, tmp_path / "f.png")
  assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
  assert (tmp_path / "f.png").stat().st_size > 0
  assert matplotlib.get_backend() == backend and plt.get_fignums() == before


def test_no_library_module_switches_the_matplotlib_backend():
  offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "jaxnas").rglob("*.py")
               if "matplotlib.use(" in p.read_text()]
  assert not offenders, offenders


def test_old_driver_paths_are_the_driver_modules():
  from jaxnas import experiments, oneshot_driver  # pylint: disable=import-outside-toplevel
  from jaxnas.drivers import blackbox, oneshot, predictors, train, zero_cost  # pylint: disable=import-outside-toplevel
  from jaxnas.evaluate import predictors as ev_pred  # pylint: disable=import-outside-toplevel
  from jaxnas.evaluate import train as ev_train  # pylint: disable=import-outside-toplevel
  from jaxnas.evaluate import zero_cost as ev_zc  # pylint: disable=import-outside-toplevel
  assert experiments is blackbox and oneshot_driver is oneshot and ev_train is train
  assert ev_pred.run is predictors.run and ev_pred.RESULTS_FILE == predictors.RESULTS_FILE
  assert ev_zc.run is zero_cost.run and ev_zc.select_archs is zero_cost.select_archs
  from jaxnas import run  # pylint: disable=import-outside-toplevel
  for task, (mod, fn) in run.TASKS.items():
    assert mod.startswith("jaxnas.drivers."), task
    assert callable(run._driver(task)), task  # pylint: disable=protected-access
