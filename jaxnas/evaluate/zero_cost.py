"""Zero-cost proxy evaluation on NAS-Bench-201 (Abdelfattah et al., ICLR 2021 protocol).

``run(config, workdir)`` scores a set of proxies on a set of cells with ONE compiled op-choice
network per proxy (``jaxnas.nn.supernet_nb201(mode="select")``: the op choice is an input, weights
are shared and initialised exactly as each discrete network would be), vmapped over architectures
in chunks, then writes ``zc_scores.csv``, ``zc_correlations.json`` and one scatter plot per proxy.
``params``/``flops`` are counted exactly from per-edge tables, and ``synflow`` runs through
:func:`synflow_many`, which computes each cell's own ops only (blocks of 125 cells sharing three
edges; all 15,625 cells in minutes on two CPU cores).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import nn as jnn
from jaxnas.evaluate import metrics
from jaxnas.predictors import zero_cost as zc
from jaxnas.spaces import nb201

# proxies that never look at the data (synflow uses an all-ones input by definition)
DATA_FREE = ("flops", "params", "synflow", "l2_norm", "zen")
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
IMAGE_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}


def parse_proxies(text) -> list[str]:
  """Comma-separated names (or a sequence) -> validated list."""
  names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
  if not names:
    raise ValueError(f"no proxies given; valid: {', '.join(zc.names())}")
  for n in names:
    zc.get(n)  # raises with the valid names
  return names


def nb201_flop_counts(ids, *, num_classes: int, C: int, N: int, image_size: int) -> np.ndarray:
  """FLOPs (NATS-Bench convention, ``jaxnas.nn.count_flops``) of many cells at once.

  A cell's FLOPs are a shared part plus, per edge, a term that depends only on that edge's op
  (convolutions are the only counted ops, and NB201 edges are independent), so 1 + 6 x 4 discrete
  counts give every cell exactly (checked against ``count_flops`` in tests/evaluate).
  """
  shape = (image_size, image_size)
  count = lambda ops: jnn.count_flops(np.asarray(ops), num_classes=num_classes, C=C, N=N,
                                      input_shape=shape)
  base = count([0] * 6)
  table = np.zeros((6, 5), np.int64)
  for e in range(6):
    for o in range(1, 5):
      ops = [0] * 6
      ops[e] = o
      table[e, o] = count(ops) - base
  ops = np.asarray(nb201.from_id(jnp.asarray(ids)).ops)
  return base + table[np.arange(6), ops].sum(-1)


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
  names = parse_proxies(config.proxies)
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
        s = nb201_flop_counts(ids, num_classes=NUM_CLASSES[dataset], C=C, N=N, image_size=size)
      scores[name] = np.asarray(s, np.float64) / 1e6
      seconds[name] = time.perf_counter() - t0
      continue
    if name == "synflow":  # one batched JVP instead of per-architecture gradients
      t0 = time.perf_counter()
      scores[name] = synflow_many(mixed, variables, weights, size, int(config.synflow_chunk_size))
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


def kendall_tau_b(x, y, block: int = 1024) -> float:
  """Kendall tau-b exactly as ``metrics.kendall_tau`` (float32 inputs), counted on the host in
  blocks of rows with int64 sums: ``metrics.kendall_tau`` builds [N, N] float32 matrices, 4 GB of
  memory for all 15,625 cells (and float32 pair counts above 2^24); this needs ~50 MB."""
  x = np.asarray(x, np.float32)
  y = np.asarray(y, np.float32)
  s = nx = ny = 0
  for i in range(0, len(x), block):
    sx = np.sign(x[i:i + block, None] - x[None, :]).astype(np.int8)
    sy = np.sign(y[i:i + block, None] - y[None, :]).astype(np.int8)
    s += int(np.sum(sx * sy, dtype=np.int64))
    nx += int(np.count_nonzero(sx))
    ny += int(np.count_nonzero(sy))
  return s / float(np.sqrt(float(nx) * float(ny))) if nx and ny else 0.0


def correlations(scores: dict, targets: dict) -> dict:
  """``{proxy: {"spearman", "kendall", "num_archs"[, "test_spearman", "test_kendall"]}}``."""
  out = {}
  for name, s in scores.items():
    row = {"num_archs": int(len(s))}
    for prefix, y in targets.items():
      tag = "" if prefix == "val" else "test_"
      row[f"{tag}spearman"] = float(metrics.spearman(jnp.asarray(s), jnp.asarray(y)))
      row[f"{tag}kendall"] = kendall_tau_b(s, y)
    out[name] = row
  return out


def run(config, workdir=None, quiet: bool = False) -> dict:
  """The ``zero_cost`` task of ``python -m jaxnas.run``; returns the correlations."""
  res = score_proxies(config, quiet)
  bench, ds, ids = res["bench"], res["dataset"], res["ids"]
  targets = {"val": np.asarray(bm.query(bench, ids, "val_accuracy", ds))}
  if bench.has("test_accuracy"):
    targets["test"] = np.asarray(bm.query(bench, ids, "test_accuracy", ds))
  corr = correlations(res["scores"], targets)
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
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  for name, s in scores.items():
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ok = s > zc.SENTINEL
    ax.scatter(s[ok], y[ok], s=2, alpha=0.3)
    ax.set_xlabel(name)
    ax.set_ylabel(f"{ylabel} ({ds})")
    if name in ("synflow", "flops", "params", "grad_norm", "snip", "grasp") and (s[ok] > 0).all():
      ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(wd / f"zc_{name}.png", dpi=110)
    plt.close(fig)


@functools.lru_cache(maxsize=8)
def _synflow_program(net, image_size: int, dtype: str, input_scale: float):
  """The jitted chunked JVP program (cached: one compile per network, dtype and chunk shape)."""
  from jaxnas.predictors.zero_cost import _common as zcc  # pylint: disable=import-outside-toplevel
  from flax import traverse_util  # pylint: disable=import-outside-toplevel

  @jax.jit
  def run_chunks(params, others, w):
    # The tangent is built here from the same values as the parameters, so XLA sees that each
    # layer's conv(x, dK) is conv(x, K) of the primal and computes it once (2 convs per layer).
    flat = traverse_util.flatten_dict(params)
    tangent = traverse_util.unflatten_dict(
        {k: (x if zcc.is_kernel(k) else jnp.zeros_like(x)) for k, x in flat.items()})
    ones = jnp.full((1, image_size, image_size, 3), input_scale, dtype)

    def one(wa):
      def r(p):
        return jnp.sum(net.apply({**others, "params": p}, ones, wa.astype(dtype), False))
      return jax.jvp(r, (params,), (tangent,))[1]

    return jax.lax.map(jax.vmap(one), w)

  return run_chunks


def synflow_many(net, variables, op_weights, image_size: int, chunk_size: int = 125,
                 precision: str = "float32", method: str = "auto") -> np.ndarray:
  """log SynFlow of many NB201 cells with shared weights; equals ``zero_cost.synflow`` per cell.

  SynFlow is ``sum_theta theta * dR/dtheta`` over the Conv/Dense kernels, with every parameter
  replaced by its absolute value, an all-ones input and BatchNorm neutralised (see
  ``jaxnas.predictors.zero_cost.synflow``, which this equals to float rounding, tested). That sum
  is the directional derivative of ``R`` along the kernels themselves, so ONE Jacobian-vector
  product gives it: no per-architecture parameter gradient is needed.

  Two batched forms (``method``):

  * ``"grouped"`` (``jaxnas.predictors.zero_cost._synflow_nb201``): each cell runs only its own
    ops, as its discrete network does, in blocks of ``5^k <= chunk_size`` cells that share the
    first ``6 - k`` edges (a real ``lax.switch`` per block) and vary the last ``k`` (static batch
    slices). ~5x fewer FLOPs than ``"mixed"``; ``python -m jaxnas.bench zc --full`` measured
    66 vs 12.5 archs/s (C=16, N=5, CIFAR input; both in one process under the same load):
    all 15,625 cells in 236 s plus 23 s compile, where ``"mixed"`` would need ~1,250 s.
  * ``"mixed"``: the architectures of a chunk are the batch axis of a ``mode="mixed"`` supernet
    whose op weights are each cell's one-hot choice (equal to the discrete network, tested in
    tests/nn); every edge runs every op. Any op weights (not only one-hot), any supernet.

  ``"auto"`` takes ``"grouped"`` when the weights are one-hot and the network is one it
  reproduces (``_synflow_nb201.supports``: no partial channels, BatchNorm with running stats),
  else ``"mixed"``. Per-architecture reverse-mode gradients of shared weights (what
  ``score_many`` does for a generic proxy) would turn into grouped convolutions under ``vmap``,
  which XLA:CPU runs ~50x slower.

  NB201 scores reach ~1e40, beyond float32. NASLib computes in float64; here, by default, in
  float32 with the all-ones input scaled by 1e-20: with absolute weights every activation is
  positive, ReLU is the identity and neutral BatchNorm adds no bias, so the derivative along the
  kernels is linear in the input, and the log score is ``log(value) + 20 ln 10`` exactly; a chunk
  that still overflows or underflows is recomputed in float64 (``precision="float64"`` forces it).

  Args:
    net: an ``NB201Supernet`` (any ``C``, ``N``, ``num_classes``; ``mode="mixed"`` for
      ``method="mixed"``, any mode for ``"grouped"``).
    variables: its variables (only the shapes of ``batch_stats`` are used).
    op_weights: ``f32[A, 6, 5]`` one-hot architectures (any order, any subset).
    image_size: input height and width.
    chunk_size: the most architectures per batched forward pass (grouped: blocks of the largest
      power of 5 not above it, see ``_synflow_nb201.block_edges``).
    precision: ``"float32"`` (scaled input, float64 fallback) or ``"float64"``.
    method: ``"auto"``, ``"grouped"`` or ``"mixed"``.

  Returns:
    ``f32[A]``: natural log of SynFlow; ``SENTINEL`` where it is 0 (output independent of input).

  Raises:
    ValueError: bad ``precision``/``method``, or ``"grouped"`` for weights or a network it cannot
      score.
  """
  from jaxnas.predictors.zero_cost import _synflow_nb201 as grouped  # pylint: disable=import-outside-toplevel

  if method not in ("auto", "grouped", "mixed"):
    raise ValueError(f"method must be auto, grouped or mixed, got {method!r}")
  op_weights = np.asarray(op_weights, np.float32)
  one_hot = (op_weights.ndim == 3 and op_weights.shape[1:] == (nb201.NUM_EDGES, nb201.NUM_OPS)
             and np.all((op_weights == 0) | (op_weights == 1))
             and np.all(op_weights.sum(-1) == 1))
  can_group = one_hot and grouped.supports(net)
  if method == "grouped" and not can_group:
    raise ValueError("method='grouped' needs one-hot op_weights f32[A, 6, 5] and an NB201Supernet "
                     "without partial channels whose BatchNorm keeps running statistics")
  if method != "mixed" and can_group:
    return grouped.synflow_nb201(net, variables, op_weights.argmax(-1), image_size,
                                 max_block=chunk_size, precision=precision)
  return _synflow_mixed(net, variables, op_weights, image_size, chunk_size, precision)


def _synflow_mixed(net, variables, op_weights, image_size: int, chunk_size: int,
                   precision: str) -> np.ndarray:
  """``synflow_many(method="mixed")``: one JVP of the mixed supernet, archs as the batch axis."""
  from jaxnas.predictors.zero_cost import _common as zcc  # pylint: disable=import-outside-toplevel

  if precision not in ("float32", "float64"):
    raise ValueError(f"precision must be float32 or float64, got {precision!r}")
  op_weights = np.asarray(op_weights, np.float32)
  num = op_weights.shape[0]
  chunk = max(1, min(chunk_size, num))
  n_chunks = -(-num // chunk)
  pad = n_chunks * chunk - num
  w = np.concatenate([op_weights, np.repeat(op_weights[-1:], pad, 0)]) if pad else op_weights
  w = w.reshape(n_chunks, chunk, *op_weights.shape[1:])
  v = zcc.network_variables(variables)

  def compute(dtype, scale, w):
    cast = lambda t: jax.tree.map(lambda p: jnp.abs(jnp.asarray(p)).astype(dtype), t)
    others = {k: cast(x) for k, x in zcc.neutral_stats(v).items() if k != "params"}
    params = cast(v["params"])
    run_chunks = _synflow_program(net, image_size, dtype, scale)
    out = np.asarray(run_chunks(params, others, jnp.asarray(w)), np.float64)
    with np.errstate(divide="ignore"):
      return out, np.log(np.maximum(out, 0.0)) - np.log(scale)  # [n_chunks, chunk]

  from jaxnas.predictors.zero_cost import _synflow_nb201 as grouped  # pylint: disable=import-outside-toplevel
  # the scaled float32 input is exact only when nothing before the classifier adds a bias
  if precision == "float64" or not grouped.offsets_are_zero(v["params"]):
    with jax.enable_x64(True):
      _, logs = compute("float64", 1.0, w)
  else:
    raw, logs = compute("float32", 1e-20, w)
    # a chunk near float32's limits (or non-finite) is recomputed in float64
    bad = ~np.all(np.isfinite(raw) & (raw < 1e36) & ((raw > 1e-30) | (raw == 0)), axis=1)
    if bad.any():
      with jax.enable_x64(True):
        logs[bad] = compute("float64", 1.0, w[bad])[1]
  out = logs.reshape(-1)[:num].astype(np.float32)
  return np.where(np.isfinite(out), out, zc.SENTINEL).astype(np.float32)
