"""The zero-cost driver (task ``"zero_cost"``): scores proxies on a set of cells of any search
space that has a network registered (``jaxnas.nn.NETWORKS``), with ONE compiled op-choice network
per proxy (the space's supernet with ``mode="select"``: the op choice is an input, weights are
shared and initialised exactly as each discrete network would be), then writes ``zc_scores.csv``
(``index, arch, params, flops, <proxies>...[, val_accuracy[, test_accuracy]]``; ``arch`` is the
space's string form), ``zc_correlations.json`` and one scatter plot per proxy when the benchmark
table is at hand. ``params``/``flops`` are counted exactly from the discrete networks (a whole-space
analytic count where the space registers one), and ``synflow`` runs through
``jaxnas.evaluate.zero_cost.synflow_many``.

The cells are ``archs_file`` (a JSON list, or a one-column CSV, of architectures in any of the
space's text forms, NASLib's op-index tuple included: :func:`jaxnas.spaces.arch_from_string`), else
``num_archs`` sampled ones, else (``num_archs`` 0 or at least the space's size) all of them.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import spaces
from jaxnas import nn as jnn
from jaxnas.drivers import io
from jaxnas.evaluate import zero_cost as zce
from jaxnas.predictors import zero_cost as zc

# proxies that never look at the data (synflow uses an all-ones input by definition)
DATA_FREE = ("flops", "params", "synflow", "l2_norm", "zen")
# architecture statistics every zc_scores.csv carries, whatever proxies are asked for
STATS = ("params", "flops")
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
IMAGE_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}


# registered space -> (params, flops) counters of many cells at once (the registry's, see
# ``jaxnas.nn.FAST_COUNTS``); other spaces count each discrete network (exact, slower)
FAST_COUNTS = jnn.FAST_COUNTS


def zero_cost_config(arg=None):
  """The default zero-cost config (``configs/zero_cost.py``; ``configs/nb201_zc.py`` changes three
  keys). ``arg == "smoke"`` shrinks the network and the sample for a quick check."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict()
  c.task = "zero_cost"
  c.search_space = "nasbench201"  # a space with a network in jaxnas.nn.NETWORKS
  c.archs_file = ""  # JSON list or one-column CSV of architectures; "" = sample num_archs
  c.num_archs = 1000  # sampled cells (seeded); every cell when the space has no more; 0 = all
  c.proxies = "synflow"  # comma-separated, of jaxnas.predictors.zero_cost (params, flops always)
  c.seed = 0
  c.dataset = "cifar10"  # sets classes and input size; the benchmark's targets of correlations
  c.batch_size = 64
  # 1 (default, fastest on CPU): each proxy is ONE compiled single-architecture program called
  # from the host per cell (zc.score_each); > 1: vmapped chunks of this many cells under lax.map
  # (zc.score_many; for accelerators; bounds memory). XLA:CPU runs convolutions in loop bodies
  # and grouped (vmapped) convolutions ~25x slower than top-level ones.
  c.chunk_size = 1
  c.synflow_chunk_size = 125  # synflow: cells per batched forward-mode pass (blocks of 5^k <= this)
  c.data = ml_collections.ConfigDict({"name": "fashion_mnist", "path": ""})
  c.network = ml_collections.ConfigDict({"channels": 16, "cells_per_stage": 5})
  # name "" = the space's own benchmark; path "" = its embedded table (none: scores only)
  c.benchmark = ml_collections.ConfigDict({"name": "", "path": ""})
  if arg == "smoke":
    c.num_archs = 8
    c.batch_size = 8
    c.chunk_size = 4
    c.synflow_chunk_size = 4
    c.network.channels = 4
    c.network.cells_per_stage = 1
  return c


# the config's default network (zero_cost_config); a space listed in
# ``jaxnas.nn.ZERO_COST_NETWORKS`` scores on its own default network when this one is unchanged
DEFAULT_NETWORK = {"channels": 16, "cells_per_stage": 5}


