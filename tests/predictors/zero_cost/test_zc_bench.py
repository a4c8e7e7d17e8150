"""``python -m jaxnas.bench zc`` in quick mode (C=4, N=1): every row is written with its fields, and
its figures are consistent with each other and with the time the call took."""

import json
import math
import time

import pytest

from jaxnas.bench_suites import zc as zc_bench
from jaxnas.spaces import nb201


@pytest.mark.extended  # CI's second step (README): the bench's smoke run
def test_zc_bench_quick_writes_rates(tmp_path):
  out = tmp_path / "zc.json"
  t0 = time.perf_counter()
  rep = zc_bench.run(json_out=out, quick=True, proxies=["snip", "params"], num_archs=3)
  elapsed = time.perf_counter() - t0
  assert json.loads(out.read_text()) == json.loads(json.dumps(rep))
  assert rep["network"] == {"C": 4, "N": 1, "image_size": 32}
  assert isinstance(rep["device"], str) and rep["device"]
  assert [r["proxy"] for r in rep["results"]] == ["snip", "params"]  # in the order asked
  fields = {"proxy", "num_archs", "batch_size", "compile_seconds", "seconds", "archs_per_second",
            "method"}
  for r in rep["results"]:
    assert set(r) == fields, r
    for k in ("compile_seconds", "seconds", "archs_per_second"):
      assert isinstance(r[k], float) and math.isfinite(r[k]), (r["proxy"], k, r[k])
    assert isinstance(r["num_archs"], int) and isinstance(r["batch_size"], int)
    # the rate is the cells timed over the seconds they took, which the call contains
    assert r["seconds"] > 0 and r["compile_seconds"] >= 0
    assert r["archs_per_second"] == pytest.approx(r["num_archs"] / r["seconds"], rel=1e-6), r
    assert r["seconds"] + r["compile_seconds"] <= elapsed, (r, elapsed)
  snip, params = rep["results"]
  # 3 cells asked, the first one compiles: 2 timed, on the quick batch of 8 images
  assert snip["num_archs"] == 2 and snip["batch_size"] == 8
  assert "score_each" in snip["method"]
  # params is an analytic count over the whole space: nothing compiles, no image batch
  assert params["num_archs"] == nb201.NUM_ARCHS and params["batch_size"] == 0
  assert params["compile_seconds"] == 0.0 and params["method"] == "analytic count"
  assert 0 < rep["peak_rss_mb"] < 1e6 and math.isfinite(rep["peak_rss_mb"])
