"""The NAS-Bench-101 network (``nn`` registry ``nasbench101``): closed-form parameter and FLOP
counts equal the published ones (NASLib's 500 labelled cells, the EC-NAS records, the paper's
Inception-like cell) and the Flax variables equal the closed form. Small networks run in
tests/drivers/test_nb101_configs.py (zero-cost and training configs)."""

from __future__ import annotations

import json
import os
import pathlib

import jax
import numpy as np
import pytest

from jaxnas.nn import nb101

DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA",
                                   pathlib.Path(__file__).resolve().parents[2] / "../shared/data"))
NASLIB_500 = DATA / "nb101" / "naslib_labeled_500.json"

C3, C1, MP = nb101.CONV3X3, nb101.CONV1X1, nb101.MAXPOOL3X3
# The NAS-Bench-101 README / colab "Inception-like" cell: 2,694,282 trainable parameters.
INCEPTION = ([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 0]], ["input", C1, C3, C3, C3, MP, "output"])
# Small cells covering the module rules: input->output projection only; a remainder split with
# truncation (4 interior vertices feeding the output, a chain 1->2 with 2 < 1 channels); a
# max-pool vertex fed by the input; an unpruned 7x7 spec with a dead vertex.
CELLS = [
    ([[0, 1], [0, 0]], ["input", "output"]),
    ([[0, 1, 0, 1, 1, 1], [0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]], ["input", C3, C1, MP, C3, "output"]),
    INCEPTION,
    ([[0, 1, 0, 0, 1, 0, 1], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
     ["input", MP, C1, C3, C3, C3, "output"]),
]
SMALL = dict(C=8, num_stacks=2, N=1)


@pytest.fixture(scope="module")
def naslib_500():
  if not NASLIB_500.exists():
    pytest.skip(f"{NASLIB_500} not found (set JAXNAS_SHARED_DATA to the shared data folder)")
  return json.loads(NASLIB_500.read_text())["data"]["cifar10"]


def test_counts_equal_naslib_500_and_the_inception_cell(naslib_500):
  """``params_mb`` and ``flops_m`` of all 500 NASLib keys (raw 7x7 samples, pruned here), and the
  paper's Inception-like cell, from the closed form alone (no network is built)."""
  assert len(naslib_500) == 500
  for key, row in naslib_500.items():
    params, flops = nb101.counts(key)
    assert params == round(row["params_mb"] * 1e6), key
    assert flops == round(row["flops_m"] * 1e6), key
  first = next(iter(naslib_500))
  assert nb101.counts(first) == (4_095_778, 624_558_080)  # SPACES.md section 1's reference
  assert nb101.count_params(INCEPTION) == 2_694_282


def test_counts_equal_ec_nas_trainable_parameters():
  """TF ``trainable_parameters`` (protobuf field 2) of all 3,988 EC-NAS records (2,532 distinct
  cells, pruned V x V specs) from the closed form; records read with the TensorFlow-free reader."""
  import base64  # pylint: disable=import-outside-toplevel
  tr = pytest.importorskip("jaxnas.benchmarks.tfrecord")
  files = sorted((DATA / "nb101" / "ec_nas").glob("*.tfrecord"))
  if not files:
    pytest.skip(f"{DATA / 'nb101' / 'ec_nas'} has no tfrecord files (set JAXNAS_SHARED_DATA)")
  seen, total = {}, 0
  for path in files:
    for _, payload in tr.read_records(path):
      _, _, bits, ops, metrics = json.loads(payload)
      stored = [v for f, w, v in tr.decode_message(base64.b64decode(metrics)) if (f, w) == (2, 0)]
      v = int(round(len(bits) ** 0.5))
      cell = (tuple(tuple(int(b) for b in bits[i * v:(i + 1) * v]) for i in range(v)),
              tuple(ops.split(",")))
      if cell not in seen:
        seen[cell] = nb101.count_params(cell)
      assert stored == [seen[cell]], (path.name, bits, ops)
      total += 1
  assert total == 3988 and len(seen) == 2532


def _variables(net, size=8):
  x = jax.ShapeDtypeStruct((1, size, size, 3), np.float32)
  return jax.eval_shape(lambda k, x: net.init(k, x, False), jax.random.key(0, impl="unsafe_rbg"),
                        x)


def test_flax_variables_equal_the_closed_form():
  """The parameters the Flax network declares (abstract init) equal :func:`nb101.count_params`,
  on small networks and on the full-size Inception-like cell (2,694,282)."""
  for cell in CELLS:
    shapes = _variables(nb101.compile_nb101(cell, 10, **SMALL))["params"]
    got = sum(int(np.prod(s.shape)) for s in jax.tree_util.tree_leaves(shapes))
    assert got == nb101.count_params(cell, 10, **SMALL), cell
  shapes = _variables(nb101.compile_nb101(INCEPTION, 10), 32)["params"]
  assert sum(int(np.prod(s.shape)) for s in jax.tree_util.tree_leaves(shapes)) == 2_694_282
  # channel rule: 4 interior vertices share 8 channels as 2 each; 5 channels -> 2, 1, 1, 1
  assert nb101.vertex_channels(4, 5, CELLS[1][0]) == (4, 2, 1, 1, 1, 5)


def test_registry_and_example_args():
  """``jaxnas.nn.compile('nasbench101', ...)`` builds the same network as :func:`compile_nb101`, for
  a spec and for the space's ``Arch``. (The forward pass of every cell above is traced by the
  abstract init of the variables test; small networks run forward and backward in
  tests/drivers/test_nb101_configs.py: the zero-cost config's NWOT pass and the training smoke
  run.)"""
  from jaxnas import nn as jnn  # pylint: disable=import-outside-toplevel
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  net = nb101.compile_nb101(CELLS[1], 5, **SMALL)
  assert jnn.compile("nasbench101", CELLS[1], 5, **SMALL) == net
  space = spaces.get_space("nasbench101")
  arch = space.from_string("0111010000000100000010000100000000100000010000000:input,"
                           "conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,"
                           "maxpool3x3,output")
  assert jnn.compile(space, arch, 10) == nb101.compile_nb101(INCEPTION, 10)
  assert nb101.count_params(arch) == 2_694_282
  x, train = net.example_args((2, 8, 8, 3))
  assert x.shape == (2, 8, 8, 3) and train is False


def test_max_pool_same_padding_and_float64_gradient():
  """:func:`nb101.max_pool` equals Flax's 'SAME' max-pool (odd and even sizes, both pools of the
  network) and differentiates under a float64 scope inside ``jit``, as SynFlow runs it (Flax's
  pool fails there: its gradient lowers a float32 pad value). One compiled program."""
  import flax.linen as nn  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

  def check(x5, x4):
    out = []
    for x in (x5, x4):
      for k, s in ((3, 1), (2, 2)):
        ours = lambda x, k=k, s=s: nb101.max_pool(x, k, s)
        ref = lambda x, k=k, s=s: nn.max_pool(x, (k, k), strides=(s, s), padding="SAME")
        out.append((ours(x), ref(x)))
    with jax.enable_x64(True):
      g64 = jax.grad(lambda x: nb101.max_pool(x.astype(jnp.float64), 3, 1).sum())(x5)
    return out, g64

  k5, k4 = jax.random.split(jax.random.key(0))
  out, g64 = jax.jit(check)(jax.random.normal(k5, (1, 5, 5, 2)),
                            jax.random.normal(k4, (1, 4, 4, 2)))
  for a, b in out:
    np.testing.assert_array_equal(a, b)
  # each window of the 5x5x2 output has one maximum: the gradient counts how often each input wins
  assert float(g64.sum()) == 5 * 5 * 2 and g64.dtype == jnp.float32


def test_invalid_cells_are_one_line_errors():
  with pytest.raises(ValueError, match="input does not reach the output"):
    nb101.spec(([[0, 0], [0, 0]], ["input", "output"]))
  with pytest.raises(ValueError, match="strictly upper-triangular"):
    nb101.spec(([[0, 1], [1, 0]], ["input", "output"]))
  full = np.triu(np.ones((7, 7), int), 1)
  with pytest.raises(ValueError, match="21 edges after pruning"):
    nb101.spec((full, ["input"] + [C3] * 5 + ["output"]))
  with pytest.raises(ValueError, match="NASLib 56-int tuple"):
    nb101.spec("(0, 1, 2)")
