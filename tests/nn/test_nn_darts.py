"""The DARTS-space networks (``nn`` registry ``darts``): closed-form parameter and FLOP counts equal
NASLib's ``params_mb`` / ``flops_m`` for all 725 labelled NB301 architectures (C=32, 8 cells,
search-style ops, no auxiliary head) and DARTS's count of DARTS-V2 (3,349,342 / 3,825,768 with the
auxiliary head); the Flax variables equal the closed form; the primitive ops have their closed-form
sizes; bad inputs are one-line errors. Real forward passes (training mode with the auxiliary head
and drop-path, the search style) are ``extended``."""

from __future__ import annotations

import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas import spaces
from jaxnas.nn import darts, darts_ops

DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA",
                                   pathlib.Path(__file__).resolve().parents[2] / "../shared/data"))
NB301_725 = DATA / "nb301" / "naslib_labeled_725.json"
# every op in both cells, reduction-cell ops reading intermediate nodes (stride 1 at the reduced
# size) and the cell inputs (stride 2)
ALL_OPS = (((0, 0), (1, 1), (0, 2), (2, 3), (3, 4), (1, 5), (4, 6), (0, 3)),
           ((0, 6), (1, 5), (2, 4), (0, 3), (3, 2), (1, 1), (4, 0), (0, 2)))


@pytest.fixture(scope="module")
def nb301_725():
  if not NB301_725.exists():
    pytest.skip(f"{NB301_725} not found (set JAXNAS_SHARED_DATA to the shared data folder)")
  return json.loads(NB301_725.read_text())["data"]["cifar10"]


def test_counts_equal_naslib_725(nb301_725):
  """``params_mb`` x 1e6 and ``flops_m`` x 1e6 of all 725 keys, from shapes alone (NASLib's
  network: C=32, 8 cells, search-style ops, no auxiliary head; tensorwatch FLOPs)."""
  assert len(nb301_725) == 725
  kw = dict(darts.ZC_NETWORK)
  kw.pop("auxiliary")
  params, flops = jnn.FAST_COUNTS["darts"]
  archs = np.stack([np.asarray(darts.cells(k)) for k in nb301_725])  # [725, 2, 8, 2]
  got_p = params(archs, None, num_classes=10, C=kw.pop("C"), N=None, image_size=32, **kw)
  got_f = flops(archs, None, num_classes=10, C=32, N=None, image_size=32, layers=8,
                style="search")
  want_p = np.array([round(r["params_mb"] * 1e6) for r in nb301_725.values()])
  want_f = np.array([round(r["flops_m"] * 1e6) for r in nb301_725.values()])
  assert int((got_p == want_p).sum()) == 725
  assert int((got_f == want_f).sum()) == 725
  first = next(iter(nb301_725))  # SPACES.md section 2's reference row
  assert darts.counts(first, C=32, layers=8, style="search")["params"] == 856_298
  assert darts.count_flops(first, C=32, layers=8, style="search") == 153_499_136


def test_darts_v2_counts():
  """DARTS-V2 at C=36, 20 layers: DARTS's ``count_parameters_in_MB`` (the paper's 3.3M) with and
  without the auxiliary head; its multiply-adds are the paper's ~528M."""
  v2 = spaces.get_space("darts")
  from_space = spaces.arch_from_string(v2, darts.genotype(darts.DARTS_V2))
  assert darts.cells(from_space) == darts.DARTS_V2
  assert darts.count_params(darts.DARTS_V2, C=36, layers=20) == 3_349_342
  assert darts.count_params(darts.DARTS_V2, C=36, layers=20, auxiliary=True) == 3_825_768
  assert darts.count_params(darts.DARTS_V2) == 3_349_342  # the defaults are DARTS's
  assert round(darts.count_macs(darts.DARTS_V2) / 1e6) == 528


def test_op_sizes_equal_the_closed_form():
  """Every primitive (8 x stride 1, 2 x affine on/off, search variant) has ``op_params``
  parameters and keeps C channels at H / stride."""
  x = jnp.zeros((1, 8, 8, 6))
  for name in darts_ops.PRIMITIVES:
    for stride in (1, 2):
      for affine in (True, False):
        op = darts_ops.make_op(name, 6, stride, affine=affine, search=True)
        out, v = jax.eval_shape(lambda op=op: op.init_with_output(jax.random.key(0), x, False))
        assert out.shape == (1, 8 // stride, 8 // stride, 6), name
        n = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(v.get("params", {})))
        assert n == darts_ops.op_params(name, 6, stride, affine), (name, stride, affine)


def _variables(net, size=32):
  return jax.eval_shape(lambda: net.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), False))


