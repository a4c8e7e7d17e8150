"""``bench_supernet``: the timing machinery on one tiny case (the other cases' steps compile and
run in ``test_oneshot.py`` / ``test_driver.py``; here they are only built), bad case labels, and
no JSON output."""

from __future__ import annotations

import json
import math

import pytest

from jaxnas import nn as jnn
from jaxnas.optimizers import oneshot as oneshot_lib
from jaxnas.optimizers.oneshot.bench import CASES, bench_supernet


@pytest.mark.slow  # one supernet step compilation (tens of seconds); the only proof of the bench
def test_bench_supernet_quick(tmp_path):
  out = bench_supernet(str(tmp_path / "b.json"), quick=True, cases=["darts_1st"], quiet=True)
  assert json.loads((tmp_path / "b.json").read_text()) == out
  assert set(out["results"]) == {"darts_1st"}
  steps = out["setting"]["steps_per_25k_epoch"]
  assert steps == math.ceil(25_000 / out["setting"]["batch"])
  r = out["results"]["darts_1st"]
  assert r["step_ms"] > 0 and r["images_per_s"] > 0 and r["compile_s"] > 0 and r["peak_mib"] > 0
  assert r["step_ms_min"] <= r["step_ms"]
  assert r["epoch_25k_s"] == pytest.approx(steps * r["step_ms"] / 1e3)
  assert r["images_per_s"] == pytest.approx(2 * out["setting"]["batch"] / (r["step_ms"] / 1e3))
  assert r["xla_buffers_mib"] is None or r["xla_buffers_mib"] > 0
  assert math.isfinite(r["train_loss"])


def test_bench_cases_build_bad_case_and_no_json(tmp_path, monkeypatch):
  assert [c[0] for c in CASES] == ["darts_1st", "darts_2nd", "gdas", "drnas"]
  net = jnn.supernet_nb201(10, 4, 1)
  for _, name, kw in CASES:  # every case's optimizer and hyperparameters exist (nothing compiles)
    assert callable(oneshot_lib.make(name, net, epochs=1, steps_per_epoch=1, **kw).step)
  with pytest.raises(ValueError, match="unknown supernet bench case 'darts_3rd'"):
    bench_supernet(None, quick=True, cases=["darts_3rd"])
  monkeypatch.chdir(tmp_path)
  out = bench_supernet(None, quick=True, cases=[])  # no case: nothing compiles, nothing written
  assert out["results"] == {} and list(tmp_path.iterdir()) == []
