"""Shared fixtures. Tests that need the real data in ../shared/data skip (with a message) only when
it is absent."""

from __future__ import annotations

import pytest

from jaxnas.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
  d = shared_data_dir()
  if not d.is_dir():
    pytest.skip(f"real benchmark data not found at {d} (set JAXNAS_SHARED_DATA)")
  return d
