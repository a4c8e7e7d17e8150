"""The one-shot NAS driver (task ``"oneshot"``), shared by ``python -m jaxnas.run`` and the
notebooks.

``run_oneshot(config, workdir)`` validates the config on the host (optimizer, hyperparameters,
dataset, batch size vs devices) before anything is compiled, loads the two search halves of the
training set, trains the supernet with the chosen one-shot optimizer for ``config.epochs`` epochs
(one jitted step per batch; the batch is gathered, augmented and sharded over the devices inside
it), and after every epoch discretizes the architecture, looks it up in the space's table
(when there is one), saves a checkpoint (msgpack of the whole state) and rewrites ``results.json``
and ``alphas.png``. Rerunning the same config with the same workdir resumes from the last
checkpoint.

Any registered space with a supernet runs (``config.search_space``: NB201, TransNAS-Bench-101
micro, ...): the supernet comes from ``jaxnas.nn.compile(space, None, ...)`` with the keys of
``config.network`` (``channels`` -> ``C``, ``cells_per_stage`` -> ``N`` where the network has
stages of cells, other keys such as TransNAS' ``skeleton`` by name), the one-shot optimizer reads
the supernet's :class:`~jaxnas.nn.cell.SupernetSpec`, architectures are written in the space's
string form. ``oneshot_config(name, search_space=...)`` gives the defaults for a space.

Data parallelism: the mesh (``io.mesh``) spans every device of every process, so in a
``jax.distributed`` run (``python -m jaxnas.launch``, Slurm, a TPU slice; see
``jaxnas.distributed``) the batch is sharded over all of them, the weights and datasets are
replicated, and XLA averages the gradient (one ``jit``, no ``pmap``); BN sees the whole batch, as
on one device. Process 0 writes the checkpoints and outputs; a checkpoint holds host arrays, so it
restores on any device or process count (the workdir must be on storage every process reads).
"""

from __future__ import annotations

import functools
import inspect
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import benchmarks as bm
from jaxnas import data as data_lib
from jaxnas import distributed
from jaxnas import nn as jnn
from jaxnas import spaces
from jaxnas.config import to_dict
from jaxnas.drivers import io
from jaxnas.drivers.io import config_hash, load_checkpoint, replicated, save_checkpoint  # noqa: F401
from jaxnas.optimizers import oneshot as oneshot_lib
from jaxnas.optimizers.oneshot import latency as latency_lib

# The space of a config without ``search_space`` (the NB201 presets from before spaces were
# generic).
DEFAULT_SPACE = "nasbench201"
# search dataset -> benchmark dataset of image-classification tables (NB201's; Fashion-MNIST has
# none: report the CIFAR-10 numbers). Tables without these datasets use ``benchmark.dataset``.
BENCHMARK_DATASET = {"cifar10": "cifar10", "cifar100": "cifar100",
                     "imagenet16-120": "ImageNet16-120", "fashion_mnist": "cifar10"}
# Search cells: BN without affine parameters or running statistics (AutoDL-Projects' NB201
# search defaults ``--affine 0 --track_running_stats 0``, NASLib's search ops); the stem,
# reductions and head keep the network's BN. Passed to every supernet that takes ``cell_bn``.
SEARCH_CELL_BN = jnn.BNConfig(affine=False, track_running_stats=False)


# ``preset="smoke"``: a CPU check of a config in a minute or so (Fashion-MNIST at 8x8, 256 images,
# one epoch) on a small network of the space (the keys of its ``config.network``)
SMOKE_NETWORK = {"darts": {"channels": 4, "layers": 3}}


