"""Zero-cost proxy evaluation (Abdelfattah et al., ICLR 2021 protocol) on any space with a
network: the library parts (batched SynFlow, Kendall tau on the host, correlations). The driver,
``jaxnas.drivers.zero_cost.run(config, workdir)``, scores a set of proxies on a set of cells with
ONE compiled op-choice network per proxy (``jaxnas.nn.compile(space, None, ..., mode="select")``:
the op choice is an input, weights are shared and initialised exactly as each discrete network
would be), then writes ``zc_scores.csv``, ``zc_correlations.json`` and one scatter plot per proxy.

``synflow`` runs through :func:`synflow_many`: one forward-mode pass of the mixed supernet per
chunk of cells, or a space's own fast path registered for its network class in
``jaxnas.nn.SYNFLOW_FAST_PATHS`` (NB201: ``jaxnas.predictors.zero_cost._synflow_nb201``, each
cell's own ops only, blocks of 125 cells sharing three edges; all 15,625 cells in minutes on two
CPU cores). Fast params/FLOPs counters are registered the same way (``jaxnas.nn.FAST_COUNTS``;
``nb201_flop_counts`` stays importable from here).

Several devices (or processes, ``jax.distributed``): :func:`score_many_sharded` and
:func:`synflow_many` (``shard=None``: whenever ``jax.device_count() > 1``) split the architecture
axis over every device of every process (``jax.shard_map`` over a global one-axis mesh, shared
weights and batch replicated) and gather the scores back to every process; row ``i`` equals the
unsharded score. The grouped NB201 SynFlow path is split by process (each process scores its
contiguous share of the cells on its first local device).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import nn as jnn
from jaxnas.evaluate import metrics
from jaxnas.predictors import zero_cost as zc


def parse_proxies(text) -> list[str]:
  """Comma-separated names (or a sequence) -> validated list."""
  names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
  if not names:
    raise ValueError(f"no proxies given; valid: {', '.join(zc.names())}")
  for n in names:
    zc.get(n)  # raises with the valid names
  return names


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
                 precision: str = "float32", method: str = "auto",
                 shard: bool | None = None) -> np.ndarray:
  """log SynFlow of many NB201 cells with shared weights; equals ``zero_cost.synflow`` per cell.

  SynFlow is ``sum_theta theta * dR/dtheta`` over the Conv/Dense kernels, with every parameter
  replaced by its absolute value, an all-ones input and BatchNorm neutralised (see
  ``jaxnas.predictors.zero_cost.synflow``, which this equals to float rounding, tested). That sum
  is the directional derivative of ``R`` along the kernels themselves, so ONE Jacobian-vector
  product gives it: no per-architecture parameter gradient is needed.

  Two batched forms (``method``):

  * ``"grouped"``: the fast path registered for the network's class in
    ``jaxnas.nn.SYNFLOW_FAST_PATHS`` (NB201: ``_synflow_nb201``): each cell runs only its own
    ops, as its discrete network does, in blocks of ``5^k <= chunk_size`` cells that share the
    first ``6 - k`` edges (a real ``lax.switch`` per block) and vary the last ``k`` (static batch
    slices). ~5x fewer FLOPs than ``"mixed"``; ``python -m jaxnas.bench zc --full`` measured
    66 vs 12.5 archs/s (C=16, N=5, CIFAR input; both in one process under the same load):
    all 15,625 cells in 236 s plus 23 s compile, where ``"mixed"`` would need ~1,250 s.
  * ``"mixed"``: the architectures of a chunk are the batch axis of a ``mode="mixed"`` supernet
    whose op weights are each cell's one-hot choice (equal to the discrete network, tested in
    tests/nn); every edge runs every op. Any op weights (not only one-hot), any supernet.

  ``"auto"`` takes ``"grouped"`` when the weights are one-hot and the network is one it
  reproduces (its ``can_score``; NB201: no partial channels, BatchNorm with running stats),
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
    shard: split the cells over every device of every process (None: when there are several
      devices); ``"mixed"`` chunks go to devices through ``jax.shard_map``, ``"grouped"`` cells
      to processes. One device: no effect.

  Returns:
    ``f32[A]``: natural log of SynFlow; ``SENTINEL`` where it is 0 (output independent of input).

  Raises:
    ValueError: bad ``precision``/``method``, or ``"grouped"`` for weights or a network it cannot
      score.
  """
  if method not in ("auto", "grouped", "mixed"):
    raise ValueError(f"method must be auto, grouped or mixed, got {method!r}")
  op_weights = np.asarray(op_weights, np.float32)
  fast = jnn.synflow_fast_path(net)
  can_group = fast is not None and fast.can_score(net, op_weights)
  if method == "grouped" and not can_group:
    raise ValueError("method='grouped' needs one-hot op_weights and a network with a registered "
                     "fast SynFlow path (jaxnas.nn.SYNFLOW_FAST_PATHS: an NB201Supernet without "
                     "partial channels whose BatchNorm keeps running statistics, op_weights "
                     "f32[A, 6, 5])")
  shard = jax.device_count() > 1 if shard is None else bool(shard)
  if method != "mixed" and can_group:
    if shard and jax.process_count() > 1:
      return _by_process(lambda w: fast.score(net, variables, w, image_size,
                                              chunk_size=chunk_size, precision=precision),
                         op_weights)
    return fast.score(net, variables, op_weights, image_size, chunk_size=chunk_size,
                      precision=precision)
  return _synflow_mixed(net, variables, op_weights, image_size, chunk_size, precision, shard)


def _synflow_mixed(net, variables, op_weights, image_size: int, chunk_size: int,
                   precision: str, shard: bool = False) -> np.ndarray:
  """``synflow_many(method="mixed")``: one JVP of the mixed supernet, archs as the batch axis."""
  from jaxnas.predictors.zero_cost import _common as zcc  # pylint: disable=import-outside-toplevel

  if precision not in ("float32", "float64"):
    raise ValueError(f"precision must be float32 or float64, got {precision!r}")
  op_weights = np.asarray(op_weights, np.float32)
  num = op_weights.shape[0]
  chunk = max(1, min(chunk_size, num))
  n_chunks = -(-num // chunk)
  if shard:  # every device gets the same number of chunks
    n_chunks = -(-n_chunks // jax.device_count()) * jax.device_count()
  pad = n_chunks * chunk - num
  w = np.concatenate([op_weights, np.repeat(op_weights[-1:], pad, 0)]) if pad else op_weights
  w = w.reshape(n_chunks, chunk, *op_weights.shape[1:])
  v = zcc.network_variables(variables)

  def compute(dtype, scale, w):
    cast = lambda t: jax.tree.map(lambda p: jnp.abs(jnp.asarray(p)).astype(dtype), t)
    others = {k: cast(x) for k, x in zcc.neutral_stats(v).items() if k != "params"}
    params = cast(v["params"])
    run_chunks = _synflow_program(net, image_size, dtype, scale)
    if shard and w.shape[0] % jax.device_count() == 0:
      out = np.asarray(_sharded_call(run_chunks, (params, others), w), np.float64)
    else:
      out = np.asarray(run_chunks(params, others, jnp.asarray(w)), np.float64)
    with np.errstate(divide="ignore"):
      return out, np.log(np.maximum(out, 0.0)) - np.log(scale)  # [n_chunks, chunk]

  # the scaled float32 input is exact only when nothing before the classifier adds a bias
  if precision == "float64" or not zcc.offsets_are_zero(v["params"]):
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


def _sharded_call(fn, shared, w):
  """``fn(*shared, w)`` with ``w``'s leading axis split over every device of every process
  (``jax.shard_map``; ``shared`` replicated); host numpy result, the same on every process.
  ``w`` (host numpy, a pytree) must have a leading axis divisible by ``jax.device_count()``."""
  from jax.sharding import NamedSharding, PartitionSpec as P  # pylint: disable=import-outside-toplevel
  from jaxnas import distributed  # pylint: disable=import-outside-toplevel

  mesh = distributed.seed_mesh("archs")
  rep = NamedSharding(mesh, P())
  shared = jax.device_put(jax.tree.map(np.asarray, shared), rep)
  w = jax.tree.map(lambda x: distributed.global_array(np.asarray(x), NamedSharding(mesh, P("archs"))),
                   w)
  return distributed.gather(_sharded_program(fn, mesh)(shared, w))


@functools.lru_cache(maxsize=16)
def _sharded_program(fn, mesh):
  """``jit(shard_map(fn))`` over ``mesh`` (cached per function: a second call does not compile)."""
  from jax.sharding import PartitionSpec as P  # pylint: disable=import-outside-toplevel
  return jax.jit(jax.shard_map(lambda s, w: fn(*s, w), mesh=mesh, in_specs=(P(), P("archs")),
                               out_specs=P("archs"), check_vma=False))


def _by_process(fn, op_weights: np.ndarray) -> np.ndarray:
  """``fn(op_weights)`` (a host function, ``f32[A]``) with the rows split into contiguous
  per-process shares, each scored by its own process, gathered back to every process."""
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

  n, p = op_weights.shape[0], jax.process_count()
  per = -(-n // p)
  lo = min(n, jax.process_index() * per)
  mine = op_weights[lo:lo + per]
  out = np.full((per,), np.nan, np.float32)
  if len(mine):
    out[:len(mine)] = fn(mine)
  return np.asarray(multihost_utils.process_allgather(out)).reshape(-1)[:n]  # [P, per] -> [A]


def score_many_sharded(name: str, key: jax.Array, net_fn, variables, op_weights, batch, *,
                       chunk_size: int = 16) -> np.ndarray:
  """:func:`jaxnas.predictors.zero_cost.score_many` with the architecture axis split over every
  device of every process (``jax.shard_map`` over a global mesh; the shared variables, the batch
  and the key replicated). Row ``i`` equals ``score_many``'s row ``i`` (the same key for every
  architecture, as there). One device: ``score_many`` itself.

  Args:
    name, key, net_fn, variables, op_weights, batch, chunk_size: as ``score_many`` (chunks of
      ``chunk_size`` architectures per device, run sequentially under ``lax.map``).

  Returns:
    ``f32[A]`` host numpy, identical on every process.
  """
  leaves = jax.tree.leaves(op_weights)
  num = int(np.shape(leaves[0])[0]) if leaves else 0
  d = jax.device_count()
  if d == 1 or num == 0:
    return np.asarray(zc.score_many(name, key, net_fn, variables, op_weights, batch,
                                    chunk_size=chunk_size))
  per = -(-num // d)
  pad = per * d - num
  w = jax.tree.map(lambda x: np.concatenate([np.asarray(x), np.repeat(np.asarray(x)[-1:], pad, 0)])
                   if pad else np.asarray(x), op_weights)
  kd = np.asarray(jax.random.key_data(key))
  local = _score_many_local(name, net_fn, str(jax.random.key_impl(key)), min(chunk_size, per))
  x, y = batch
  out = _sharded_call(local, (kd, variables, np.asarray(x), np.asarray(y)), w)
  return out[:num]


@functools.lru_cache(maxsize=16)
def _score_many_local(name: str, net_fn, impl: str, chunk: int):
  """One device's share of :func:`score_many_sharded` (cached, so its program compiles once)."""

  def local(kd, variables, x, y, w):
    k = jax.random.wrap_key_data(kd, impl=impl)
    return zc.score_many(name, k, net_fn, variables, w, (x, y), chunk_size=chunk)

  return local


# The driver's names, moved to jaxnas.drivers.zero_cost, stay importable from here (lazily: that
# module imports this one).
_DRIVER_NAMES = ("run", "score_proxies", "select_archs", "load_batch", "DATA_FREE", "NUM_CLASSES",
                 "IMAGE_SIZE")


def __getattr__(name):
  if name == "nb201_flop_counts":  # moved to NB201's own file; the registry re-exports it
    return jnn.nb201_flop_counts
  if name in _DRIVER_NAMES:
    import importlib  # pylint: disable=import-outside-toplevel
    return getattr(importlib.import_module("jaxnas.drivers.zero_cost"), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
