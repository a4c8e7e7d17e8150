"""Shared fixtures. Tests that need the real data in ../shared/data skip (with a message) only when
it is absent."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Small host-side linear algebra (GP Cholesky, tree models) is much faster single-threaded on a
# 2-core machine shared with XLA's own threads (measured 400x400 Cholesky: ~100 ms -> ~2 ms).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# One XLA compilation cache for the whole test session (a fresh temporary directory, removed at
# exit; inherited by the notebook kernels and CLI subprocesses through the environment). Many tests
# compile the same programs again -- a resumed run, the same optimizer in a loop test and a
# notebook -- and JAX keys its persistent cache on the compiled module, not on the Python closure:
# measured 17.8 s -> 0.9 s for a recompiled toy program on this CPU.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _CACHE_DIR = tempfile.mkdtemp(prefix="jaxnas-test-xla-cache-")
  atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE_DIR
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")

# The suite is bound by XLA:CPU compiles of small programs that then run for milliseconds. LLVM at
# optimisation level 0 compiles them faster (a BANANAS search: 6.4 s -> 4.5 s, its run 0.14 s ->
# 0.25 s); XLA's own HLO passes are unchanged and, without fast-math, LLVM's level does not change
# floating-point results. Inherited by the xdist workers, the notebook kernels and CLI subprocesses.
# Speed figures come from `python -m jaxnas.bench`, never from tests, so they are not affected.
_OPT_FLAG = "--xla_backend_optimization_level="
if _OPT_FLAG not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" {_OPT_FLAG}0").strip()
# XLA:CPU's legacy elemental emitters instead of its fusion emitters: code generation only, and
# about 30% fewer compile CPU-seconds (test_model_based + test_nn_cell: 20.4 -> 14.2 CPU-s at load
# 14; `bench device --quick` uses the same two flags: 118 -> 90 CPU-s).
_EMIT_FLAG = "--xla_cpu_use_fusion_emitters="
if _EMIT_FLAG not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" {_EMIT_FLAG}false").strip()

import jax  # pylint: disable=wrong-import-position
import pytest  # pylint: disable=wrong-import-position

# in case a plugin imported jax before the environment was set
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))

from jaxnas.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
  d = shared_data_dir()
  if not d.is_dir():
    pytest.skip(f"real benchmark data not found at {d} (set JAXNAS_SHARED_DATA)")
  return d


@pytest.fixture(scope="session")
def tnb_micro_table(shared_data, tmp_path_factory):
  """A TransNAS-Bench-101 micro table (``.npz``) built once per session from NASLib's zip with
  ``python -m jaxnas.benchmarks build`` (~5 s); skips when the zip is absent."""
  zip_path = shared_data / "transnas101" / "tnb101_micro_zen.zip"
  if not zip_path.is_file():
    pytest.skip(f"{zip_path} not found")
  out = tmp_path_factory.mktemp("tnb_session") / "tnb_micro.npz"
  from jaxnas.benchmarks.__main__ import main  # pylint: disable=import-outside-toplevel
  assert main(["build", "transnas101_micro", "--zip", str(zip_path), "--out", str(out)]) == 0
  return out
