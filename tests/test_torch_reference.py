"""The PyTorch reference of ``bench supernet --baseline torch``: it computes our supernet's
function given the same weights (so it times the same step), its steps run, and without PyTorch
the bench says so and times the jaxnas cases alone."""

from __future__ import annotations

import functools
import math
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas.drivers.oneshot import SEARCH_CELL_BN
from jaxnas.optimizers.oneshot import bench


def test_bench_without_torch_reports_and_runs_the_rest(monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
  monkeypatch.delitem(sys.modules, "jaxnas.bench_suites.torch_supernet", raising=False)
  # build_step/time_program stubbed: the compile is tested elsewhere (test_bench.py, extended)
  monkeypatch.setattr(bench, "build_step", lambda opt, batch: types.SimpleNamespace(compiled=None))
  monkeypatch.setattr(bench, "time_program", lambda prog, repeats: {
      "step_ms": 2.0, "step_ms_min": 1.0, "images_per_s": 8.0, "compile_s": 1.0,
      "init_compile_s": 1.0, "train_loss": 2.3})
  monkeypatch.setattr(bench, "_xla_buffers_mib", lambda compiled: None)
  out = bench.bench_supernet(None, quick=True, cases=["gdas"], quiet=True, baseline="torch")
  err = capsys.readouterr().err
  assert "needs PyTorch" in err and "jaxnas cases only" in err and len(err.strip().splitlines()) == 1
  assert out["baseline"] == {"name": "torch", "available": False}
  r = out["results"]["gdas"]
  assert r["step_ms"] == 2.0 and "torch_step_ms" not in r and "ratio_to_torch" not in r
  with pytest.raises(ValueError, match="unknown supernet bench baseline 'tf'; valid: torch"):
    bench.bench_supernet(None, quick=True, cases=[], baseline="tf")
  with pytest.raises(ValueError, match="unknown torch_process 'shared'; valid: separate, same"):
    bench.bench_supernet(None, quick=True, cases=[], baseline="torch", torch_process="shared")


torch = pytest.importorskip("torch", reason="PyTorch (jaxnas[bench-torch]) not installed")


@pytest.fixture(scope="module")
def tiny():
  from jaxnas.bench_suites import torch_supernet  # pylint: disable=import-outside-toplevel
  net = jnn.supernet_nb201(10, 4, 1, cell_bn=SEARCH_CELL_BN)
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 3), jnp.float32)
  w = jax.nn.softmax(jax.random.normal(jax.random.key(2), (6, 5)), -1)
  # random values into the init's shapes: no init compile (the values need not be PyTorch's)
  rng = np.random.default_rng(0)
  shapes = jax.eval_shape(functools.partial(net.init, train=False), jax.random.key(0), x, w)
  v = {"params": jax.tree.map(lambda s: jnp.asarray(0.4 * rng.standard_normal(s.shape), s.dtype),
                             shapes["params"]),  # (no perturbations collection: probes add it)
       "batch_stats": jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), shapes["batch_stats"])}
  model = torch_supernet.NB201SearchModel(10, 4, 1)
  model.load_jax(jax.tree.map(np.asarray, v["params"]))
  model.train()
  return torch_supernet, net, v, x, w, model


FAST = dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)


def _forward(net, v, x, w):
  f = jax.jit(lambda v, x, w: net.apply(v, x, w, True))
  return np.asarray(f.lower(v, x, w).compile(compiler_options=FAST)(v, x, w))


def _nchw(x):
  return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


def test_torch_forward_equals_ours_given_the_same_weights(tiny):
  """Train-mode logits (batch statistics) of the mixed op against our ``mixed`` supernet on the
  same weights (and, extended, GDAS's sampled-op-only form against our ``hard`` one)."""
  _, net, v, x, w, model = tiny
  ours = _forward(net, v, x, w)
  theirs = model(_nchw(x), torch.tensor(np.asarray(w))).detach().numpy()
  np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5)


@pytest.mark.extended  # one more small forward compile
def test_torch_sampled_op_forward_equals_our_hard_supernet(tiny):
  _, net, v, x, _, model = tiny
  ops = np.array([3, 2, 1, 4, 0, 3])
  hard = np.eye(5, dtype=np.float32)[ops]
  ours = _forward(net.clone(mode="hard"), v, x, jnp.asarray(hard))
  theirs = model(_nchw(x), torch.from_numpy(hard), ops.tolist()).detach().numpy()
  np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5)


def test_paired_timing_alternates_the_two_steps():
  """``time_paired``: a warm-up of each side, then jaxnas / torch steps strictly alternating;
  the paired ratio is the median of the per-pair ratios (no compile: a stub step)."""
  calls = []

  def compiled(key, state, x, y):
    calls.append("jax")
    time.sleep(0.002)
    return state, types.SimpleNamespace(train_loss=jnp.float32(1.5))

  def torch_step():  # (seconds, loss), timed where it runs
    calls.append("torch")
    return 0.001, 2.0

  prog = bench.StepProgram(compiled, {}, jnp.zeros((4, 2, 2, 3)), jnp.zeros((4,), jnp.int32),
                           0.1, 0.2)
  r, ttimes, loss = bench.time_paired(prog, lambda: torch_step, 3,
                                      on_warm=lambda: calls.append("warm"))
  assert calls == ["jax", "warm"] + ["torch", "jax"] * 3 + ["torch"]
  assert ttimes == [0.001] * 3 and loss == 2.0
  assert r["ratio_paired"] > 1.0 and r["step_ms"] >= 2.0 and r["train_loss"] == 1.5
  assert r["compile_s"] == 0.2 and r["images_per_s"] == pytest.approx(8 / (r["step_ms"] / 1e3))


@pytest.mark.parametrize("case", [pytest.param("darts_1st", marks=pytest.mark.extended),
                                  pytest.param("darts_2nd", marks=pytest.mark.extended), "gdas",
                                  pytest.param("drnas", marks=pytest.mark.extended)])
def test_torch_steps_run_and_stay_finite(tiny, case):
  ts = tiny[0]
  r = ts.time_case(case, C=4, N=1, batch=4, image=8, repeats=1, threads=1)
  assert r["torch_step_ms"] > 0 and r["torch_step_ms_min"] <= r["torch_step_ms"]
  assert math.isfinite(r["torch_train_loss"]) and 0.5 < r["torch_train_loss"] < 2 * math.log(10)


def test_reference_in_its_own_process_times_the_same_step(tiny):
  """``ProcessStep``: the case built in a spawned process; each call runs one step there and
  answers ``(seconds, loss)``; the losses equal those of the same case run here (same seed, same
  data, same step sequence), and ``close`` ends the process."""
  ts = tiny[0]
  kw = {"C": 4, "N": 1, "batch": 4, "image": 8}
  here = ts.timed_step("gdas", **kw)
  child = ts.ProcessStep("gdas", **kw)
  try:
    assert child.version == torch.__version__ and child.threads >= 1
    for _ in range(2):
      (s_here, l_here), (s_child, l_child) = here(), child()
      assert s_here > 0 and s_child > 0 and math.isfinite(l_child)
      assert l_child == pytest.approx(l_here, rel=1e-5)
  finally:
    child.close()
  assert not child._proc.is_alive()  # pylint: disable=protected-access