def zc_network(config, space) -> dict:
  """``config.network`` as a dict; while it is the untouched default, the space's registered
  zero-cost network instead (DARTS: NASLib's C=32, 8 cells, search-style ops)."""
  network = dict(config.network)
  if network == DEFAULT_NETWORK:
    return dict(getattr(jnn, "ZERO_COST_NETWORKS", {}).get(network_space(space), network))
  return network


def network_space(space) -> str:
  """The name under which ``space``'s networks are registered; a one-line ValueError naming the
  spaces that have networks when it has none (before any data is read or anything compiles)."""
  name = jnn.ALIASES.get(space.name, space.name)
  if name not in jnn.NETWORKS:
    raise ValueError(f"search space {space.name!r} has no network registered yet, so its cells "
                     f"cannot be scored; spaces with a network: {', '.join(sorted(jnn.NETWORKS))}")
  return name


def has_supernet(space) -> bool:
  """Whether ``space``'s cells are scored through its op-choice supernet in select mode. NB101 has
  none (a cell's topology sets its network's shapes), and a space with its own zero-cost network in
  ``jaxnas.nn.ZERO_COST_NETWORKS`` (DARTS: NASLib's C=32, 8-cell search-style network, whose
  preprocessing and counts its search supernet does not share) is scored on that network: each
  cell with its own discrete network."""
  name = network_space(space)
  return (jnn.NETWORKS[name][1] is not None
          and name not in getattr(jnn, "ZERO_COST_NETWORKS", {}))


def select_archs(num_archs: int, seed: int, total: int) -> np.ndarray:
  """All ids ``0..total-1`` (``num_archs`` 0 or >= ``total``) or a seeded random subset, sorted."""
  if not num_archs or num_archs >= total:
    return np.arange(total)
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(total, size=int(num_archs), replace=False))


