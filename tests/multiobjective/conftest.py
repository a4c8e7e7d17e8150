"""A synthetic HW-NAS-Bench-360-shaped table (random values, no data files) for the
multi-objective tests."""

import numpy as np
import pytest

from jaxnas.benchmarks import benchmark, hw_nas_bench as hw


@pytest.fixture(scope="session")
def synthetic_hw():
  rng = np.random.default_rng(0)
  n = hw.NUM_ARCHS
  tables = {
      "accuracy": rng.uniform(10, 90, (12, n)).astype(np.float32),
      "lat_ms_median": rng.uniform(0.5, 20, (12, n)).astype(np.float32),
      "lat_ms_var": rng.uniform(0, 1e-3, (12, n)).astype(np.float32),
      "energy_mj": rng.uniform(1, 50, (12, n)).astype(np.float32),
  }
  tables["energy_mj"][9:] = np.nan  # the Pixel has no energy figures, as in the real CSV
  # accuracy and latency correlate, so the front is a real trade-off
  tables["lat_ms_median"] += tables["accuracy"] / 10
  return benchmark.from_arrays(hw.combination_arrays(tables, np.arange(n, dtype=np.int32)))
