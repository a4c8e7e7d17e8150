"""The zero-cost driver (task ``"zero_cost"``): scores proxies on a set of cells with ONE compiled
op-choice network per proxy (``jaxnas.nn.supernet_nb201(mode="select")``: the op choice is an
input, weights are shared and initialised exactly as each discrete network would be), then writes
``zc_scores.csv``, ``zc_correlations.json`` and one scatter plot per proxy. ``params``/``flops``
are counted exactly, and ``synflow`` runs through ``jaxnas.evaluate.zero_cost.synflow_many``.
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
from jaxnas import nn as jnn
from jaxnas.drivers import io
from jaxnas.evaluate import zero_cost as zce
from jaxnas.predictors import zero_cost as zc
from jaxnas.spaces import nb201

# proxies that never look at the data (synflow uses an all-ones input by definition)
DATA_FREE = ("flops", "params", "synflow", "l2_norm", "zen")
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
IMAGE_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}



def select_archs(num_archs: int, seed: int) -> np.ndarray:
  """All ids (``num_archs`` 0 or >= 15,625) or a seeded random subset, sorted."""
  if not num_archs or num_archs >= nb201.NUM_ARCHS:
    return np.arange(nb201.NUM_ARCHS)
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(nb201.NUM_ARCHS, size=int(num_archs), replace=False))


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


def score_proxies(config, quiet: bool = False) -> dict:
  """Scores every configured proxy on the configured cells; returns arrays and timings."""
  bench = bm.load("nasbench201", config.benchmark.get("path") or None)
  dataset = bench.datasets[bench.dataset_index(config.dataset)]
  names = zce.parse_proxies(config.proxies)
  ids = select_archs(int(config.num_archs), int(config.seed))
  needs_data = any(n not in DATA_FREE for n in names)
  batch, data_name = load_batch(config, dataset, needs_data)
  net = jnn.supernet_nb201(NUM_CLASSES[dataset], int(config.network.channels),
                           int(config.network.cells_per_stage), mode="select")
  mixed = jnn.supernet_nb201(NUM_CLASSES[dataset], int(config.network.channels),
                             int(config.network.cells_per_stage), mode="mixed")
  key = jax.random.key(int(config.seed))
  k_init, k_score = jax.random.split(key)
  size = IMAGE_SIZE[dataset]
  variables = net.init(k_init, *net.example_args((1, size, size, 3)))

  def net_fn(v, x, w, *, train, mutable):
    return net.apply(v, x, w, train, mutable=mutable)

  weights = jnn.nb201.one_hot(nb201.from_id(jnp.asarray(ids)))  # [A, 6, 5]
  scores, seconds = {}, {}
  C, N = int(config.network.channels), int(config.network.cells_per_stage)
  for name in names:
    if name in ("params", "flops"):
      # architecture statistics: counted exactly from the discrete networks, no forward pass
      t0 = time.perf_counter()
      if name == "params":
        s = jnn.nb201_param_counts(nb201.from_id(jnp.asarray(ids)),
                                            num_classes=NUM_CLASSES[dataset], C=C, N=N)
      else:
        s = zce.nb201_flop_counts(ids, num_classes=NUM_CLASSES[dataset], C=C, N=N, image_size=size)
      scores[name] = np.asarray(s, np.float64) / 1e6
      seconds[name] = time.perf_counter() - t0
      continue
    if name == "synflow":  # one batched JVP instead of per-architecture gradients
      t0 = time.perf_counter()
      scores[name] = zce.synflow_many(mixed, variables, weights, size, int(config.synflow_chunk_size))
      seconds[name] = time.perf_counter() - t0
      if not quiet:
        print(f"[zero_cost] {name:10s} {len(ids)} archs in {seconds[name]:.1f} s", flush=True)
      continue
    if int(config.chunk_size) > 1:  # vmapped chunks under lax.map (for accelerators)
      t0 = time.perf_counter()
      s = zc.score_many(name, k_score, net_fn, variables, weights, batch,
                        chunk_size=int(config.chunk_size))
      scores[name] = np.asarray(jax.block_until_ready(s))
      seconds[name] = time.perf_counter() - t0
    else:  # chunk_size 1: one compiled single-architecture program, a host loop over cells
      every = max(1, len(ids) // 10)

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
      print(f"[zero_cost] {name:10s} {len(ids)} archs in {seconds[name]:.1f} s", flush=True)
  return {"ids": ids, "scores": scores, "seconds": seconds, "bench": bench, "dataset": dataset,
          "data": data_name}


def run(config, workdir=None, quiet: bool = False) -> dict:
  """The ``zero_cost`` task of ``python -m jaxnas.run``; returns the correlations."""
  res = score_proxies(config, quiet)
  bench, ds, ids = res["bench"], res["dataset"], res["ids"]
  targets = {"val": np.asarray(bm.query(bench, ids, "val_accuracy", ds))}
  if bench.has("test_accuracy"):
    targets["test"] = np.asarray(bm.query(bench, ids, "test_accuracy", ds))
  corr = zce.correlations(res["scores"], targets)
  for name, row in corr.items():
    row["seconds"] = res["seconds"][name]
    row["archs_per_second"] = row["num_archs"] / max(res["seconds"][name], 1e-9)
  if not quiet:
    for name, row in corr.items():
      extra = f", test spearman {row['test_spearman']:.3f}" if "test_spearman" in row else ""
      print(f"{name:10s} spearman {row['spearman']:.3f} kendall {row['kendall']:.3f}{extra}")
  if workdir:
    wd = pathlib.Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    names = list(res["scores"])
    tmp = wd / "zc_scores.csv.tmp"
    with open(tmp, "w", newline="") as f:
      w = csv.writer(f)
      w.writerow(["index", "arch", *names, "val_accuracy"]
                 + (["test_accuracy"] if "test" in targets else []))
      order = bench.official_order()
      for j, i in enumerate(ids):
        index = int(order.id_to_official[i]) if order is not None else int(i)
        row = [index, nb201.to_string(nb201.from_id(int(i)))]
        row += [repr(float(res["scores"][n][j])) for n in names]
        row += [float(targets["val"][j])] + ([float(targets["test"][j])] if "test" in targets else [])
        w.writerow(row)
    os.replace(tmp, wd / "zc_scores.csv")
    meta = {"dataset": ds, "data": res["data"], "index": "official NB201 index" if
            bench.official_order() is not None else "dense id (table built without the official order)"}
    with open(wd / "zc_correlations.json", "w") as f:
      json.dump(dict(corr, _meta=meta), f, indent=1)
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
