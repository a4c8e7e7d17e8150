"""The black-box search driver (task ``"blackbox"``), shared by ``python -m jaxnas.run`` and the
notebooks.

``run_blackbox(config, workdir)`` validates a black-box search config, runs all seeds as one
compiled program (in chunks of seeds, each saved so an interrupted run resumes), and writes
``results.json``, NASLib's ``errors.json`` and ``trajectory.png``.

The search carries architectures (``loops.StepOutput.arch`` / ``best_arch``); every benchmark kind
(dense, partial, surrogate) is read through ``jaxnas.benchmarks.lookup(bench, space, arch)``. Per
seed, ``results.json`` has ``best_arch`` (the space's string form; ``null`` when the seed found no
result, e.g. only architectures absent from a partial table) and ``best_id`` (the enumeration id;
``-1`` when the space has no enumeration or the seed found no result). Saved chunks hold the
outputs flattened (``best_arch.ops``, ...); chunks saved before architectures were carried (ids
only) are read back through ``space.from_id``.
"""

from __future__ import annotations

import os
import pathlib
import time
import warnings

import jax
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import distributed, loops, objectives, optimizers, spaces
from jaxnas.config import to_dict
from jaxnas.drivers import io


def blackbox_config(optimizer: str, **hparams):
  """The default black-box search config (what ``configs/nb201_<optimizer>.py`` return)."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict()
  c.task = "blackbox"
  c.seed = 0  # base seed: seed i of the run uses a key folded from key(seed) and i
  c.num_seeds = 100  # independent searches, run as one compiled program
  c.num_queries = 150  # benchmark queries per search
  c.chunk_seeds = 0  # seeds per compiled chunk (0 = all at once); chunks are saved for resuming
  c.search_space = "nasbench201"
  c.dataset = "cifar10"  # cifar10 (= cifar10-valid), cifar100, ImageNet16-120
  c.metric = "val_accuracy"  # what the search maximises
  c.epoch = 0  # fidelity of the metric: 0 = final (200 epochs), 12 = NB201's 12-epoch table
  c.noisy = False  # False: mean over training seeds; True: one seed drawn per query
  c.time_budget = 0.0  # simulated training seconds (0 = none): the search stops when spent
  c.plot_x = "queries"  # x-axis of trajectory.png: queries or train_time (simulated seconds)
  # constraints on other metrics of the table, e.g. ("latency <= 0.0158",): feasibility first,
  # then the metric (jaxnas.objectives.constrain_benchmark), checked before compile
  c.constraints = ()
  c.benchmark = ml_collections.ConfigDict({"name": "nasbench201", "path": ""})  # "" = embedded
  # every hyperparameter of the optimizer is in the config, so --config.optimizer.X=... can set it
  # and a misspelt one is rejected with the list of valid keys; optimizer.naslib_valid is a
  # search-space option (NASLib's sampling filter), with which the driver makes the space
  all_hparams = dict(optimizers.hyperparameters(optimizer), **hparams)
  c.optimizer = ml_collections.ConfigDict(dict(name=optimizer, **all_hparams))
  return c


def generic_blackbox_config(optimizer: str = "re"):
  """The generic black-box config (``configs/blackbox.py``): any registered optimizer on any
  registered tabular space.

  ``optimizer`` holds ``name`` and every hyperparameter of every registered optimizer, each
  ``None``: ml_collections applies ``--config.optimizer.name=O`` after ``get_config``, so the
  hyperparameters cannot be filled for ``O`` here. :func:`resolve_optimizer` gives every ``None``
  the named optimizer's default (``fidelities``: the benchmark's declared ones) and refuses a set
  hyperparameter the named optimizer does not take. ``benchmark.name`` ``""`` is the search space's
  own benchmark.
  """
  import ml_collections  # pylint: disable=import-outside-toplevel

  optimizers.hyperparameters(optimizer)  # an unknown name fails here, naming the valid ones
  c = blackbox_config(optimizer)
  c.benchmark.name = ""  # "" = the benchmark of config.search_space
  keys = sorted({k for n in optimizers.OPTIMIZERS for k in optimizers.hyperparameters(n)})
  c.optimizer = ml_collections.ConfigDict(dict(name=optimizer, **{k: None for k in keys}))
  return c


_ONE_RUNG = {
    "bohb": "BOHB degenerates to TPE-guided full-budget search (BOHB with min_budget == max_budget)",
    "hb": "Hyperband degenerates to random search at full budget",
    "sh": "successive halving degenerates to random search at full budget",
}


def resolve_optimizer(config, bench=None, say=None) -> tuple[str, dict]:
  """The optimizer's name and its complete hyperparameters from ``config.optimizer``.

  A hyperparameter left ``None`` takes the named optimizer's default, except ``fidelities``,
  which comes from ``bench``'s declaration of the objective metric: its fidelities when it
  declares two or more (so a multi-fidelity search uses what the table has), else the one
  fidelity of the objective (``config.epoch``, or the table's final epoch; 0 where the table does
  not name it, as TransNAS-Bench-101's), so that a multi-fidelity optimizer runs with one rung:
  Hyperband's brackets collapse to full-budget evaluations and BOHB is its TPE model proposing
  every full-budget query. ``say`` (a ``str -> None``) then gets one line saying so. ``None``
  entries the named optimizer does not take are dropped (the generic config lists every
  optimizer's). The section also holds the search-space options (``naslib_valid``, see
  ``optimizers.SPACE_OPTIONS``), resolved the same way; :func:`blackbox_setup` makes the space
  with them.

  Raises:
    ValueError: an unknown optimizer, or a set hyperparameter it does not take (naming the valid
      ones), before anything is compiled.
  """
  opt_cfg = dict(to_dict(config.optimizer))
  name = opt_cfg.pop("name", None)
  defaults = optimizers.hyperparameters(name)  # an unknown name: a ValueError naming the valid
  bad = [k for k, v in opt_cfg.items() if k not in defaults and v is not None]
  if bad:
    raise ValueError(f"unknown hyperparameter {bad[0]!r} for optimizer {name!r}; valid: "
                     f"{', '.join(defaults) or '(none)'}")
  hp = {}
  for k, default in defaults.items():
    v = opt_cfg.get(k)
    if v is None and k == "fidelities" and bench is not None:
      metric = config.get("metric", "val_accuracy")
      declared = bench.metric(metric).fidelities
      if len(declared) >= 2:
        v = tuple(declared)
      else:
        objective = loops.Objective(dataset=config.dataset, metric=metric,
                                    epoch=config.get("epoch", 0) or None)
        target = loops.target_epoch(bench, objective)
        v = (target,)
        if say is not None:
          what = f"epoch {target}" if target else "the final epoch"
          say(f"{name}: benchmark {bench.name} has {metric!r} at one fidelity ({what}), so "
              f"Hyperband's brackets collapse to full-budget evaluations: "
              f"{_ONE_RUNG.get(name, 'every query at full budget')}")
    if v is None:
      v = default
    elif isinstance(default, tuple):
      v = tuple(v)
    hp[k] = v
  return name, hp


def _resolved(config, name: str, hparams: dict, bench_name: str):
  """A copy of ``config`` whose optimizer section is the named optimizer's complete
  hyperparameters and whose ``benchmark.name`` is the one loaded: what ``results.json``,
  ``errors.json`` and the chunk hash record (identical to the input for the full presets)."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict(to_dict(config))
  c.optimizer = ml_collections.ConfigDict(dict(name=name, **hparams))
  c.benchmark.name = bench_name
  return c


PLOT_X = ("queries", "train_time")


_say = distributed.say  # io.say, with the process id in a multi-process run


def blackbox_setup(config, resolved: bool = False, quiet: bool = True, bench=None):
  """Validates a black-box config on the host; returns (space, bench, optimizer, objective), and
  with ``resolved=True`` also the config as run (:func:`resolve_optimizer`'s hyperparameters,
  the benchmark's name). The space is made with the options in the optimizer section
  (``optimizer.naslib_valid``). ``quiet=False`` prints :func:`resolve_optimizer`'s notes.

  Every bad name (space, dataset, metric, optimizer, hyperparameter, fidelity) raises a one-line
  ValueError naming it and the valid values, and a missing or corrupt table file raises an error
  naming the file and its build command, before anything is compiled. ``bench``: a benchmark of
  any kind (dense, partial, surrogate) to search instead of loading ``config.benchmark``.
  """
  space = spaces.get_space(config.search_space)  # an unknown space fails first
  if bench is None:
    bench_name = config.benchmark.get("name") or config.search_space
    bench = bm.load(bench_name, config.benchmark.get("path") or None)
  else:
    bench_name = bench.name
  loops.check_space(bench, space)
  name, hparams = resolve_optimizer(config, bench, say=lambda msg: _say(msg, quiet))
  space_options, factory_hparams = optimizers.split_space_options(hparams)
  # the table's per-dataset space options (NB-Graph's proteins: only its five ops, so the search
  # never spends a query on an absent entry), as the suite makes them
  per_dataset = bm.BENCHMARKS.get(bench_name, {}).get("space_options", {}).get(config.dataset, {})
  space = spaces.get_space(config.search_space, **{**per_dataset, **space_options})
  optimizer = optimizers.make(name, space, **factory_hparams)
  epoch = config.get("epoch", 0) or None
  objective = loops.Objective(dataset=config.dataset, metric=config.get("metric", "val_accuracy"),
                              epoch=epoch, noisy=bool(config.get("noisy", False)))
  loops.check_objective(bench, optimizer, objective)
  if len(optimizer.fidelities) == 1 and optimizer.fidelities[0] != loops.target_epoch(bench,
                                                                                     objective):
    raise ValueError(f"optimizer {name!r} has one fidelity, epoch {optimizer.fidelities[0]}, but "
                     f"the objective is at epoch {loops.target_epoch(bench, objective)}; one "
                     "fidelity must be the objective's")
  constraints = objectives.parse_constraints(config.get("constraints"))
  if constraints:  # feasibility first: a pure transform of the objective's table
    objectives.make_objective(bench, objective.metric, constraints, dataset=objective.dataset)
    bench = objectives.constrain_benchmark(bench, objective.metric, constraints)
  loops.check_time_budget(bench, config.get("time_budget", 0.0))
  if config.get("plot_x", "queries") not in PLOT_X:
    raise ValueError(f"unknown plot_x {config.plot_x!r}; valid: {', '.join(PLOT_X)}")
  for k in ("num_seeds", "num_queries"):
    if int(config[k]) < 1:
      raise ValueError(f"{k} must be >= 1, got {config[k]}")
  if resolved:
    return space, bench, optimizer, objective, _resolved(config, name, hparams, bench_name)
  return space, bench, optimizer, objective


def _config_hash(config) -> str:
  # budget keys at their defaults do not change results: keep hashes of older configs valid
  # ``distributed`` (where a config has it) says where a run executes, not what it computes:
  # chunks saved by a run on two processes are resumed by one on one process
  drop = ("chunk_seeds", "plot_x", "distributed") + (() if config.get("time_budget") else
                                                     ("time_budget",))
  drop += () if config.get("constraints") else ("constraints",)
  return io.config_hash(config, drop=drop)


def run_blackbox(config, workdir=None, quiet: bool = False, bench=None) -> dict:
  """Runs a black-box search experiment; returns the ``results.json`` dict.

  Args:
    config: a ConfigDict like ``configs/nb201_re.py`` or ``configs/blackbox.py`` (hyperparameters
      left ``None`` take the named optimizer's defaults, see :func:`resolve_optimizer`).
    workdir: where to write results (None: write nothing). Chunks of seeds are saved under
      ``workdir/chunks`` as they finish; rerunning the same config resumes from them, on any
      number of processes and devices. In a multi-process run (:mod:`jaxnas.distributed`) the
      seeds of a chunk are sharded over every device of every process, every process gets the
      gathered outputs and returns the same dict, and only process 0 writes.
    quiet: no progress output.
    bench: a benchmark object of any kind to search instead of loading ``config.benchmark`` (a
      surrogate, a partial table made in memory); its name is recorded as ``benchmark.name``.
  """
  space, bench, optimizer, objective, config = blackbox_setup(config, resolved=True, quiet=quiet,
                                                              bench=bench)
  num_seeds, num_queries = int(config.num_seeds), int(config.num_queries)
  chunk = int(config.get("chunk_seeds", 0) or num_seeds)
  chunk = max(1, min(chunk, num_seeds))
  wd = pathlib.Path(workdir) if workdir else None
  writer = distributed.is_writer()
  multi = distributed.process_count() > 1
  chunk_dir = None
  if wd:
    chunk_dir = wd / "chunks" / _config_hash(config)
    if writer:
      chunk_dir.mkdir(parents=True, exist_ok=True)
  _say(f"{optimizer.name} on {space.name}/{objective.dataset}: {num_seeds} seeds x "
       f"{num_queries} queries, {objective.metric}"
       + (f" @ epoch {objective.epoch}" if objective.epoch else "")
       + (", noisy" if objective.noisy else ""), quiet)

  keys_all = np.asarray(
      jax.random.key_data(loops.seed_keys(int(config.seed), num_seeds)))
  time_budget = loops.check_time_budget(bench, config.get("time_budget", 0.0))
  fn = loops.compiled_search(optimizer, space, objective, num_queries, time_budget)
  compiled, compile_s, run_s = None, 0.0, 0.0
  parts = []
  starts = list(range(0, num_seeds, chunk))
  paths = [chunk_dir / f"seeds_{s:06d}_{chunk}.npz" if chunk_dir else None for s in starts]
  # which chunks are done, as process 0 sees them (every process must run the same chunks)
  done = distributed.agree(np.array([bool(p and p.is_file()) for p in paths]))
  # several processes: a chunk's seeds are padded to a multiple of all devices (independent
  # searches: the padding changes no seed's result)
  width = distributed.padded_size(chunk) if multi else chunk
  it = io.progress(list(zip(starts, paths, done)), "seed chunks", "chunk",
                   quiet or len(starts) == 1 or not writer, leave=True)
  for s, path, is_done in it:
    if is_done:
      if not path.is_file():  # process 0 has it, this process does not see it
        raise FileNotFoundError(distributed.unshared_message(path))
      with np.load(path) as z:
        parts.append({k: z[k] for k in z.files})
      continue
    kd = keys_all[s:s + chunk]
    n = kd.shape[0]
    if n < width:  # pad the last chunk so the compiled shape is reused
      kd = np.concatenate([kd, np.repeat(kd[-1:], width - n, 0)])
    keys = loops._shard_keys(jax.random.wrap_key_data(kd))
    if compiled is None:
      t0 = time.perf_counter()
      compiled = fn.lower(keys, bench).compile()
      compile_s = time.perf_counter() - t0
      _say(f"compiled in {compile_s:.2f} s", quiet)
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, bench))
    run_s += time.perf_counter() - t0
    if multi:  # the global outputs, gathered to every process
      out = distributed.gather(out)
    part = {k: v[:n] for k, v in flat_outputs(out).items()}
    if path and writer:
      tmp = path.with_suffix(".tmp.npz")
      np.savez(tmp, **part)
      os.replace(tmp, path)
    parts.append(part)
  outs = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
  results = _results(config, space, bench, optimizer, objective, outs, compile_s, run_s)
  _say(f"ran in {run_s:.3f} s ({run_s / num_seeds * 1e6:.1f} us per seed-run); mean best "
       f"{objective.metric} {results['summary']['mean_best_val_accuracy']:.3f} "
       f"+- {results['summary']['stderr_best_val_accuracy']:.3f}"
       + ("" if results["summary"]["mean_best_test_accuracy"] is None else
          f", test {results['summary']['mean_best_test_accuracy']:.3f}"), quiet)
  absent = [sd["num_absent"] for sd in results["seeds"] if "num_absent" in sd]
  if sum(absent):
    total = results["summary"]["mean_queries"] * len(absent)
    warnings.warn(f"{sum(absent)} of {total:.0f} queries ({sum(absent) / max(total, 1):.1%}) asked "
                  f"for architectures absent from partial table {bench.name}: no result (NaN, "
                  "never best); per seed: num_absent in results.json"
                  + ("; none was present: was the table built with another version of the "
                     "space's fingerprint? rebuild it" if sum(absent) >= total else ""),
                  stacklevel=2)
  summ, seeds_n = results["summary"], len(results["seeds"])
  if summ.get("best_test_accuracy_seeds", seeds_n) < seeds_n:
    warnings.warn(f"{seeds_n - summ['best_test_accuracy_seeds']} of {seeds_n} seeds' best cells "
                  f"have no test_accuracy at epoch {summ['test_accuracy_epoch']} in {bench.name} "
                  "(best_test_accuracy null; mean_best_test_accuracy over the other seeds"
                  + ("; mean_best_test_accuracy_at_search_epoch is at the search's budget"
                     if "mean_best_test_accuracy_at_search_epoch" in summ else "") + ")",
                  stacklevel=2)
  if wd and writer:
    write_blackbox_outputs(wd, config, results, outs, bench, objective, space)
    _say(f"wrote {wd / 'results.json'}, errors.json, trajectory.png", quiet)
  distributed.sync("blackbox outputs written")  # no process exits before process 0 has written
  return results


