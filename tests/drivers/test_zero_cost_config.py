"""``configs/zero_cost.py``: a user's architectures from a file in any of the space's text forms
(NB201 strings, NASLib tuples), ``zc_scores.csv`` with the space's strings and params/flops, and
one-line errors before anything compiles."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas import nn as jnn
from jaxnas import run, spaces
from jaxnas.spaces import nb201

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "zero_cost.py") + ":smoke"
ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|none~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|",
         "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]


def _run(tmp_path, archs_file, *extra):
  wd = tmp_path / "wd"
  code = run.main(["--config", CONFIG, "--workdir", str(wd), "--quiet",
                   "--config.proxies=params,flops", f"--config.archs_file={archs_file}", *extra])
  return code, wd


def test_nb201_strings_and_naslib_tuples_score_the_same(tmp_path):
  as_json = tmp_path / "archs.json"
  as_json.write_text(json.dumps(ARCHS))
  # NASLib's form: a header, quoted tuples and one tuple spread over the row's cells
  tuples = [nb201.to_naslib(nb201.from_string(a)) for a in ARCHS]
  as_csv = tmp_path / "archs.csv"
  as_csv.write_text("arch\n" + "".join(f'"{t}"\n' for t in tuples[:-1])
                    + ", ".join(map(str, tuples[-1])) + "\n")
  out = {}
  for f in (as_json, as_csv):
    code, wd = _run(tmp_path / f.suffix[1:], f)
    assert code == 0
    out[f.suffix] = list(csv.DictReader(open(wd / "zc_scores.csv")))
  rows = out[".json"]
  assert rows == out[".csv"]
  assert [r["arch"] for r in rows] == ARCHS  # the space's string form, in the file's order
  assert set(rows[0]) == {"index", "arch", "params", "flops", "val_accuracy"}
  bench = bm.load()
  for r in rows:
    arch = nb201.from_string(r["arch"])
    assert int(r["index"]) == nb201.string_to_id(r["arch"])
    # the smoke network: C=4, N=1, cifar10 (10 classes, 32x32)
    assert float(r["params"]) == pytest.approx(jnn.count_params(arch, num_classes=10, C=4, N=1) / 1e6)
    assert float(r["flops"]) == pytest.approx(
        jnn.count_flops(np.asarray(arch.ops), num_classes=10, C=4, N=1) / 1e6)
    assert float(r["val_accuracy"]) == pytest.approx(
        float(bm.query(bench, arch, "val_accuracy", "cifar10")), abs=1e-4)
  corr = json.loads((tmp_path / "json" / "wd" / "zc_correlations.json").read_text())
  assert corr["params"]["num_archs"] == 4 and corr["_meta"]["search_space"] == "nasbench201"


def test_one_line_errors_before_compiling(tmp_path, capsys):
  good = tmp_path / "archs.json"
  good.write_text(json.dumps(ARCHS[:2]))
  other = tmp_path / "other.csv"
  other.write_text(ARCHS[0] + "\n64-41414-3_32_132\n")
  no_net = [s for s in spaces.SPACES if jnn.ALIASES.get(s, s) not in jnn.NETWORKS]
  cases = [
      ((good, "--config.search_space=nasbench301"),
       "unknown search space 'nasbench301'; valid: nasbench201, transnas101_micro"),
      ((other,), f"archs_file {other} line 2: '64-41414-3_32_132' is an architecture of search "
                 "space transnas101_micro, not of nasbench201"),
      ((tmp_path / "missing.csv",), f"archs_file {tmp_path / 'missing.csv'} not found"),
  ]
  if no_net:
    cases.append(((good, f"--config.search_space={no_net[0]}"),
                  f"search space {no_net[0]!r} has no network registered yet, so its cells cannot "
                  f"be scored; spaces with a network: {', '.join(sorted(jnn.NETWORKS))}"))
  for args, want in cases:
    code, wd = _run(tmp_path, *args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and want in err, (args, err)
    assert not wd.exists()


def test_transnas_micro_cells_counted_by_their_own_network(tmp_path):
  """The same config on a second space: TNB strings and a NASLib tuple, params from each cell's
  own network (no NB201 fast path, cells_per_stage ignored), equal to the analytic count."""
  from jaxnas.nn import transnas_micro  # pylint: disable=import-outside-toplevel
  f = tmp_path / "tnb.json"
  f.write_text(json.dumps(["64-41414-3_33_333", [1, 0, 2, 0, 0, 3]]))
  code, wd = _run(tmp_path, f, "--config.search_space=transnas101_micro",
                  "--config.proxies=params")
  assert code == 0
  rows = list(csv.DictReader(open(wd / "zc_scores.csv")))
  assert [r["arch"] for r in rows] == ["64-41414-3_33_333", "64-41414-1_02_003"]
  for r in rows:
    ops = np.asarray(spaces.get_space("transnas101_micro").from_string(r["arch"]).ops)
    # the smoke network: C=4 (default skeleton 41414), cifar10 classes
    assert float(r["params"]) == pytest.approx(
        transnas_micro.count_params(ops.tolist(), 10, C=4) / 1e6)
    assert float(r["flops"]) > 0