def test_flax_variables_equal_the_closed_form():
  """The evaluation network with its auxiliary head (every op in both cells), from shapes only."""
  net = jnn.compile("darts", ALL_OPS, 10, C=4, layers=3, auxiliary=True)
  v = _variables(net)
  assert darts.param_count(v, auxiliary=True) == darts.count_params(
      ALL_OPS, C=4, layers=3, auxiliary=True)
  assert darts.param_count(v) == darts.count_params(ALL_OPS, C=4, layers=3)
  assert "auxiliary_head" in v["params"] and set(v["params"]["cells_1"]) >= {"preprocess0", "op_0"}


@pytest.mark.extended
def test_search_style_variables_equal_the_closed_form():
  net = jnn.compile("darts", ALL_OPS, 10, C=4, layers=4, style="search")
  assert darts.param_count(_variables(net)) == darts.count_params(ALL_OPS, C=4, layers=4,
                                                                  style="search")
  # the generic NATS-convention counter (conv + linear multiply-adds, linear bias) agrees
  assert jnn.count_flops(net) == darts.count_macs(ALL_OPS, C=4, layers=4) + 10


def test_invalid_inputs_are_one_line_errors():
  bad = np.array(darts.DARTS_V2)
  bad[0, 2, 0] = 3  # pair 2 (node 1) may read 0..2
  for arch, match in ((bad, "pair 2 reads input 3"), (np.zeros((3, 8, 2), int), "int\\[2, 8, 2\\]"),
                      ("Genotype(normal=[('conv', 0)])", "(?i)darts")):
    with pytest.raises(ValueError, match=match) as e:
      darts.compile_darts(arch, 10)
    assert "\n" not in str(e.value)
  with pytest.raises(ValueError, match="style"):
    darts.compile_darts(darts.DARTS_V2, 10, style="train")
  with pytest.raises(ValueError, match="even C"):
    darts.compile_darts(darts.DARTS_V2, 10, C=5)
  with pytest.raises(ValueError, match="image_size=32"):
    darts.counts(darts.DARTS_V2, auxiliary=True, image_size=28)
  with pytest.raises(ValueError, match="multiple of 4"):
    darts.counts(darts.DARTS_V2, image_size=30)


@pytest.mark.extended
def test_cell_drop_path_and_aux_head_forward():
  """A training-mode cell (every op): drop-path deterministic per key and different across keys,
  a zero probability keeps every path, running statistics move; the auxiliary head maps an 8x8
  map to logits. (The whole network trains in tests/drivers/test_darts_configs.py.)"""
  cell = darts.Cell(ALL_OPS[0], 8, 8, 4, False, False)
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 8))
  v = cell.init({"params": jax.random.key(0, impl="unsafe_rbg")}, x, x, False)

  @jax.jit
  def train(v, key, drop):
    return cell.apply(v, x, x, True, drop, mutable=["batch_stats"], rngs={"dropout": key})

  y1, s1 = train(v, jax.random.key(1), 0.3)
  y2, _ = train(v, jax.random.key(1), 0.3)
  y3, _ = train(v, jax.random.key(2), 0.3)
  y0, _ = train(v, jax.random.key(2), 0.0)
  assert y1.shape == (4, 8, 8, 16)
  np.testing.assert_array_equal(y1, y2)
  assert not np.allclose(y1, y3)
  no_drop = cell.apply(v, x, x, True, None, mutable=["batch_stats"])[0]
  np.testing.assert_allclose(y0, no_drop, rtol=1e-5, atol=1e-5)
  moved = jax.tree.leaves(jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()),
                                       s1["batch_stats"], v["batch_stats"]))
  assert max(moved) > 0
  head = darts.AuxiliaryHead(8, 10)
  hv = head.init(jax.random.key(0), x, False)
  assert head.apply(hv, x, True, mutable=["batch_stats"])[0].shape == (4, 10)


def test_pools_follow_pytorch():
  """3x3 pools at stride 1 and 2, padding 1: max pads with -inf, avg excludes padded cells
  (``count_include_pad=False``), against a numpy loop."""
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 8, 8, 3)))
  xz = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  xm = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
  ones = np.pad(np.ones((8, 8)), 1)
  for s in (1, 2):
    avg, mx = np.asarray(darts_ops.avg_pool(x, 3, s, 1)), np.asarray(darts_ops.max_pool(x, 3, s, 1))
    assert avg.shape == mx.shape == (2, 8 // s, 8 // s, 3)
    for i in range(8 // s):
      for j in range(8 // s):
        win = np.s_[:, s * i:s * i + 3, s * j:s * j + 3]
        np.testing.assert_allclose(avg[:, i, j], xz[win].sum((1, 2)) / ones[win[1:]].sum(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mx[:, i, j], xm[win].max((1, 2)), rtol=1e-6)