def oneshot_config(optimizer: str, *, search_space: str = DEFAULT_SPACE, preset: str | None = None,
                   **hparams):
  """The default one-shot search config (what ``configs/nb201_<optimizer>.py`` return); another
  ``search_space`` (e.g. ``transnas101_micro``) gets its network keys and, where the space's
  table is not embedded, ``benchmark.name`` ``""`` (set ``benchmark.path`` to a built table).
  ``preset`` (a config file's ``:arg``): ``None``, or ``"smoke"`` for the spaces of
  :data:`SMOKE_NETWORK`."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  spaces.get_space(search_space)  # ValueError naming the registered spaces
  c = ml_collections.ConfigDict()
  c.task = "oneshot"
  c.search_space = search_space
  c.seed = 0
  c.epochs = 50  # NASLib's NB201 search length
  c.batch_size = 64  # per step, for each of the train and validation batches
  c.data = ml_collections.ConfigDict({
      "name": "cifar10",  # cifar10, cifar100, imagenet16-120, fashion_mnist
      "path": "",  # "" = the default locations (see jaxnas.data.load_dataset)
      "max_examples": 0,  # per search half; 0 = all
      "image_size": 0,  # 0 = as stored (H, W must be multiples of 4)
      "split_seed": 0,  # seed of the search_train / search_valid split
  })
  c.network = ml_collections.ConfigDict(default_network(search_space))
  # every hyperparameter with its default, so that --config.optimizer.<name>=... can set it
  c.optimizer = ml_collections.ConfigDict(
      dict(name=optimizer, **{**oneshot_lib.hyperparameters(optimizer), **hparams}))
  # RandomNAS / OneShot pick by scoring sampled architectures with the shared weights:
  c.score_archs = 100  # architectures sampled and scored after each epoch
  c.score_batches = 4  # validation batches each one is scored on
  if search_space == DEFAULT_SPACE:
    c.benchmark = ml_collections.ConfigDict({"name": "nasbench201", "path": ""})
  else:
    # name "" = the space's own table; path "" = its embedded one (none: no benchmark numbers);
    # dataset "" = the search dataset's table column where the table has it, else its first
    c.benchmark = ml_collections.ConfigDict({"name": "", "path": "", "dataset": ""})
  if preset is not None:
    if preset != "smoke" or search_space not in SMOKE_NETWORK:
      valid = "smoke" if search_space in SMOKE_NETWORK else "none"
      raise ValueError(f"unknown config preset {preset!r} for search space {search_space!r}; "
                       f"valid: {valid}")
    c.data.name, c.data.max_examples, c.data.image_size = "fashion_mnist", 256, 8
    c.epochs, c.batch_size = 1, 32
    c.network.update(SMOKE_NETWORK[search_space])
    c.score_archs, c.score_batches = 10, 1
  return c


def default_network(search_space: str) -> dict:
  """``config.network`` defaults of a space's supernet: ``channels`` and the keys of its
  factory besides ``num_classes``/``C``/``N`` that describe its shape (NB201: 16 channels, 5
  cells per stage; TransNAS micro: 64 channels, skeleton ``41414``)."""
  factory = _supernet_factory(search_space)
  params = inspect.signature(factory).parameters
  out = {"channels": params["C"].default}
  if "N" in params:
    out["cells_per_stage"] = params["N"].default
  if "skeleton" in params:
    out["skeleton"] = params["skeleton"].default
  if "layers" in params:  # the DARTS search network: cells in all (8)
    out["layers"] = params["layers"].default
  return out


def _supernet_factory(search_space: str, discrete: bool = False):
  space = spaces.get_space(search_space)
  name = jnn.ALIASES.get(space.name, space.name)
  if name not in jnn.NETWORKS:
    raise ValueError(f"search space {space.name!r} has no {'network' if discrete else 'supernet'} "
                     f"registered; spaces with one: {', '.join(sorted(jnn.NETWORKS))}")
  return jnn.NETWORKS[name][0 if discrete else 1]


def network_kwargs(config, discrete: bool = False) -> tuple:
  """``config.network`` as sorted ``(key, value)`` factory arguments of the space's supernet (or,
  ``discrete``, of its discrete network), see :func:`jaxnas.nn.network_kwargs`; one-line
  ValueError naming the valid keys (before any compile)."""
  space_name = config.get("search_space", DEFAULT_SPACE)
  _supernet_factory(space_name, discrete)  # ValueError for a space without networks
  return tuple(sorted(jnn.network_kwargs(space_name, to_dict(config.network), discrete).items()))


_say = distributed.say  # io.say, with the process id in a multi-process run


def _device_count() -> int:
  return jax.device_count()


# ----------------------------------------------------------------------------- setup


def _hparams(config) -> tuple[str, dict]:
  opt_cfg = dict(to_dict(config.optimizer))
  name = opt_cfg.pop("name", None)
  if name not in oneshot_lib.ONESHOT:
    raise ValueError(f"unknown one-shot optimizer {name!r} (config optimizer.name); valid: "
                     f"{', '.join(oneshot_lib.ONESHOT)}")
  valid = oneshot_lib.hyperparameters(name)
  bad = [k for k in opt_cfg if k not in valid]
  if bad:
    raise ValueError(f"unknown hyperparameter {bad[0]!r} for one-shot optimizer {name!r}; "
                     f"valid: {', '.join(valid) or '(none)'}")
  for k, v in opt_cfg.items():
    if isinstance(valid[k], tuple):
      opt_cfg[k] = tuple(v)
  return name, opt_cfg


def check_common(config) -> None:
  """Host-side checks shared by the search and training drivers (before any data or compile)."""
  for k in ("epochs", "batch_size"):
    if int(config[k]) < 1:
      raise ValueError(f"{k} must be >= 1, got {config[k]}")
  n_dev = _device_count()
  if int(config.batch_size) % n_dev:
    raise ValueError(f"batch_size {config.batch_size} is not divisible by the {n_dev} devices "
                     f"it is sharded over; use a multiple of {n_dev}")
  data_lib.get_spec(config.data.name)  # unknown dataset -> ValueError listing the valid ones
  if str(config.data.name).lower().replace("_", "-") not in (
      "cifar10", "cifar100", "imagenet16-120", "fashion-mnist", "mnist"):
    raise ValueError(f"dataset {config.data.name!r} is not supported here")
  if int(config.network.channels) < 1 or int(config.network.get("cells_per_stage", 1)) < 1:
    raise ValueError(f"network.channels and network.cells_per_stage must be >= 1, got "
                     f"{config.network.channels}, {config.network.get('cells_per_stage')}")
  if int(config.data.max_examples) < 0:
    raise ValueError(f"data.max_examples must be >= 0 (0 = all), got {config.data.max_examples}")
  size = int(config.data.get("image_size", 0) or 0)
  if size and size % 4:
    raise ValueError(f"data.image_size must be a multiple of 4 (the supernets halve it at least "
                     f"twice), got {size}")


def load_split(config, split: str):
  """A split of ``config.data`` as RGB (grayscale replicated) normalised host arrays."""
  size = int(config.data.get("image_size", 0) or 0) or None
  ds = data_lib.load_dataset(config.data.name, config.data.path or None, split,
                             max_examples=int(config.data.max_examples), image_size=size,
                             channels=3, seed=int(config.data.get("split_seed", 0)))
  h, w = ds.images.shape[1:3]
  if h % 4 or w % 4:
    raise ValueError(f"{config.data.name} images are {h}x{w}; the supernets need multiples of 4: "
                     f"set data.image_size (e.g. 32)")
  return ds


@functools.lru_cache(maxsize=8)
def search_programs(name: str, hparams: tuple, num_classes: int, C: int, N: int | None,
                    epochs: int, steps: int, padding: int, search_space: str = DEFAULT_SPACE,
                    network: tuple = (), cost_reg: tuple = ()):
  """The optimizer and its jitted functions for one setting (cached, so that a rerun in the same
  process, e.g. a resume, reuses the compiled programs): ``(opt, init, train_step, score,
  discretize, op_weights)``. ``train_step(state, key, train, valid, idx_t, idx_v, pad_value)``
  gathers, augments and shards both batches, then calls ``opt.step``. The supernet is
  ``search_space``'s with ``C``, ``N`` (None: the network has no such argument) and the other
  ``network`` arguments (sorted ``(key, value)`` pairs). ``cost_reg``: ``()`` or ``(lut_key,
  weight)``, an expected-cost regulariser (:mod:`jaxnas.optimizers.oneshot.latency`) for
  DARTS / GDAS."""
  kw = {**dict(network), "C": C, **({} if N is None else {"N": N})}
  if "cell_bn" in inspect.signature(_supernet_factory(search_space)).parameters:
    kw["cell_bn"] = SEARCH_CELL_BN
  net = jnn.compile(search_space, None, num_classes, **kw)
  if cost_reg:  # latency-aware DARTS / GDAS (configs/nb201_darts_latency.py)
    (rows, intercept), weight = cost_reg
    lut = latency_lib.CostLUT(np.asarray(rows, np.float32), intercept, 1.0, 0.0)
    opt = oneshot_lib.ONESHOT[name](net, epochs=epochs, steps_per_epoch=steps,
                                    op_regulariser=latency_lib.cost_regulariser(lut, weight),
                                    **dict(hparams))
  else:
    opt = oneshot_lib.make(name, net, epochs=epochs, steps_per_epoch=steps, **dict(hparams))
  shard = io.mesh_constraint()

  @functools.partial(jax.jit, out_shardings=replicated())
  def train_step(state, key, train, valid, idx_t, idx_v, pad_value):
    k_t, k_v, k_step = jax.random.split(key, 3)
    tb, vb = train[idx_t], valid[idx_v]
    xt = shard(data_lib.augment(k_t, tb.images, padding=padding, pad_value=pad_value))
    xv = shard(data_lib.augment(k_v, vb.images, padding=padding, pad_value=pad_value))
    return opt.step(k_step, state, (xt, shard(tb.labels)), (xv, shard(vb.labels)))

  return (opt, jax.jit(opt.init), train_step, jax.jit(opt.score), jax.jit(opt.discretize),
          jax.jit(opt.op_weights))


def _mean_metrics(ms) -> dict:
  keys = ms[0].__dict__.keys()
  stacked = jax.device_get(ms)
  return {k: float(np.mean([getattr(m, k) for m in stacked])) for k in keys}


# ----------------------------------------------------------------------------- driver


def run_oneshot(config, workdir=None, quiet: bool = False, stop_after: int | None = None) -> dict:
  """Runs a one-shot NAS search on ``config.search_space`` (default NB201); returns the
  ``results.json`` dict.

  Args:
    config: a ConfigDict like ``configs/nb201_darts.py``.
    workdir: where to write ``results.json``, ``alphas.png`` and ``checkpoints/<hash>/`` (None:
      write nothing, no resuming).
    quiet: no progress output.
    stop_after: stop after this many epochs in total (as if killed; a rerun resumes). None: all.

  Returns:
    The results dict (see ``results.json``): ``best_arch``, per-epoch ``train_loss``,
    ``valid_accuracy``, ``archs``, benchmark accuracies, op weights per epoch, timings.

  Raises:
    ValueError: bad optimizer / hyperparameter / dataset / sizes, before any compile.
    FileNotFoundError: missing data (the message says where it looked and how to get it).
  """
  name, hparams = _hparams(config)
  check_common(config)
  space = spaces.get_space(config.get("search_space", DEFAULT_SPACE))
  net_kw = dict(network_kwargs(config))
  bench = _optional_benchmark(config, space)
  bench_ds = _benchmark_dataset(config, bench)
  has_test = bench is not None and bench.has("test_accuracy")
  epochs, batch = int(config.epochs), int(config.batch_size)
  cost = cost_setup(config, name, space, bench, bench_ds)  # None without latency_* keys

  train = load_split(config, "search_train")
  valid = load_split(config, "search_valid")
  steps = min(len(train), len(valid)) // batch
  if steps < 1:
    raise ValueError(f"batch_size {batch} exceeds the {min(len(train), len(valid))} examples of a "
                     f"search half (data.max_examples={config.data.max_examples})")
  padding = max(1, train.images.shape[1] // 8)  # 4 at 32x32 (CIFAR), 2 at 16x16 (ImageNet16)
  C, N = net_kw.pop("C"), net_kw.pop("N", None)
  opt, init, train_step, score_fn, discretize, op_weights = search_programs(
      name, tuple(sorted(hparams.items())), train.num_classes, C, N, epochs, steps, padding,
      space.name, tuple(sorted(net_kw.items())),
      () if cost is None or not cost.weight else (cost.lut.key(), cost.weight))
  pad_value = jax.device_put(jnp.asarray(train.black), replicated())

  shape = " ".join(f"{k}={v}" for k, v in [("C", C), ("N", N), *sorted(net_kw.items())]
                   if v is not None)
  _say(f"{name} on {train.name} ({len(train)} + {len(valid)} images "
       f"{'x'.join(map(str, train.images.shape[1:]))}), supernet {shape}"
       f"{'' if space.name == DEFAULT_SPACE else ' of ' + space.name}, "
       f"{epochs} epochs x {steps} steps of 2 x {batch}", quiet)

  key = jax.random.key(int(config.seed))
  _, k_train, k_data, k_score = jax.random.split(key, 4)
  # unsafe_rbg for the weight init: threefry's per-parameter path hashing compiles for minutes
  k_init = jax.random.key(int(config.seed), impl="unsafe_rbg")
  example = (jnp.zeros((batch,) + train.images.shape[1:], jnp.float32),
             jnp.zeros((batch,), jnp.int32))
  wd = pathlib.Path(workdir) if workdir else None
  ckpt_dir = wd / "checkpoints" / _checkpoint_hash(config) if wd else None
  template = jax.eval_shape(opt.init, k_init, example)
  start, state, meta = load_checkpoint(ckpt_dir, template)
  distributed.check_same_start(start, ckpt_dir)  # every process resumes from process 0's epoch
  history = meta["history"] if meta else []
  if state is None:
    t0 = time.perf_counter()
    state = init(k_init, example)
    jax.block_until_ready(state)
    _say(f"initialised the supernet in {time.perf_counter() - t0:.1f} s", quiet)
  else:
    _say(f"resuming from {ckpt_dir} after epoch {start}", quiet)

  rep = replicated()
  state = jax.device_put(state, rep)
  train_dev, valid_dev = jax.device_put(train, rep), jax.device_put(valid, rep)
  compile_s = meta.get("compile_seconds", 0.0) if meta else 0.0
  first = True
  plan_fn = jax.jit(data_lib.epoch_batches, static_argnums=(1, 2))

  last = epochs if stop_after is None else min(epochs, int(stop_after))
  for epoch in range(start, last):
    t_epoch = time.perf_counter()
    plan_t = plan_fn(jax.random.fold_in(k_data, 2 * epoch), len(train), batch)
    plan_v = plan_fn(jax.random.fold_in(k_data, 2 * epoch + 1), len(valid), batch)
    k_epoch = jax.random.fold_in(k_train, epoch)
    bar = io.progress(range(steps), f"epoch {epoch + 1}/{epochs}", "step", quiet)
    ms = []
    for s in bar:
      t0 = time.perf_counter()
      state, m = train_step(state, jax.random.fold_in(k_epoch, s), train_dev, valid_dev,
                            plan_t[s], plan_v[s], pad_value)
      ms.append(m)
      if first:  # the first call compiles (unless cached in this process)
        jax.block_until_ready(m)
        compile_s, first = time.perf_counter() - t0, False
        _say(f"first {name} step (compilation included) took {compile_s:.1f} s", quiet)
      if not bar.disable and (s % 10 == 9 or s == steps - 1):
        bar.set_postfix(loss=f"{float(m.train_loss):.3f}", val_acc=f"{float(m.valid_accuracy):.3f}")
    bar.close()
    mean = _mean_metrics(ms)
    if opt.name in ("rsws", "oneshot"):
      state, top = _select(opt, score_fn, state, valid_dev, jax.random.fold_in(k_score, epoch),
                           int(config.score_archs), int(config.score_batches), batch)
      # the chosen cell is a new, single-device leaf: put the state back to the step's sharding,
      # or the next epoch's train_step compiles again (measured: a second 55-80 s compile)
      state = jax.device_put(state, rep)
    else:
      top = None
    arch = discretize(state)
    arch_s = space.to_string(arch)
    val = float(bm.query(bench, arch, "val_accuracy", bench_ds)) if bench is not None else None
    test = float(bm.query(bench, arch, "test_accuracy", bench_ds)) if has_test else None
    record = {"epoch": epoch + 1, **mean, "arch": arch_s, "benchmark_val_accuracy": val,
              "benchmark_test_accuracy": test,
              "op_weights": np.asarray(op_weights(state)).round(5).tolist(),
              "seconds": time.perf_counter() - t_epoch}
    if top is not None:
      record["best_score"] = top
    if cost is not None:
      record["cost"] = cost.of(arch)
    history.append(record)
    _say(f"epoch {epoch + 1}/{epochs}: train loss {mean['train_loss']:.4f} acc "
         f"{mean['train_accuracy']:.3f}, valid loss {mean['valid_loss']:.4f} acc "
         f"{mean['valid_accuracy']:.3f}" + (f", tau {mean['tau']:.2f}" if name in ("gdas", "snas")
                                            else "")
         + f" | {arch_s}" + ("" if val is None else f": {bench_ds} val {val:.2f}")
         + ("" if test is None else f" test {test:.2f}")
         + ("" if cost is None else f", {cost.metric} {record['cost']['true']:.3f} "
            f"(predicted {record['cost']['predicted']:.3f})")
         + f" ({record['seconds']:.1f} s)", quiet)
    if wd and distributed.is_writer():  # process 0 writes (the state is replicated)
      save_checkpoint(ckpt_dir, epoch + 1, state, {"history": history,
                                                    "compile_seconds": compile_s})
      results = _results(config, name, train, bench_ds, history, compile_s, epochs, space, bench)
      if cost is not None:
        results["latency"] = cost.summary(history)
      write_outputs(wd, results)
  results = _results(config, name, train, bench_ds, history, compile_s, epochs, space, bench)
  if cost is not None:
    results["latency"] = cost.summary(history)
  results["state"] = state  # not written: the final OneShotState, for notebooks and tests
  return results


class CostSetup:
  """The per-(edge, op) cost table of a latency-aware search and what it reports per epoch."""

  def __init__(self, lut, weight, source, metric, dataset, accuracy_metric=None):
    self.lut, self.weight, self.source = lut, float(weight), source
    self.metric, self.dataset, self.accuracy_metric = metric, dataset, accuracy_metric

  def of(self, arch) -> dict:
    """The discovered cell's true cost (the table), predicted cost (the fit) and, for a
    HW-NAS-Bench-360 combination, its task accuracy."""
    out = {"true": float(bm.query(self.source, arch, self.metric, self.dataset)),
           "predicted": float(self.lut.predict(np.asarray(arch.ops)))}
    if self.accuracy_metric:
      out["accuracy"] = float(bm.query(self.source, arch, self.accuracy_metric, self.dataset))
    return out

  def summary(self, history) -> dict:
    final = history[-1].get("cost", {}) if history else {}
    return {"weight": self.weight, "metric": self.metric, "dataset": self.dataset,
            "benchmark": self.source.name, "lut": self.lut.to_json(),
            "best_arch_true": final.get("true"), "best_arch_predicted": final.get("predicted"),
            "best_arch_accuracy": final.get("accuracy")}


LATENCY_KEYS = ("latency_weight", "latency_combo", "latency_metric", "latency_csv")
LATENCY_OPTIMIZERS = ("darts", "gdas")


def cost_setup(config, name, space, bench, bench_ds):
  """The latency-aware search's :class:`CostSetup` from the config keys ``latency_weight``
  (>= 0; 0 = plain search, the cost only reported), ``latency_combo`` (a HW-NAS-Bench-360
  combination, ``pi5/litert/cifar100``; ``""``: ``latency_metric`` is a metric of the config's
  own benchmark, e.g. NB201 ``latency`` or ``params`` on ``bench_ds``), ``latency_metric``
  (``lat_ms_median``, ``energy_mj``, ...) and ``latency_csv`` (``""``: the shared data's CSV);
  None when the config has none of them. One-line errors before any compile."""
  if not any(k in config for k in LATENCY_KEYS):
    return None
  weight = float(config.get("latency_weight", 0.0) or 0.0)
  if weight < 0:
    raise ValueError(f"latency_weight must be >= 0, got {weight}")
  if weight and name not in LATENCY_OPTIMIZERS:
    raise ValueError(f"latency_weight needs one-shot optimizer {' or '.join(LATENCY_OPTIMIZERS)}, "
                     f"got {name!r}")
  combo = str(config.get("latency_combo", "") or "")
  metric = str(config.get("latency_metric", "lat_ms_median") or "lat_ms_median")
  if combo:
    from jaxnas.benchmarks import hw_nas_bench  # pylint: disable=import-outside-toplevel
    hw_nas_bench.check_combo(combo)
    hw_nas_bench.check_metric(metric)
    source = hw_nas_bench.load(config.get("latency_csv", "") or None)
    lut = latency_lib.nb201_lut(combo, metric, hw=source)
    return CostSetup(lut, weight, source, metric, combo, "accuracy")
  if bench is None:
    raise ValueError("latency_combo '' takes the cost from the config's benchmark, and this "
                     "search has none; set latency_combo (e.g. pi5/litert/cifar100)")
  lut = latency_lib.table_lut(bench, metric, bench_ds, space)
  return CostSetup(lut, weight, bench, metric, bench_ds)


def _select(opt, score_fn, state, valid, key, num_archs: int, num_batches: int, batch: int):
  """Scores ``num_archs`` cells sampled by the supernet spec's path sampler (NB201: NASLib-valid
  cells) on the first validation batches (no augmentation) with the shared weights and stores the
  best in ``state.best``."""
  k_arch, k_plan = jax.random.split(key)
  ops = jax.vmap(opt.spec.sample_ops)(jax.random.split(k_arch, num_archs))
  plan = data_lib.epoch_batches(k_plan, len(valid), batch)[:max(1, num_batches)]
  chunk = 10  # archs per vmapped call: bounds activation memory at A x B images
  pad = (-num_archs) % chunk
  ops_p = jnp.concatenate([ops, jnp.repeat(ops[:1], pad, 0)]) if pad else ops
  scores = []
  for i in range(0, ops_p.shape[0], chunk):
    archs = opt.spec.to_arch(ops_p[i:i + chunk])
    s = sum(score_fn(state, archs, valid[idx]) for idx in plan) / plan.shape[0]
    scores.append(s)
  scores = jnp.concatenate(scores)[:num_archs]
  best = int(jnp.argmax(scores))
  return state.replace(best=ops[best].astype(jnp.int32)), float(scores[best])


def _optional_benchmark(config, space):
  """``io.optional_benchmark``, or None when the config names no benchmark (``name`` and ``path``
  empty) and none is registered under the space's name (the DARTS space: its surrogate benchmark
  is fitted and saved separately; set ``benchmark.name``/``path`` to look the cells up in it)."""
  b = config.get("benchmark", None)
  if b is not None and not b.get("name") and not b.get("path") and space.name not in bm.BENCHMARKS:
    return None
  return io.optional_benchmark(config, space)


def _checkpoint_hash(config) -> str:
  """The config hash naming the checkpoint folder; ``search_space`` at its default is left out, so
  NB201 configs keep the folder they had before the key existed (and resume from it)."""
  at_default = config.get("search_space", DEFAULT_SPACE) == DEFAULT_SPACE
  return config_hash(config, drop=("search_space",) if at_default else ())


def _benchmark_dataset(config, bench) -> str | None:
  """The table column the discovered cells are looked up in: ``benchmark.dataset``, else the
  search dataset's (:data:`BENCHMARK_DATASET`) where the table has it, else the table's first."""
  if bench is None:
    return None
  chosen = config.benchmark.get("dataset", "") or ""
  if chosen:
    return bench.datasets[bench.dataset_index(chosen)]  # ValueError naming the valid ones
  mapped = BENCHMARK_DATASET.get(data_lib.get_spec(config.data.name).name, "cifar10")
  return mapped if mapped in bench.datasets else bench.datasets[0]


def _results(config, name, train, bench_ds, history, compile_s, epochs, space=None,
             bench=None) -> dict:
  final = history[-1] if history else {}
  out = {
      "task": "oneshot",
      "optimizer": name,
      "optimizer_config": to_dict(config.optimizer),
      "search_space": space.name if space is not None else DEFAULT_SPACE,
      "dataset": train.name,
      "benchmark_dataset": bench_ds,
      "epochs": epochs,
      "epochs_done": len(history),
      "best_arch": final.get("arch"),
      "best_arch_benchmark_val_accuracy": final.get("benchmark_val_accuracy"),
      "best_arch_benchmark_test_accuracy": final.get("benchmark_test_accuracy"),
      "train_loss": [h["train_loss"] for h in history],
      "train_accuracy": [h["train_accuracy"] for h in history],
      "valid_loss": [h["valid_loss"] for h in history],
      "valid_accuracy": [h["valid_accuracy"] for h in history],
      "archs": [h["arch"] for h in history],
      "benchmark_val_accuracy": [h["benchmark_val_accuracy"] for h in history],
      "benchmark_test_accuracy": [h["benchmark_test_accuracy"] for h in history],
      "history": history,
      "compile_seconds": compile_s,
      "wall_seconds": float(sum(h["seconds"] for h in history)),
      "config": to_dict(config),
  }
  if bench_ds is None:
    out["benchmark_note"] = (f"search space {out['search_space']} has no benchmark table here "
                             "(set benchmark.path): no benchmark accuracies")
  elif train.name.lower() != str(bench_ds).lower():
    out["benchmark_note"] = (f"{bench.name} has no {train.name} table: the benchmark accuracies "
                             f"are the {bench_ds} numbers of the discovered architecture")
  return out


def write_outputs(wd: pathlib.Path, results: dict) -> None:
  """``results.json`` and ``alphas.png`` (op weights per edge over epochs)."""
  wd.mkdir(parents=True, exist_ok=True)
  io.write_json(wd / "results.json", {k: v for k, v in results.items() if k != "state"})
  spec = jnn.supernet_spec(results.get("search_space", DEFAULT_SPACE))
  plot_op_weights(wd / "alphas.png", [h["op_weights"] for h in results["history"]],
                  title=f"{results['optimizer']} on {results['dataset']}", edges=spec.edges,
                  ops=spec.ops)


def plot_op_weights(path, weights, title: str = "", *, edges=None, ops=None) -> None:
  """One panel per edge: each op's weight (softmaxed alphas, ...) against the epoch.

  Args:
    path: the image file to write (PNG).
    weights: ``f32[epochs, E, O]`` op weights per epoch (nothing is written when empty).
    title: figure title.
    edges: ``((source, target), ...)`` for the panel titles (default ``edge k``).
    ops: the ``O`` op names for the legend (default ``op o``).
  """
  w = np.asarray(weights, float)  # [epochs, E, O]
  if w.ndim != 3 or not len(w):
    return
  num_edges, num_ops = w.shape[1:]
  ops = tuple(ops) if ops is not None else tuple(f"op {o}" for o in range(num_ops))
  ncols = min(3, num_edges)
  nrows = -(-num_edges // ncols)
  xs = np.arange(1, w.shape[0] + 1)
  fig, axes = io.figure(nrows=nrows, ncols=ncols, figsize=(3.7 * ncols, 3 * nrows), sharex=True,
                        sharey=True, squeeze=False)
  for k, ax in enumerate(axes.flat):
    if k >= num_edges:
      ax.set_visible(False)
      continue
    for o, op in enumerate(ops):
      ax.plot(xs, w[:, k, o], marker="o" if len(xs) < 20 else None, ms=3, label=op)
    title_k = f"edge {k}: node {edges[k][0]} -> {edges[k][1]}" if edges is not None else f"edge {k}"
    ax.set_title(title_k, fontsize=9)
    ax.grid(alpha=0.3)
  for ax in axes[-1]:
    ax.set_xlabel("epoch")
  for ax in axes[:, 0]:
    ax.set_ylabel("op weight")
  axes[0, -1].legend(fontsize=7)
  fig.suptitle(title)
  io.save_figure(fig, path, dpi=110)


def fashion_search(name: str, workdir: str | None = None, *, epochs: int = 3,
                   max_examples: int = 2048, image_size: int = 16, channels: int = 4,
                   cells: int = 1, batch_size: int = 32, seed: int = 0, **hparams) -> dict:
  """A small one-shot search on Fashion-MNIST from the shared data (the measurement behind
  "every optimizer lowers the training loss"): returns :func:`run_oneshot`'s results."""
  c = oneshot_config(name, **hparams)
  c.data.name = "fashion_mnist"
  c.data.max_examples = max_examples
  c.data.image_size = image_size
  c.epochs, c.batch_size, c.seed = epochs, batch_size, seed
  c.network.channels, c.network.cells_per_stage = channels, cells
  c.score_archs, c.score_batches = 50, 2
  return run_oneshot(c, workdir, quiet=True)
