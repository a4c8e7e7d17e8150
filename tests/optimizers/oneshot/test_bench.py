"""``bench_supernet``: the timing machinery on one tiny case (the other cases' steps compile and
run in ``test_oneshot.py`` / ``test_driver.py``; here they are only traced), bad case labels, and
no JSON output."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import pytest

from jaxnas import nn as jnn
from jaxnas.drivers.oneshot import SEARCH_CELL_BN
from jaxnas.optimizers import oneshot as oneshot_lib
from jaxnas.optimizers.oneshot.bench import CASES, EXTRA_CASES, TORCH_CASE, bench_supernet


@pytest.mark.extended  # CI's second step (README): the bench's smoke run
@pytest.mark.slow  # one supernet step compilation (tens of seconds); the only proof of the bench
def test_bench_supernet_quick(tmp_path):
  out = bench_supernet(str(tmp_path / "b.json"), quick=True, cases=["darts_1st"], quiet=True)
  assert json.loads((tmp_path / "b.json").read_text()) == out
  assert set(out["results"]) == {"darts_1st"}
  assert out["setting"] == {"C": 4, "N": 1, "batch": 8, "image": [16, 16, 3],
                            "images_per_step": 16, "repeats": 3, "steps_per_25k_epoch": 3125}
  assert out["backend"] == jax.default_backend() and out["device_count"] == jax.device_count()
  steps = out["setting"]["steps_per_25k_epoch"]
  assert steps == math.ceil(25_000 / out["setting"]["batch"])
  r = out["results"]["darts_1st"]
  assert all(math.isfinite(r[k]) for k in ("step_ms", "step_ms_min", "images_per_s", "epoch_25k_s",
                                           "compile_s", "init_compile_s", "peak_mib")), r
  assert r["step_ms"] > 0 and r["images_per_s"] > 0 and r["compile_s"] > 0 and r["peak_mib"] > 0
  assert r["init_compile_s"] > 0 and isinstance(r["memory_source"], str)
  assert r["step_ms_min"] <= r["step_ms"]
  assert r["epoch_25k_s"] == pytest.approx(steps * r["step_ms"] / 1e3)
  assert r["images_per_s"] == pytest.approx(2 * out["setting"]["batch"] / (r["step_ms"] / 1e3))
  assert r["xla_buffers_mib"] is None or r["xla_buffers_mib"] > 0
  # cross-entropy over 10 classes after 5 steps from a random init: near ln 10, never 0 or huge
  assert 0.5 < r["train_loss"] < 2 * math.log(10), r["train_loss"]


@pytest.mark.extended  # CI's second step (README): compiles every case's step
def test_bench_cases_build_bad_case_and_no_json(tmp_path, monkeypatch):
  """Every case builds the optimizer it names; its step maps a search state to one of the same
  structure, shapes and dtypes with scalar float metrics; darts_2nd's alpha objective is the
  unrolled second-order one. Traced (``make_jaxpr``), nothing compiles: darts_2nd's step, the same
  bilevel step as darts_1st's around a longer objective, is not traced (8 s; it runs in
  test_oneshot.py)."""
  assert [c[0] for c in CASES] == ["darts_1st", "darts_2nd", "gdas", "drnas"]
  # the opt-in exact second order is timed against the reference's (finite-difference) step
  assert [c[0] for c in EXTRA_CASES] == ["darts_2nd_exact"]
  assert TORCH_CASE == {"darts_2nd_exact": "darts_2nd"}
  net = jnn.supernet_nb201(10, 4, 1, cell_bn=SEARCH_CELL_BN)  # the bench's quick network
  batch = (jnp.zeros((8, 16, 16, 3), jnp.float32), jnp.zeros((8,), jnp.int32))
  key = jax.random.key(0)
  objective_size = {}
  for label, name, kw in CASES + EXTRA_CASES:
    opt = oneshot_lib.make(name, net, epochs=1, steps_per_epoch=1, **kw)
    assert opt.name == name, (label, opt.name)
    state = jax.eval_shape(opt.init, key, batch)
    assert state.alphas["alpha"].shape == (6, 5) and state.best.shape == (6,)
    if label.startswith("darts"):
      objective_size[label] = len(str(jax.make_jaxpr(opt.objective)(key, state, state.alphas,
                                                                     batch, batch)))
    if label.startswith("darts_2nd"):
      continue
    new, metrics = jax.eval_shape(opt.step, key, state, batch, batch)
    assert jax.tree.structure(new) == jax.tree.structure(state), label
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state)):
      assert (a.shape, a.dtype) == (b.shape, b.dtype), label
    assert set(vars(metrics)) == {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy",
                                  "tau"}
    assert all(m.shape == () and m.dtype == jnp.float32 for m in jax.tree.leaves(metrics)), label
  # second order: the validation loss after a virtual weight step, differentiated through it (a
  # gradient of the training loss inside the objective), ~4x the first-order program
  assert objective_size["darts_2nd"] > 2 * objective_size["darts_1st"], objective_size
  with pytest.raises(ValueError, match="unknown supernet bench case 'darts_3rd'"):
    bench_supernet(None, quick=True, cases=["darts_3rd"])
  monkeypatch.chdir(tmp_path)
  out = bench_supernet(None, quick=True, cases=[])  # no case: nothing compiles, nothing written
  assert out["results"] == {} and list(tmp_path.iterdir()) == []