def read_archs_file(path, space) -> list:
  """The architectures listed in ``path`` (``.json``: a list of strings or of NASLib tuples;
  ``.txt``: one per line; otherwise a one-column CSV, optionally with a header row; a NASLib tuple may be one quoted cell
  or spread over the row's cells), each read by :func:`jaxnas.spaces.arch_from_string`.

  Raises:
    FileNotFoundError: no such file.
    ValueError: one line naming the file, the entry and what the space accepts.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"archs_file {path} not found (a JSON list or a one-column CSV of "
                            f"{space.name} architectures)")
  if path.suffix.lower() == ".json":
    try:
      entries = json.loads(path.read_text())
    except json.JSONDecodeError as e:
      raise ValueError(f"archs_file {path} is not valid JSON: {e}") from None
    if not isinstance(entries, list):
      raise ValueError(f"archs_file {path} must hold a JSON list of architectures, got a "
                       f"{type(entries).__name__}")
    rows = [(i, e) for i, e in enumerate(entries)]
    header_ok = False
  elif path.suffix.lower() == ".txt":  # one architecture per line (e.g. DARTS Genotype(...) text)
    rows = [(i, ln.strip()) for i, ln in enumerate(path.read_text().splitlines()) if ln.strip()]
    header_ok = False
  else:
    with open(path, newline="") as f:
      cells = [[c.strip() for c in r if c.strip()] for r in csv.reader(f)]
    rows = []
    for i, r in enumerate(cells):
      if not r:
        continue
      if len(r) > 1 and not all(c.lstrip("(-[").rstrip(")]").strip().isdigit() for c in r):
        raise ValueError(f"archs_file {path} line {i + 1} has {len(r)} columns; it must be a "
                         f"one-column CSV of {space.name} architectures")
      rows.append((i, r[0] if len(r) == 1 else
                   "(" + ", ".join(c.strip("()[] ") for c in r) + ")"))
    header_ok = True
  archs = []
  for n, (i, entry) in enumerate(rows):
    try:
      archs.append(spaces.arch_from_string(space, entry))
    except ValueError as e:
      if header_ok and n == 0:  # a header row ("arch") of a CSV
        continue
      where = f"entry {i}" if path.suffix.lower() == ".json" else f"line {i + 1}"
      raise ValueError(f"archs_file {path} {where}: {e}") from None
  if not archs:
    raise ValueError(f"archs_file {path} lists no architectures")
  return archs


def load_batch(config, dataset: str, needed: bool):
  """A batch of real images for data-dependent proxies, resized to the network input."""
  size = IMAGE_SIZE[dataset]
  bs = int(config.batch_size)
  if not needed:
    return (jnp.zeros((bs, size, size, 3), jnp.float32), jnp.zeros((bs,), jnp.int32)), "none"
  from jaxnas import data as jdata  # pylint: disable=import-outside-toplevel

  ds = jdata.load_dataset(config.data.name, config.data.get("path") or None, "train",
                          max_examples=max(bs * 16, bs), image_size=size, channels=3,
                          seed=int(config.seed))
  idx = np.random.default_rng(int(config.seed)).choice(len(ds), size=bs, replace=False)
  labels = np.asarray(ds.labels)[idx] % NUM_CLASSES[dataset]
  return (jnp.asarray(np.asarray(ds.images)[idx]), jnp.asarray(labels, jnp.int32)), config.data.name


def setup(config):
  """Validates a zero-cost config on the host: ``(space, bench or None, dataset, proxy names,
  archs, ids or None)``. Every bad input is a one-line error before any data is read or anything
  compiles."""
  space = spaces.get_space(config.get("search_space", "nasbench201"))
  network_space(space)
  # bad keys: one-line error (a space without a supernet scores each cell's own network)
  jnn.network_kwargs(space, zc_network(config, space), discrete=not has_supernet(space))
  names = zce.parse_proxies(config.proxies)
  names = [n for n in STATS if n not in names] + names
  # a space with no benchmark registered yet (DARTS) is scored without lookups
  own = not (config.benchmark.get("name") or config.benchmark.get("path"))
  bench = (None if own and space.name not in bm.BENCHMARKS else
           io.optional_benchmark(config, space))
  dataset = config.dataset
  if bench is not None:
    dataset = bench.datasets[bench.dataset_index(dataset)]
  if dataset not in NUM_CLASSES:
    raise ValueError(f"dataset {dataset!r} has no zero-cost network setting (classes, image "
                     f"size); valid: {', '.join(NUM_CLASSES)}")
  archs_file = config.get("archs_file", "")
  ids = None
  if archs_file:
    listed = read_archs_file(archs_file, space)
    archs = jax.tree.map(lambda *xs: jnp.stack(xs), *listed)
    if space.num_archs:
      ids = np.asarray(space.to_id(archs)).astype(np.int64)
  elif space.num_archs:
    ids = select_archs(int(config.num_archs), int(config.seed), space.num_archs)
    archs = space.from_id(jnp.asarray(ids))
  else:
    if int(config.num_archs) < 1:
      raise ValueError(f"search space {space.name} cannot be enumerated: set num_archs >= 1 or "
                       "archs_file")
    archs = space.sample(jax.random.key(int(config.seed)), (int(config.num_archs),))
  return space, bench, dataset, names, archs, ids


def _counts(space, stat: str, archs, ids, network: dict | None = None, **kw) -> np.ndarray:
  """``params`` or ``flops`` of every cell (NATS-Bench conventions, ``jaxnas.nn.counting``);
  ``network``: the discrete network's arguments (default ``C``, ``N`` from ``kw``)."""
  network = dict(network) if network is not None else {"C": kw["C"], "N": kw["N"]}
  fast = FAST_COUNTS.get(network_space(space))
  # NB201's fast FLOPs need dense ids; a space that has no ids (NB101) registers counters that
  # do not
  if fast is not None and (ids is not None or stat == "params" or not space.num_archs):
    # the network's other arguments (NB101's num_stacks) go to the counter by name
    extra = {k: v for k, v in network.items() if k not in ("C", "N")}
    return np.asarray(fast[STATS.index(stat)](archs, ids, **kw, **extra))
  count = jnn.count_params if stat == "params" else jnn.count_flops
  size = kw.pop("image_size")
  n = jax.tree.leaves(archs)[0].shape[0]
  return np.asarray([count(jnn.compile(space, jax.tree.map(lambda x: x[i], archs),
                                       kw["num_classes"], **network),
                           input_shape=(size, size)) for i in range(n)], np.int64)


