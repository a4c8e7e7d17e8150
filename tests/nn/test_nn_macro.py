"""Networks of the two macro spaces. NAS-Bench-Macro: params and FLOPs equal its json for all
6,561 keys through configs/zero_cost.py (closed-form counter, checked against the Flax variables
and a traced FLOP count); TNB macro: basic-block backbones, closed-form params and output shapes
for every skeleton, a couple compiled and run at tiny size."""

from __future__ import annotations

import csv
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas import run, spaces
from jaxnas.nn import nb_macro, transnas_macro

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def records(shared_data):
  p = shared_data / "nas_bench_macro" / "nas-bench-macro_cifar10.json"
  if not p.is_file():
    pytest.skip(f"{p} not found (set JAXNAS_SHARED_DATA)")
  return json.loads(p.read_text())


def test_nb_macro_counts_exact_for_all_keys_through_zero_cost_config(records, tmp_path):
  wd = tmp_path / "zc"
  code = run.main(["--config", str(ROOT / "configs" / "zero_cost.py"), "--workdir", str(wd),
                   "--quiet", "--config.search_space=nasbench_macro", "--config.proxies=params,flops",
                   "--config.num_archs=0"])
  assert code == 0
  rows = list(csv.DictReader(open(wd / "zc_scores.csv")))
  assert len(rows) == 6561
  params = sum(round(float(r["params"]) * 1e6) == records[r["arch"]]["params"] for r in rows)
  flops = sum(round(float(r["flops"]) * 1e6) == records[r["arch"]]["flops"] for r in rows)
  assert (params, flops) == (6561, 6561)


def test_nb_macro_closed_form_equals_the_flax_network(records):
  for key in ("00000000", "22212220", "12021011"):
    net = jnn.compile("nasbench_macro", key, 10)
    assert jnn.count_params(net) == records[key]["params"]
    assert nb_macro.count_flops(net) == records[key]["flops"]
    p, f = nb_macro.closed_form_counts(np.asarray([[int(c) for c in key]]))
    assert (int(p[0]), int(f[0])) == (records[key]["params"], records[key]["flops"])
  # NB201's counter keeps its own convention (linear bias counted; it knows no depthwise conv)
  assert jnn.count_flops(jnn.compile("nasbench_macro", "00000000", 10)) == 7_713_280 + 10


def test_nb_macro_forward_and_supernet_variables():
  x = jnp.ones((1, 8, 8, 3))
  net = jnn.compile("nasbench_macro", "10200120", 10)
  # init and apply in one compiled program (eager init dispatches op by op: slower on CPU)
  v, y = jax.jit(lambda k, x: (lambda v: (v, net.apply(v, x, False)))(net.init(k, x, False)))(
      jax.random.key(1), x)
  assert y.shape == (1, 10) and bool(jnp.isfinite(y).all())
  # the supernet holds every choice of every layer, each shaped as in the discrete networks
  sup = jnn.compile("nasbench_macro", None, 10)
  shapes = jax.eval_shape(lambda k: sup.init(k, *sup.example_args((1, 8, 8, 3))), jax.random.key(0))
  for i, o in enumerate(int(c) for c in "10200120"):
    if f"layer{i}" in v["params"]:
      got = jax.tree.map(lambda a: a.shape, shapes["params"][f"layer{i}_choice{o}"])
      assert got == jax.tree.map(lambda a: a.shape, v["params"][f"layer{i}"])


def test_tnb_macro_networks():
  space = spaces.get_space("transnas101_macro")
  digits = np.asarray(space.all_archs().ops)
  # closed form for every skeleton: resolution /4 by the stem then /2 per 3 or 4, channels x2 per
  # 2 or 4; never below 1x1 at 32x32
  down = np.isin(digits, (3, 4)).sum(-1)
  double = np.isin(digits, (2, 4)).sum(-1)
  for i in range(3256):
    h, c = transnas_macro.output_shape(digits[i], C=64, image_size=32)
    assert c == 64 * 2 ** double[i] and h == max(1, 8 // 2 ** down[i])
  # the closed-form params equal the Flax variables (abstract init) on skeletons of each length
  for s in ("64-1234-basic", "64-42431-basic", "64-444311-basic"):
    net = jnn.compile("transnas101_macro", s, 63, C=8)
    assert jnn.count_params(net) == transnas_macro.count_params(s, 63, C=8), s
  net = jnn.compile("transnas101_macro", space.from_string("64-1234-basic"), 5, C=4)
  x = jnp.ones((2, 8, 8, 3))
  y = jax.jit(lambda k, x: net.apply(net.init(k, x, False), x, True, mutable=["batch_stats"])[0])(
      jax.random.key(0), x)
  assert y.shape == (2, 5) and bool(jnp.isfinite(y).all())
  with pytest.raises(ValueError, match="no supernet"):
    jnn.compile("transnas101_macro", None, 10)
