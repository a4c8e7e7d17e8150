"""The zero-cost evaluation driver: batched SynFlow == per-network SynFlow, exact FLOP table,
end-to-end run writing the CSV/JSON/plots."""

import csv
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas import run
from jaxnas.evaluate import zero_cost as zcd
from jaxnas.predictors import zero_cost as zc
from jaxnas.spaces import nb201

ROOT = pathlib.Path(__file__).resolve().parents[2]
IDS = np.array([0, int("111111", 5), int("333333", 5), int("421211", 5), int("031204", 5)])


@pytest.fixture(scope="module")
def tiny():
  net = jnn.supernet_nb201(10, 4, 1, mode="mixed")
  key = jax.random.key(0, impl="unsafe_rbg")
  v = jax.jit(lambda k: net.init(k, *net.example_args((1, 16, 16, 3))))(key)
  return net, {k: v[k] for k in ("params", "batch_stats")}, key


def _reference_synflow(v, key, i):
  """The one-architecture proxy on the discrete network of dense id ``i``, with ``v``'s weights."""
  d = jnn.compile_nb201(nb201.from_id(int(i)), 10, 4, 1)
  vi = d.init(key, jnp.zeros((1, 16, 16, 3)), False)
  vd = jnn.restrict(v, {k: vi[k] for k in ("params", "batch_stats")})
  return float(zc.score("synflow", key, d.apply, vd,
                        (jnp.zeros((1, 16, 16, 3)), jnp.zeros((1,), jnp.int32))))


def test_batched_synflow_equals_per_network_synflow(tiny):
  net, v, key = tiny
  w = np.asarray(jnn.one_hot(nb201.from_id(jnp.asarray(IDS))))
  # scattered cells: the grouped scorer runs them one per pass (every edge switched)
  grouped32 = zcd.synflow_many(net, v, w, 16, chunk_size=2)
  grouped64 = zcd.synflow_many(net, v, w, 16, chunk_size=8, precision="float64")
  mixed32 = zcd.synflow_many(net, v, w, 16, chunk_size=2, method="mixed")
  mixed64 = zcd.synflow_many(net, v, w, 16, chunk_size=8, precision="float64", method="mixed")
  for fast in (grouped32, grouped64, mixed32, mixed64):
    assert fast[0] == zc.SENTINEL  # all-none cell: output independent of the input
  for i in range(1, len(IDS)):
    ref = _reference_synflow(v, key, IDS[i])
    np.testing.assert_allclose(grouped64[i], ref, rtol=1e-6)
    np.testing.assert_allclose(mixed64[i], ref, rtol=1e-6)
    np.testing.assert_allclose(grouped32[i], ref, rtol=1e-5)
    np.testing.assert_allclose(mixed32[i], ref, rtol=1e-5)


def test_grouped_synflow_blocks_in_any_order(tiny):
  # two whole blocks of 25 cells (shared ops on edges 0-3, all 25 choices on edges 4-5), shuffled:
  # the grouped scorer switches on edges 0-3 per block, slices the batch on edges 4-5, and must
  # return each cell's score at its own position
  net, v, key = tiny
  ids = np.concatenate([25 * 97 + np.arange(25), 25 * 431 + np.arange(25)])
  ids = np.random.default_rng(0).permutation(ids)
  ops = np.asarray(nb201.from_id(jnp.asarray(ids)).ops)
  from jaxnas.predictors.zero_cost import _synflow_nb201 as grouped
  assert grouped.block_edges(ids, 25) == 2
  w = np.asarray(jnn.one_hot(ops))
  got = zcd.synflow_many(net, v, w, 16, chunk_size=25, method="grouped")
  # every edge switched, one cell per pass (the program of the test above: no new compile)
  want = zcd.synflow_many(net, v, w, 16, chunk_size=2, method="grouped")
  np.testing.assert_allclose(got, want, rtol=1e-5)
  # the cells' scores differ (30 distinct values here), so a misplaced score would show
  assert np.all(np.isfinite(got)) and len(np.unique(got)) > 10
  for j in (0, 17):  # and the one-architecture proxy itself
    np.testing.assert_allclose(got[j], _reference_synflow(v, key, ids[j]), rtol=1e-5)