def score_proxies(config, quiet: bool = False) -> dict:
  """Scores every configured proxy (and params, flops) on the configured cells; returns arrays
  and timings."""
  space, bench, dataset, names, archs, ids = setup(config)
  num = jax.tree.leaves(archs)[0].shape[0]
  needs_data = any(n not in DATA_FREE for n in names)
  batch, data_name = load_batch(config, dataset, needs_data)
  # config.network as each factory's arguments (channels -> C, cells_per_stage -> N where the
  # network has stages of N cells, other keys such as TransNAS' skeleton by name)
  disc_kw = jnn.network_kwargs(space, zc_network(config, space), discrete=True)
  if not has_supernet(space):
    return _score_discrete(config, space, bench, dataset, names, archs, ids, batch, data_name,
                           disc_kw, quiet)
  sup_kw = jnn.network_kwargs(space, dict(config.network), discrete=False)
  C, N = sup_kw.get("C"), sup_kw.get("N")
  net = jnn.compile(space, None, NUM_CLASSES[dataset], mode="select", **sup_kw)
  mixed = jnn.compile(space, None, NUM_CLASSES[dataset], mode="mixed", **sup_kw)
  key = jax.random.key(int(config.seed))
  k_init, k_score = jax.random.split(key)
  size = IMAGE_SIZE[dataset]
  # params and flops are counted from shapes: only the proxies need initialised weights
  variables = (net.init(k_init, *net.example_args((1, size, size, 3)))
               if any(n not in STATS for n in names) else None)

  def net_fn(v, x, w, *, train, mutable):
    return net.apply(v, x, w, train, mutable=mutable)

  # [A, E, O]: each cell's op choice per edge
  weights = jax.nn.one_hot(space.to_categorical(archs), space.num_ops, dtype=jnp.float32)
  scores, seconds = {}, {}
  for name in names:
    if name in STATS:
      # architecture statistics: counted exactly from the discrete networks, no forward pass
      t0 = time.perf_counter()
      s = _counts(space, name, archs, ids, disc_kw, num_classes=NUM_CLASSES[dataset], C=C, N=N,
                  image_size=size)
      scores[name] = np.asarray(s, np.float64) / 1e6
      seconds[name] = time.perf_counter() - t0
      continue
    if name == "synflow":  # one batched JVP instead of per-architecture gradients
      t0 = time.perf_counter()
      scores[name] = zce.synflow_many(mixed, variables, weights, size,
                                      int(config.synflow_chunk_size))
      seconds[name] = time.perf_counter() - t0
      if not quiet:
        print(f"[zero_cost] {name:10s} {num} archs in {seconds[name]:.1f} s", flush=True)
      continue
    if int(config.chunk_size) > 1:  # vmapped chunks under lax.map (for accelerators)
      t0 = time.perf_counter()
      s = zc.score_many(name, k_score, net_fn, variables, weights, batch,
                        chunk_size=int(config.chunk_size))
      scores[name] = np.asarray(jax.block_until_ready(s))
      seconds[name] = time.perf_counter() - t0
    else:  # chunk_size 1: one compiled single-architecture program, a host loop over cells
      every = max(1, num // 10)

      def progress(done, total, secs, name=name):
        if not quiet and (done == 1 or done % every == 0) and done < total:
          print(f"[zero_cost] {name:10s} {done}/{total} archs, {secs:.0f} s (incl. compile)",
                flush=True)

      t0 = time.perf_counter()
      # One proxy per program: all proxies in one program compiled for >10 minutes at C=16, N=5.
      scores[name] = zc.score_each(name, k_score, net_fn, variables, weights, batch,
                                   progress=progress)
      seconds[name] = time.perf_counter() - t0
    if not quiet:
      print(f"[zero_cost] {name:10s} {num} archs in {seconds[name]:.1f} s", flush=True)
  return {"space": space, "archs": archs, "ids": ids, "scores": scores, "seconds": seconds,
          "bench": bench, "dataset": dataset, "data": data_name}


def _score_discrete(config, space, bench, dataset, names, archs, ids, batch, data_name, disc_kw,
                    quiet):
  """:func:`score_proxies` on a space without a supernet: every cell's own discrete network,
  initialised from one ``unsafe_rbg`` key (a threefry ``init`` compiles for minutes on a busy
  CPU, see ``jaxnas.drivers.train.init_key``) and scored by ONE program per cell holding the init
  and every requested proxy (``jaxnas.predictors.zero_cost.get(name)``, as ``score_each`` does for
  a supernet); params and flops are the space's closed-form counts."""
  num = jax.tree.leaves(archs)[0].shape[0]
  size, classes = IMAGE_SIZE[dataset], NUM_CLASSES[dataset]
  key = jax.random.key(int(config.seed))
  _, k_score = jax.random.split(key)
  k_init = jax.random.key(int(config.seed), impl="unsafe_rbg")
  C, N = disc_kw.get("C"), disc_kw.get("N")
  scores, seconds = {}, {}
  for name in STATS:
    if name in names:
      t0 = time.perf_counter()
      s = _counts(space, name, archs, ids, disc_kw, num_classes=classes, C=C, N=N,
                  image_size=size)
      scores[name] = np.asarray(s, np.float64) / 1e6
      seconds[name] = time.perf_counter() - t0
  proxies = [n for n in names if n not in STATS]
  out = {n: np.zeros((num,), np.float32) for n in proxies}
  t0 = time.perf_counter()
  array = getattr(jnn, "ARRAY_SCORERS", {}).get(network_space(space))
  if proxies and array is not None and all(n in array[0] for n in proxies):
    # ONE compiled program for every cell (the architecture is an input, jaxnas.nn.darts_zc):
    # each cell's own discrete network's weights (same k_init) and scores
    every = max(1, num // 10)

    def progress(done, total, secs):
      if not quiet and (done == 1 or done % every == 0 or done == total):
        print(f"[zero_cost] {done}/{total} archs, {secs:.0f} s (incl. compile)", flush=True)

    out = array[1](archs, proxies, batch, init_key=k_init, score_key=k_score,
                   num_classes=classes, image_size=size, progress=progress, **disc_kw)
  elif proxies:
    nets = [jnn.compile(space, jax.tree.map(lambda x, i=i: x[i], archs), classes, **disc_kw)
            for i in range(num)]  # every cell checked before anything compiles
    x0 = jnp.zeros((1, size, size, 3), jnp.float32)
    for i, net in enumerate(nets):

      @jax.jit
      def one(x, y, net=net):
        # init and every proxy in ONE program per cell: a separate init program would compile
        # about as long again (measured ~2 CPU-s per small cell)
        variables = net.init(k_init, x0, False)
        # params and batch_stats only: the probes' collections are sized for x0
        variables = {k: v for k, v in variables.items() if k in ("params", "batch_stats")}
        apply_fn = lambda v, x, *, train, mutable: net.apply(v, x, train, mutable=mutable)
        return {n: zc.get(n)(k_score, apply_fn, variables, (x, y)) for n in proxies}

      row = jax.device_get(one(*batch))
      for n in proxies:
        out[n][i] = row[n]
      if not quiet:
        print(f"[zero_cost] {i + 1}/{num} archs, {time.perf_counter() - t0:.0f} s (incl. "
              "compile)", flush=True)
  for n in proxies:
    scores[n] = out[n]
    seconds[n] = (time.perf_counter() - t0) / len(proxies)  # one program scored them all
  return {"space": space, "archs": archs, "ids": ids, "scores": {n: scores[n] for n in names},
          "seconds": {n: seconds[n] for n in names}, "bench": bench, "dataset": dataset,
          "data": data_name}


def run(config, workdir=None, quiet: bool = False) -> dict:
  """The ``zero_cost`` task of ``python -m jaxnas.run``; returns the correlations (without a
  benchmark table: ``{proxy: {"num_archs", "seconds", "archs_per_second"}}``)."""
  res = score_proxies(config, quiet)
  space, bench, ds, ids = res["space"], res["bench"], res["dataset"], res["ids"]
  targets = {}
  if bench is not None:
    targets["val"] = np.asarray(bm.query(bench, res["archs"], "val_accuracy", ds))
    if bench.has("test_accuracy"):
      targets["test"] = np.asarray(bm.query(bench, res["archs"], "test_accuracy", ds))
  if targets:
    corr = zce.correlations(res["scores"], targets)
  else:
    corr = {name: {"num_archs": int(len(s))} for name, s in res["scores"].items()}
  for name, row in corr.items():
    row["seconds"] = res["seconds"][name]
    row["archs_per_second"] = row["num_archs"] / max(res["seconds"][name], 1e-9)
  if not quiet and targets:
    for name, row in corr.items():
      extra = f", test spearman {row['test_spearman']:.3f}" if "test_spearman" in row else ""
      print(f"{name:10s} spearman {row['spearman']:.3f} kendall {row['kendall']:.3f}{extra}")
  if workdir:
    wd = pathlib.Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    names = list(res["scores"])
    strings = space.to_string(res["archs"])
    strings = [strings] if isinstance(strings, str) else strings
    order = bench.official_order() if bench is not None else None
    tmp = wd / "zc_scores.csv.tmp"
    with open(tmp, "w", newline="") as f:
      w = csv.writer(f)
      w.writerow(["index", "arch", *names] + (["val_accuracy"] if "val" in targets else [])
                 + (["test_accuracy"] if "test" in targets else []))
      for j, arch_s in enumerate(strings):
        i = j if ids is None else int(ids[j])
        index = int(order.id_to_official[i]) if order is not None else i
        row = [index, arch_s] + [repr(float(res["scores"][n][j])) for n in names]
        row += [float(targets[t][j]) for t in ("val", "test") if t in targets]
        w.writerow(row)
    os.replace(tmp, wd / "zc_scores.csv")
    meta = {"search_space": space.name, "dataset": ds, "data": res["data"],
            "index": ("official NB201 index" if order is not None else
                      "dense id (table built without the official order)" if ids is not None
                      else "row")}
    io.write_json(wd / "zc_correlations.json", dict(corr, _meta=meta))
    if targets:
      _scatter(wd, res["scores"], targets["test" if "test" in targets else "val"],
               "test accuracy" if "test" in targets else "validation accuracy", ds)
  return corr


def _scatter(wd, scores, y, ylabel, ds):
  for name, s in scores.items():
    fig, ax = io.figure(figsize=(4.5, 3.5))
    ok = s > zc.SENTINEL
    ax.scatter(s[ok], y[ok], s=2, alpha=0.3)
    ax.set_xlabel(name)
    ax.set_ylabel(f"{ylabel} ({ds})")
    if name in ("synflow", "flops", "params", "grad_norm", "snip", "grasp") and (s[ok] > 0).all():
      ax.set_xscale("log")
    io.save_figure(fig, wd / f"zc_{name}.png", dpi=110)
