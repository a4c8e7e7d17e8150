"""Constrained single-objective search: the ``constraints`` config key turns the objective's table
into ``objectives.constrained_fitness`` before compile, so every black-box optimizer puts
feasibility first; bad constraints are one-line errors before compile."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import objectives, run, spaces
from jaxnas.drivers import blackbox

ROOT = pathlib.Path(__file__).resolve().parents[2]
BOUND = 0.015  # s: the median of NB201's cifar100 latency table (half the space is feasible)


def _config(name="re", **hp):
  c = blackbox.generic_blackbox_config(name)
  c.dataset = "cifar100"
  c.num_seeds, c.num_queries = 4, 40
  for k, v in hp.items():
    c.optimizer[k] = v
  c.constraints = (f"latency <= {BOUND}",)
  return c


@pytest.mark.extended
def test_constrained_re_end_to_end(tmp_path):
  """Through ``python -m jaxnas.run`` with the committed config, shrunk: every seed ends feasible
  and what it reports is what the table says."""
  wd = tmp_path / "re"
  run.main(["--config", str(ROOT / "configs" / "nb201_constrained_re.py"),
            "--config.num_seeds=4", "--config.num_queries=40",
            "--config.optimizer.population_size=8", "--config.optimizer.sample_size=3",
            f"--workdir={wd}", "--quiet"])
  res = json.loads((wd / "results.json").read_text())
  bench = bm.load("nasbench201")
  space = spaces.get_space("nasbench201")
  assert res["constraints"]["constraints"] == ["latency <= 0.015"]
  assert res["constraints"]["feasible_seeds"] == 1.0
  assert res["constraints"]["table_feasible_fraction"] == pytest.approx(0.5, abs=1e-3)
  best, _, _ = objectives.best_feasible(bench, "val_accuracy",
                                        objectives.parse_constraints("latency <= 0.015"),
                                        "cifar100")
  assert res["constraints"]["table_best_feasible_value"] == pytest.approx(best)
  for s in res["seeds"]:
    arch = space.from_string(s["best_arch"])
    lat = float(bm.query(bench, arch, "latency", "cifar100"))
    assert s["feasible"] and lat <= BOUND
    assert s["best_constraint_values"]["latency"] == pytest.approx(lat)
    # a feasible best reports the metric itself, never a penalty
    assert s["best_val_accuracy"] == pytest.approx(float(bm.query(bench, arch, "val_accuracy",
                                                                  "cifar100")), abs=1e-4)
    assert s["best_val_accuracy"] <= best + 1e-4


def test_constraints_checked_before_compile():
  c = _config()
  c.constraints = ("energy_mj <= 5",)
  with pytest.raises(ValueError, match="'energy_mj', which benchmark nasbench201 lacks; it has:") as e:
    blackbox.blackbox_setup(c)
  assert "\n" not in str(e.value)
  c.constraints = ("latency == 5",)
  with pytest.raises(ValueError, match="METRIC OP NUMBER"):
    blackbox.blackbox_setup(c)


def test_no_constraints_same_config_hash():
  """An empty ``constraints`` key changes neither results nor the chunk hash of older configs."""
  c = blackbox.blackbox_config("re", population_size=30, sample_size=10)
  h = blackbox._config_hash(c)
  del c["constraints"]
  assert blackbox._config_hash(c) == h


@pytest.mark.extended
def test_another_optimizer_takes_constraints():
  """The transform lives in the table: another optimizer (local search), unchanged, ends
  feasible (every optimizer reads fitness through the same loop; one more compile is enough)."""
  res = blackbox.run_blackbox(_config("ls", num_init=5), quiet=True)
  assert res["constraints"]["feasible_seeds"] == 1.0
  assert np.all(np.isfinite([s["best_val_accuracy"] for s in res["seeds"]]))