def flat_outputs(out) -> dict[str, np.ndarray]:
  """A :class:`~jaxnas.loops.StepOutput` as ``{name: array}``: plain fields by name, architecture
  leaves as ``"<field><path>"`` (``arch.ops``, ``best_arch.ops``), e.g. for ``np.savez``."""
  flat = {}
  for k, v in out.__dict__.items():
    for path, leaf in jax.tree_util.tree_flatten_with_path(v)[0]:
      flat[k + jax.tree_util.keystr(path)] = np.asarray(leaf)
  return flat


def archs_from_outputs(space, outs: dict, field: str = "best_arch"):
  """The architecture pytree ``field`` (``arch`` or ``best_arch``) from :func:`flat_outputs`'
  dict; from its ids through ``space.from_id`` for chunks saved with ids only."""
  one = jax.eval_shape(lambda k: space.sample(k), jax.random.key(0))
  paths, treedef = jax.tree_util.tree_flatten_with_path(one)
  names = [field + jax.tree_util.keystr(p) for p, _ in paths]
  if all(n in outs for n in names):
    return jax.tree_util.tree_unflatten(treedef, [outs[n] for n in names])
  ids = outs[{"best_arch": "best_id", "arch": "arch_id"}[field]]
  return jax.tree.map(np.asarray, space.from_id(ids))