def test_grouped_synflow_with_batchnorm_bias(tiny):
  # a non-zero BatchNorm bias makes the network affine in its input: the scaled float32 input
  # would be wrong, so the scorer must switch to float64 with the input as defined
  net, v, key = tiny
  from flax import traverse_util
  flat = traverse_util.flatten_dict(v["params"])
  flat = {k: (x + 0.5 if k[-1] == "bias" and k[-2] == "bn_layer" else x) for k, x in flat.items()}
  vb = {**v, "params": traverse_util.unflatten_dict(flat)}
  w = np.asarray(jnn.one_hot(nb201.from_id(jnp.asarray(IDS))))
  got = zcd.synflow_many(net, vb, w, 16, chunk_size=2)
  i = 4  # "031204"
  np.testing.assert_allclose(got[i], _reference_synflow(vb, key, IDS[i]), rtol=1e-6)
  without = zcd.synflow_many(net, v, w, 16, chunk_size=2)
  assert np.all(np.abs(got - without)[1:] > 1e-2)  # the bias does change every score


def test_blocked_kendall_equals_metrics_kendall():
  from jaxnas.evaluate import metrics
  rng = np.random.default_rng(0)
  x = np.round(rng.normal(size=300), 1)  # ties in both
  y = np.round(x + rng.normal(size=300), 1)
  want = float(metrics.kendall_tau(jnp.asarray(x), jnp.asarray(y)))
  assert abs(zcd.kendall_tau_b(x, y, block=64) - want) < 1e-6
  assert zcd.kendall_tau_b(np.ones(10), y[:10]) == 0.0  # constant input, as metrics.kendall_tau


def test_flop_table_equals_count_flops():
  ids = np.array([0, 7, 1234, 9999, 15624])
  f = zcd.nb201_flop_counts(ids, num_classes=10, C=4, N=1, image_size=16)
  for i, v in zip(ids, f):
    assert v == jnn.count_flops(np.asarray(nb201.from_id(int(i)).ops), num_classes=10, C=4, N=1,
                                input_shape=(16, 16))


def test_zero_cost_run_end_to_end(tmp_path):
  wd = tmp_path / "zc"
  args = ["--config", str(ROOT / "configs/nb201_zc.py:smoke"), "--workdir", str(wd), "--quiet",
          "--config.proxies=synflow,params,flops", "--config.dataset=ImageNet16-120"]
  assert run.main(args) == 0
  rows = list(csv.DictReader(open(wd / "zc_scores.csv")))
  assert len(rows) == 8 and set(rows[0]) == {"index", "arch", "synflow", "params", "flops",
                                              "val_accuracy"}
  for r in rows:
    assert nb201.string_to_id(r["arch"]) == int(r["index"])  # dense id: no official order here
    assert np.isfinite(float(r["synflow"]))
  corr = json.loads((wd / "zc_correlations.json").read_text())
  assert set(corr) == {"synflow", "params", "flops", "_meta"}
  assert corr["params"]["num_archs"] == 8 and -1 <= corr["params"]["spearman"] <= 1
  assert (wd / "zc_synflow.png").is_file()


def test_data_dependent_proxies_end_to_end(tmp_path, shared_data):
  # chunk_size 1 (default): the proxies share one compiled program, a host loop over the cells
  # (zc.score_each, whose rows equal score_many's and the one-network proxy's: tests/predictors)
  fm = shared_data / "images" / "fashion_mnist"
  if not fm.is_dir():
    pytest.skip(f"Fashion-MNIST images not found at {fm} (JAXNAS_SHARED_DATA)")
  wd = tmp_path / "zc"
  args = ["--config", str(ROOT / "configs/nb201_zc.py:smoke"), "--workdir", str(wd), "--quiet",
          "--config.proxies=nwot,snip", "--config.num_archs=5", "--config.chunk_size=1",
          "--config.dataset=ImageNet16-120", f"--config.data.path={fm}"]
  assert run.main(args) == 0
  rows = list(csv.DictReader(open(wd / "zc_scores.csv")))
  assert len(rows) == 5
  for name in ("nwot", "snip"):
    a = np.array([float(r[name]) for r in rows])
    assert np.all(np.isfinite(a)) and len(np.unique(a)) > 1, name
  corr = json.loads((wd / "zc_correlations.json").read_text())
  assert corr["_meta"]["data"] == "fashion_mnist" and corr["snip"]["num_archs"] == 5


def test_bad_proxy_and_data_path(tmp_path, capsys):
  base = ["--config", str(ROOT / "configs/nb201_zc.py:smoke"), "--workdir", str(tmp_path), "--quiet"]
  assert run.main(base + ["--config.proxies=synflow,bogus"]) == 2
  assert "unknown zero-cost proxy 'bogus'" in capsys.readouterr().err
  assert run.main(base + ["--config.proxies=nwot", f"--config.data.path={tmp_path}/nowhere"]) == 2
  assert "nowhere" in capsys.readouterr().err
