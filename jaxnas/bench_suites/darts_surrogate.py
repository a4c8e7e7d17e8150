"""``python -m jaxnas.bench darts-surrogate``: jaxnas's own DARTS surrogate, measured.

1. **Predictors on the 725** (``nb301/naslib_labeled_725.json``, CIFAR-10 validation accuracy as
   NAS-Bench-301 trained them): 5-fold Kendall tau (one seeded shuffle, the same folds for every
   predictor) of GP, GCN ensemble, XGBoost and LightGBM beside a random-forest baseline, each on
   its default encoding (``graph`` for the GCN, ``adjacency_one_hot`` otherwise), with fit time.
2. **The surrogate file** built through the CLI (``python -m jaxnas.benchmarks build darts
   --labels ... --predictor P``), P the jittable predictor (default GP).
3. **Searches on it through the CLI**: RE, BANANAS and RS, ``num_seeds`` x ``num_queries``
   (default 100 x 150), ``python -m jaxnas.run --config configs/blackbox.py:OPT
   --config.search_space=darts --config.benchmark.path=FILE``; mean and std of the best
   surrogate accuracy found, beside the surrogate's value of the best labelled architecture and
   its mean over 10,000 random architectures.

Everything is predicted by a model fitted on 725 points: the search figures compare optimizers on
that model, not on NAS-Bench-301.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas.benchmarks import darts_surrogate as ds
from jaxnas.spaces import darts

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREDICTORS = ("gp", "gcn_ensemble", "xgboost", "lightgbm", "random_forest")
OPTIMIZERS = ("re", "bananas", "rs")


def labels_path() -> pathlib.Path:
  root = os.environ.get("JAXNAS_SHARED_DATA") or (ROOT.parent / "shared" / "data")
  return pathlib.Path(root) / "nb301" / "naslib_labeled_725.json"


def _cli(args, log) -> tuple[str, float]:
  t = time.perf_counter()
  env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  r = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                     check=False)
  dt = time.perf_counter() - t
  if r.returncode != 0:
    raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-400:]}")
  log(f"  ({dt:.0f} s) python {' '.join(args)}")
  return r.stdout, dt


def run(json_out=None, quick: bool = False, num_seeds: int | None = None,
        num_queries: int | None = None, predictors=PREDICTORS, surrogate: str = ds.DEFAULT_PREDICTOR,
        optimizers=OPTIMIZERS, workdir=None, log=print) -> dict:
  """Runs the suite; returns (and writes to ``json_out``) the figures. ``quick``: 3 predictors'
  folds as usual but 4 seeds x 20 queries (a smoke run, not a measurement)."""
  labels = labels_path()
  if not labels.is_file():
    raise FileNotFoundError(f"{labels} not found (set JAXNAS_SHARED_DATA)")
  num_seeds = num_seeds or (4 if quick else 100)
  num_queries = num_queries or (20 if quick else 150)
  archs, y, _ = ds.read_labels(labels)
  report = {"labels": str(labels.name), "num_points": int(len(y)), "load_average":
            open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
            "cpu_count": os.cpu_count(), "predictors": {}, "searches": {}}
  log(f"darts-surrogate: {len(y)} labelled architectures, best {y.max():.3f} %, "
      f"load {report['load_average']}")
  for name in predictors:
    t = time.perf_counter()
    try:
      r = ds.cross_validate(archs, y, name)
    except ImportError as e:
      log(f"  {name}: skipped ({e})")
      continue
    r["seconds"] = time.perf_counter() - t
    report["predictors"][name] = r
    log(f"  {name:14s} on {r['encoding']:17s} 5-fold tau {r['kendall_tau']:.3f} "
        f"(folds {', '.join(f'{v:.3f}' for v in r['folds'])}; pooled {r['pooled']:.3f}) "
        f"{r['seconds']:.0f} s")
  tmp = pathlib.Path(workdir or tempfile.mkdtemp(prefix="darts_surrogate_"))
  path = tmp / f"darts_{surrogate}.npz"
  out, dt = _cli(["-m", "jaxnas.benchmarks", "build", "darts", "--labels", str(labels),
                  "--predictor", surrogate, "--out", str(path)], log)
  report["surrogate"] = {"predictor": surrogate, "build_seconds": dt, "build_output": out.strip(),
                         "file_mb": path.stat().st_size / 1e6}
  sur = bm.load("darts", path)
  pred = np.asarray(jax.jit(lambda b, a: bm.lookup(b, darts.SPACE, a, "val_accuracy", "cifar10"))(
      sur, archs))
  rand = darts.SPACE.sample(jax.random.key(123), (10_000,))
  pred_rand = np.asarray(jax.jit(lambda b, a: bm.lookup(b, darts.SPACE, a, "val_accuracy",
                                                       "cifar10"))(sur, rand))
  report["surrogate"].update(
      cv_tau=float(sur.source.split("Kendall tau ")[1].split(";")[0]),
      best_labelled_true=float(y.max()), best_labelled_predicted=float(pred[np.argmax(y)]),
      max_predicted_on_labelled=float(pred.max()), mean_predicted_random=float(pred_rand.mean()),
      max_predicted_random=float(pred_rand.max()))
  log(f"  surrogate {surrogate}: {report['surrogate']['build_output']}")
  log(f"  on it: best labelled arch {pred[np.argmax(y)]:.3f} (true {y.max():.3f}), max over the 725 "
      f"{pred.max():.3f}, 10,000 random: mean {pred_rand.mean():.3f}, max {pred_rand.max():.3f}")
  for opt in optimizers:
    wd = tmp / f"run_{opt}"
    _, dt = _cli(["-m", "jaxnas.run", "--config", f"configs/blackbox.py:{opt}",
                  "--config.search_space=darts", f"--config.benchmark.path={path}",
                  f"--config.num_seeds={num_seeds}", f"--config.num_queries={num_queries}",
                  "--workdir", str(wd)], log)
    res = json.loads((wd / "results.json").read_text())
    best = np.array([s["best_val_accuracy"] for s in res["seeds"]], np.float64)
    report["searches"][opt] = {
        "seeds": int(len(best)), "queries": num_queries, "mean_best": float(best.mean()),
        "std_best": float(best.std()), "max_best": float(best.max()), "wall_seconds": dt,
        "compile_seconds": res.get("timing", {}).get("compile_seconds"),
        "run_seconds": res.get("timing", {}).get("run_seconds")}
    log(f"  {opt:8s} {len(best)} seeds x {num_queries} queries: best {best.mean():.3f} "
        f"+- {best.std():.3f} (max {best.max():.3f}), {dt:.0f} s wall")
  if json_out:
    from jaxnas.drivers.io import write_json  # pylint: disable=import-outside-toplevel
    write_json(pathlib.Path(json_out), report)
  return report


__all__ = ["OPTIMIZERS", "PREDICTORS", "labels_path", "run"]