def _take(archs, i):
  return jax.tree.map(lambda x: x[i], archs)


def absent_counts(space, bench, outs: dict):
  """``int[seeds]``: queries (counted ones) whose architecture a partial table does not have
  (no result: NaN, never best); None for a dense table or a surrogate, which answer for every
  architecture."""
  if getattr(bench, "kind", "table") == "surrogate" or not getattr(bench, "partial", False):
    return None
  fitness = np.asarray(outs["fitness"], float)  # [seeds, steps, num_ask]
  counted = outs["counted"] if "counted" in outs else np.ones(fitness.shape[:2], bool)
  # an absent architecture has NaN fitness: only those queries need the (compiled) row search
  maybe = ~np.isfinite(fitness) & np.asarray(counted, bool)[..., None]
  absent = np.zeros(fitness.shape[0], np.int64)
  if maybe.any():
    idx = np.nonzero(maybe)
    archs = jax.tree.map(lambda x: np.asarray(x)[idx], archs_from_outputs(space, outs, "arch"))
    present = np.asarray(jax.jit(lambda b, a: bm.contains(b, space, a))(bench, archs))
    np.add.at(absent, idx[0], ~present)
  return absent


def _results(config, space, bench, optimizer, objective, outs, compile_s, run_s) -> dict:
  best_archs = _take(archs_from_outputs(space, outs), (slice(None), -1))  # Arch[seeds]
  best_ids = outs["best_id"][:, -1]
  best_val = outs["best_fitness"][:, -1].astype(float)
  found = np.isfinite(best_val)  # False: no result yet (e.g. only absent architectures)
  num_ask = outs["arch_id"].shape[-1]
  counted = outs["counted"] if "counted" in outs else np.ones(outs["best_fitness"].shape, bool)
  has_test = bench.has("test_accuracy")
  best_test = (np.where(found, np.asarray(bm.lookup(bench, space, best_archs, "test_accuracy",
                                                    objective.dataset), float), np.nan)
               if has_test else None)
  # Test accuracy is read at the table's final (largest) budget, named in the summary; a table
  # may lack it for some cells (EC-NAS's 5-vertex cells have only 4-epoch runs, so a search at
  # epoch 4 can find a best without a 108-epoch test accuracy): that seed's value is null and the
  # mean is over the seeds that have one (counted), never NaN. Searching at a lower budget the
  # table has test accuracy at, the test accuracy at the search's budget is reported too.
  test_epoch = bench.final_epoch("test_accuracy") if has_test else None
  has_test_value = None if best_test is None else np.isfinite(best_test)
  at_obj = (objective.epoch and has_test and objective.epoch != test_epoch
            and bench.has("test_accuracy", objective.epoch))
  test_at_obj = (np.where(found, np.asarray(bm.lookup(bench, space, best_archs, "test_accuracy",
                                                      objective.dataset, epoch=objective.epoch),
                                            float), np.nan) if at_obj else None)
  absent = absent_counts(space, bench, outs)
  seeds = []
  for i in range(best_val.shape[0]):
    seeds.append({
        "seed": i,
        "best_arch": space.to_string(_take(best_archs, i)) if found[i] else None,
        "best_id": int(best_ids[i]) if found[i] else loops.NO_ID,
        "best_val_accuracy": float(best_val[i]),
        "best_test_accuracy": (None if best_test is None or not has_test_value[i]
                               else float(best_test[i])),
        "trajectory": [float(v) for v in outs["best_fitness"][i]],
        "train_time": [float(v) for v in np.cumsum(outs["train_time"][i])],
        "queries": [int(v) for v in np.cumsum(counted[i]) * num_ask],
    })
    if absent is not None:  # partial table: queried architectures it does not have
      seeds[-1]["num_absent"] = int(absent[i])
    if test_at_obj is not None:
      seeds[-1]["best_test_accuracy_at_search_epoch"] = (
          float(test_at_obj[i]) if np.isfinite(test_at_obj[i]) else None)
  n = len(best_val)
  test_summary = {}
  if best_test is not None:
    have = best_test[has_test_value]
    test_summary = {
        "test_accuracy_epoch": test_epoch,
        "best_test_accuracy_seeds": int(has_test_value.sum()),
        "mean_best_test_accuracy": float(have.mean()) if have.size else None,
        "stderr_best_test_accuracy": (float(have.std(ddof=1) / np.sqrt(have.size))
                                      if have.size > 1 else None),
    }
    if test_at_obj is not None:
      ok = np.isfinite(test_at_obj)
      test_summary["mean_best_test_accuracy_at_search_epoch"] = (
          float(test_at_obj[ok].mean()) if ok.any() else None)
  extra = _constraint_results(config, space, bench, objective, best_archs, found, seeds)
  return {
      "search_space": space.name,
      "dataset": objective.dataset,
      "optimizer": optimizer.name,
      "optimizer_config": to_dict(config.optimizer),
      "objective": objective._asdict(),
      "num_seeds": int(config.num_seeds),
      "num_queries": int(config.num_queries),
      "time_budget": float(config.get("time_budget", 0.0)),
      "base_seed": int(config.seed),
      "seeds": seeds,
      "summary": {
          "mean_best_val_accuracy": float(best_val.mean()),
          "stderr_best_val_accuracy": float(best_val.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
          "mean_best_test_accuracy": None,
          "stderr_best_test_accuracy": None,
          **test_summary,
          "mean_queries": float(counted.sum(-1).mean() * num_ask),
          "mean_train_time": float(outs["train_time"].sum(-1).mean()),
          **({} if absent is None else {"mean_absent_queries": float(absent.mean())}),
      },
      "wall_seconds": float(run_s),
      "compile_seconds": float(compile_s),
      **extra,
  }


def _constraint_results(config, space, bench, objective, best_archs, found, seeds) -> dict:
  """With ``constraints``: per seed ``feasible`` and ``best_constraint_values``, and a
  ``constraints`` section (the constraints, the fraction of seeds ending feasible, the table's
  best feasible value of the metric, its id and the fraction of the table that is feasible);
  ``{}`` without constraints (results of unconstrained runs unchanged)."""
  cons = objectives.parse_constraints(config.get("constraints"))
  if not cons:
    return {}
  ds = objective.dataset
  vals = {c.metric: np.where(found, np.asarray(bm.lookup(bench, space, best_archs, c.metric, ds),
                                               float), np.nan) for c in cons}
  ok = np.asarray(objectives.feasible(vals, cons), bool) & found
  for i, sd in enumerate(seeds):
    sd["feasible"] = bool(ok[i])
    sd["best_constraint_values"] = {m: float(v[i]) for m, v in vals.items()}
  section = {"constraints": [str(c) for c in cons],
             "feasible_seeds": float(ok.mean())}
  if getattr(bench, "kind", "table") == "table":
    value, row, frac = objectives.best_feasible(bench, objective.metric, cons, ds)
    section.update(table_feasible_fraction=frac, table_best_feasible_value=value,
                   table_best_feasible_id=row)
    if bench.has("test_accuracy") and row >= 0:
      t = np.asarray(bench.tables["test_accuracy"][bench.dataset_index(ds)], float)
      section["table_best_feasible_test_accuracy"] = float(
          np.nanmean(t[row]) if t.ndim == 2 else t[row])
  return {"constraints": section}


def write_blackbox_outputs(wd: pathlib.Path, config, results: dict, outs, bench, objective,
                           space=None) -> None:
  """``results.json``, NASLib's ``errors.json`` (first seed) and ``trajectory.png``."""
  wd.mkdir(parents=True, exist_ok=True)
  io.write_json(wd / "results.json", results)
  # NASLib's lightweight errors.json: [config, {metric lists per search step, for the best arch}]
  space = space if space is not None else spaces.get_space(results["search_space"])
  archs = _take(archs_from_outputs(space, outs), 0)  # Arch[steps]: seed 0's best so far
  ids = outs["best_id"][0]
  found = np.isfinite(np.asarray(outs["best_fitness"][0], float))
  ds = objective.dataset
  q = lambda m: [float(v) if f else None for v, f in zip(  # noqa: E731
      np.asarray(bm.lookup(bench, space, archs, m, ds)), found)]
  errors = {
      "valid_acc": [float(v) for v in outs["best_fitness"][0]],
      "test_acc": q("test_accuracy") if bench.has("test_accuracy") else [None] * len(ids),
      "train_time": q("train_time") if bench.has("train_time") else [None] * len(ids),
      "params": q("params") if bench.has("params") else [None] * len(ids),
      "runtime": [results["wall_seconds"] / len(ids) / results["num_seeds"]] * len(ids),
      "arch": [results["seeds"][0]["best_arch"] if j == len(ids) - 1 else None
               for j in range(len(ids))],
  }
  io.write_json(wd / "errors.json", [to_dict(config), errors])
  ylabel = f"best {objective.metric} ({ds})"
  if config.get("plot_x", "queries") == "train_time":
    plot_trajectories(wd / "trajectory.png", {results["optimizer"]: outs["best_fitness"]},
                      ylabel=ylabel, x=np.cumsum(outs["train_time"], -1),
                      xlabel="simulated training time (s)")
  else:
    plot_trajectories(wd / "trajectory.png", {results["optimizer"]: outs["best_fitness"]},
                      ylabel=ylabel)


_write_json = io.write_json  # the name older callers import


def on_time_grid(best, cum_time, grid):
  """Best-so-far ``f32[seeds, steps]`` as a step function of cumulative simulated time
  ``f32[seeds, steps]``, sampled at ``grid`` (``f32[G]``): ``[seeds, G]``, NaN before a seed's
  first query ends."""
  best = np.asarray(best, float)
  cum_time = np.asarray(cum_time, float)
  out = np.full((best.shape[0], len(grid)), np.nan)
  for s in range(best.shape[0]):
    j = np.searchsorted(cum_time[s], grid, side="right") - 1
    ok = j >= 0
    out[s, ok] = best[s, j[ok]]
  return out


def plot_trajectories(path, curves: dict, ylabel: str = "best so far", x=None, xlabel="queries"):
  """Mean and standard error band of best-so-far curves (``{label: f32[seeds, steps]}``).

  ``x``: None (steps 1..T), ``f32[T]`` shared, ``f32[seeds, T]`` per seed (e.g. cumulative
  simulated training time: the curves are then resampled on a common grid), or a dict of either
  per label.
  """
  fig, ax = io.figure(figsize=(6, 4))
  bottom = np.inf
  for label, c in curves.items():
    c = np.asarray(c, float)
    xl = x.get(label) if isinstance(x, dict) else x
    xs = np.arange(1, c.shape[1] + 1) if xl is None else np.asarray(xl, float)
    if xs.ndim == 2:  # per-seed x (time): resample onto a shared grid
      grid = np.linspace(0.0, np.nanmax(xs), 200)[1:]
      c = on_time_grid(c, xs, grid)
      xs = grid
    c = np.where(np.isfinite(c), c, np.nan)
    with warnings.catch_warnings():  # all-NaN columns (before any result) are expected
      warnings.simplefilter("ignore", RuntimeWarning)
      m = np.nanmean(c, 0)
      se = np.nanstd(c, 0) / np.sqrt(np.maximum(np.sum(np.isfinite(c), 0), 1))
    ax.plot(xs, m, label=f"{label} ({c.shape[0]} seeds)")
    ax.fill_between(xs, m - se, m + se, alpha=0.25)
    mid = m[min(len(m) - 1, len(m) // 10):]
    if np.isfinite(mid).any():
      bottom = min(bottom, np.nanmin(mid))  # hide the uninformative first steps
  if np.isfinite(bottom):
    ax.set_ylim(bottom=bottom)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3)
  ax.legend()
  io.save_figure(fig, path, dpi=120)
