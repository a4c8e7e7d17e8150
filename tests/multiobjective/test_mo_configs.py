"""configs/nb201_mo_*.py: every config loads and validates (cheap); one shrunk CLI run end to end
on the real HW-NAS-Bench-360 data (extended)."""

import json

import pytest

from jaxnas import config as config_lib
from jaxnas.drivers import multiobjective as drv
from jaxnas.paths import REPO_ROOT

CONFIGS = ["nb201_mo_nsga2", "nb201_mo_mo_ls", "nb201_mo_parego", "nb201_mo_rs"]


@pytest.mark.parametrize("name", CONFIGS)
def test_config_validates_before_compile(synthetic_hw, name):
  cfg = config_lib.load_config(str(REPO_ROOT / "configs" / f"{name}.py"))
  assert cfg.task == "multiobjective" and cfg.optimizer.name == name.split("nb201_mo_")[1]
  assert {"objectives", "constraints", "reference_point"} <= set(cfg)
  _, _, opt, problem, _, _ = drv.setup(cfg, bench=synthetic_hw)
  assert opt.name == cfg.optimizer.name and problem.objective.metrics == tuple(cfg.objectives)


@pytest.mark.extended
def test_cli_run_writes_results_and_plot(shared_data, tmp_path):
  from jaxnas import run  # pylint: disable=import-outside-toplevel
  from jaxnas.benchmarks import hw_nas_bench as hw  # pylint: disable=import-outside-toplevel
  if not (shared_data / hw.FILE).is_file():
    pytest.skip(f"{shared_data / hw.FILE} not found")
  wd = tmp_path / "mo"
  assert run.main(["--config", str(REPO_ROOT / "configs" / "nb201_mo_rs.py"), "--workdir", str(wd),
                   "--quiet", "--config.num_seeds=2", "--config.num_queries=60",
                   "--config.constraints=('lat_ms_median <= 5',)",
                   "--config.reference_point=(0.0, 20.0)"]) == 0
  r = json.loads((wd / "results.json").read_text())
  assert (wd / "pareto.png").stat().st_size > 10_000
  assert r["reference_point"] == [0.0, 20.0] and r["reference_point_rule"] == "given in the config"
  assert r["constraints"] == ["lat_ms_median <= 5"]
  assert [o["metric"] for o in r["objectives"]] == ["accuracy", "lat_ms_median"]
  assert len(r["seeds"]) == 2 and len(r["seeds"][0]["hypervolume"]) == 60
  assert all(p[1] <= 5 for p in r["true_front"]["points"])
  for s in r["seeds"]:
    assert all(f["values"]["lat_ms_median"] <= 5 for f in s["front"])
    assert s["hypervolume"] == sorted(s["hypervolume"])
  assert set(r["hv_ratio_at"]) == {"50"} and 0 < r["hv_ratio_at"]["50"] <= 1
