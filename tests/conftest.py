"""Shared fixtures. Tests that need the real data in ../shared/data skip (with a message) only when
it is absent."""

from __future__ import annotations

import os

# Small host-side linear algebra (GP Cholesky, tree models) is much faster single-threaded on a
# 2-core machine shared with XLA's own threads (measured 400x400 Cholesky: ~100 ms -> ~2 ms).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # pylint: disable=wrong-import-position

from jaxnas.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
  d = shared_data_dir()
  if not d.is_dir():
    pytest.skip(f"real benchmark data not found at {d} (set JAXNAS_SHARED_DATA)")
  return d
