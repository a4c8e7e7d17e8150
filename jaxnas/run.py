"""Command line: ``python -m jaxnas.run --config configs/FILE.py[:arg] [--config.key=value ...]
[--workdir DIR]``.

Kept thin: it parses the config and calls the library driver that the notebooks use too. The
config's ``task`` field picks the driver (``blackbox`` by default).

Multi-process runs (``jax.distributed``): ``--config.distributed.coordinator_address=HOST:PORT
--config.distributed.num_processes=N --config.distributed.process_id=I`` (or
``--config.distributed.auto=True`` for JAX's Slurm / Open MPI / TPU auto-detection, or the
``JAXNAS_*`` variables that ``python -m jaxnas.launch`` sets); see :mod:`jaxnas.distributed`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import inspect
import pathlib
import sys

from jaxnas import config as config_lib
from jaxnas import distributed
from jaxnas.drivers import TASKS  # config.task -> (module, driver)


def _driver(task: str):
  if task not in TASKS:
    raise ValueError(f"unknown task {task!r} in config; valid: {', '.join(TASKS)}")
  mod, fn = TASKS[task]
  driver = getattr(importlib.import_module(mod), fn)
  if "quiet" not in inspect.signature(driver).parameters:
    return lambda cfg, wd, quiet=False: driver(cfg, wd)
  return driver


def _value(v: str):
  """A ``--config.distributed.*`` value: int or bool where it reads as one, else the string."""
  low = v.strip().lower()
  if low in ("true", "false"):
    return low == "true"
  try:
    return int(v)
  except ValueError:
    return v


def parse(argv):
  """Splits ``argv`` into (config spec, overrides, workdir); overrides keep their order."""
  p = argparse.ArgumentParser(prog="python -m jaxnas.run", description=__doc__.split("\n\n")[0])
  p.add_argument("--config", required=True, help="config file, optionally file.py:arg")
  p.add_argument("--workdir", default=None, help="output folder (default runs/<config>-<time>)")
  p.add_argument("--quiet", action="store_true", help="no progress output")
  known, rest = p.parse_known_args(argv)
  overrides = []
  for a in rest:
    if not a.startswith("--config.") or "=" not in a:
      p.error(f"unrecognised argument {a!r} (overrides look like --config.key=value)")
    k, v = a[len("--config."):].split("=", 1)
    overrides.append((k, v))
  return known, overrides


def main(argv=None) -> int:
  args, overrides = parse(sys.argv[1:] if argv is None else argv)
  try:
    cfg = config_lib.load_config(args.config)
    dist = {}  # --config.distributed.* need no key in the config file
    for k, v in overrides:
      if k.startswith("distributed.") and "distributed" not in cfg:
        dist[k.split(".", 1)[1]] = _value(v)
        continue
      config_lib.override(cfg, k, v)
    distributed.initialize({"distributed": dict(cfg.get("distributed", None) or {}, **dist)})
    driver = _driver(cfg.get("task", "blackbox"))
    workdir = args.workdir
    if workdir is None:
      stem = pathlib.Path(args.config.partition(":")[0]).stem
      workdir = pathlib.Path("runs") / f"{stem}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    driver(cfg, workdir, quiet=args.quiet)
  except (ValueError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
