"""Importing jaxnas, its registries and every config touches no JAX backend.

``jax.distributed.initialize`` must run before the first JAX computation, and ``python -m
jaxnas.run`` calls it only after loading the config (which may carry the coordinator settings).
A space that computed a table with ``jnp`` when its module was imported broke every multi-process
run (TNB macro counted its valid cells at import); this test catches the next one in seconds,
instead of through a two-process launch.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHILD = """
import glob
import jax._src.xla_bridge as xb
import jaxnas, jaxnas.spaces, jaxnas.benchmarks, jaxnas.nn, jaxnas.predictors, jaxnas.optimizers
import jaxnas.drivers.blackbox, jaxnas.drivers.oneshot, jaxnas.drivers.train
import jaxnas.drivers.zero_cost, jaxnas.run
from jaxnas import config
for c in sorted(glob.glob('configs/*.py')):
  config.load_config(c)
print('BACKENDS', sorted(xb._backends))
"""


def test_imports_and_configs_initialise_no_backend():
  p = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True,
                     timeout=300)
  assert p.returncode == 0, p.stderr[-2000:]
  assert "BACKENDS []" in p.stdout, p.stdout[-500:]
