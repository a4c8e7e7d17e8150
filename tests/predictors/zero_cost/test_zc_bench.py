"""``python -m jaxnas.bench zc`` in quick mode (C=4, N=1): every row is written with its fields."""

import json

from jaxnas.bench_suites import zc as zc_bench


def test_zc_bench_quick_writes_rates(tmp_path):
  out = tmp_path / "zc.json"
  rep = zc_bench.run(json_out=out, quick=True, proxies=["snip", "params"], num_archs=3)
  assert json.loads(out.read_text()) == json.loads(json.dumps(rep))
  rows = {r["proxy"]: r for r in rep["results"]}
  assert set(rows) == {"snip", "params"}
  snip = rows["snip"]
  assert snip["num_archs"] == 2 and snip["batch_size"] == 8  # 3 cells, the first one compiles
  assert snip["archs_per_second"] > 0 and snip["compile_seconds"] >= 0
  assert "score_each" in snip["method"]
  assert rows["params"]["archs_per_second"] > 0 and rep["peak_rss_mb"] > 0
