"""``bench_supernet(quick=True)``: every case compiles, runs and reports sane figures."""

from __future__ import annotations

import json

import pytest

from jaxnas.optimizers.oneshot.bench import bench_supernet


@pytest.mark.slow  # four supernet step compilations; the only proof of the benchmark
def test_bench_supernet_quick(tmp_path):
  out = bench_supernet(str(tmp_path / "b.json"), quick=True)
  assert json.loads((tmp_path / "b.json").read_text()) == out
  assert set(out["results"]) == {"darts_1st", "darts_2nd", "gdas", "drnas"}
  for r in out["results"].values():
    assert r["step_ms"] > 0 and r["images_per_s"] > 0 and r["compile_s"] > 0 and r["peak_mib"] > 0
