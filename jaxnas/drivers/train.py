"""Final training: an architecture of any space with a network (default NB201) trained from
scratch, with checkpoints and resume.

``run_train(config, workdir)`` (``python -m jaxnas.run --config configs/nb201_train.py``, task
``"train"``) trains the discrete network of ``config.arch`` with NAS-Bench-201's recipe (Dong &
Yang, ICLR 2020, Sec. 2.3 / AutoDL-Projects ``configs/nas-benchmark/LESS.config``): SGD with
Nesterov momentum 0.9, learning rate 0.1 cosine-annealed to 0 over all steps, weight decay 5e-4
(L2, added to the gradient as PyTorch does), batch 256, random crop (padding 4 at 32x32) and
horizontal flip, optional label smoothing. After each epoch it can evaluate the test split
(running BN statistics, every example once), saves a msgpack checkpoint of the whole
:class:`TrainState` and rewrites ``results.json``; rerunning with the same workdir resumes, and a
resumed run computes exactly the same weights as an uninterrupted one (one key per epoch and
step, folded from the seed; the data order of epoch ``e`` depends only on ``e``).

Data parallel: the mesh spans every device of every process (``jax.distributed``, see
``jaxnas.distributed``): the batch is sharded over all of them, the weights are replicated and XLA
averages the gradient; process 0 writes; checkpoints hold host arrays and restore on any device
count.
"""

from __future__ import annotations

import functools
import pathlib
import time
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas import data as data_lib
from jaxnas import distributed
from jaxnas import nn as jnn
from jaxnas import spaces
from jaxnas.config import to_dict
from jaxnas.drivers import io
from jaxnas.drivers import oneshot as drv


def train_config(arch: str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
                 "nor_conv_3x3~1|nor_conv_3x3~2|"):
  """The default final-training config (what ``configs/nb201_train.py`` returns)."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict()
  c.task = "train"
  # NB201 string or NASLib op-index tuple. (A config may add search_space, default nasbench201;
  # it is not a key here so that checkpoint hashes of existing runs stay valid.)
  c.arch = arch
  c.seed = 0
  c.epochs = 200  # NB201's full schedule
  c.batch_size = 256
  c.lr = 0.1
  c.momentum = 0.9
  c.nesterov = True
  c.weight_decay = 5e-4
  c.label_smoothing = 0.0
  c.eval_every = 1  # evaluate the test split every this many epochs (and always at the end)
  c.data = ml_collections.ConfigDict({
      "name": "cifar10", "path": "", "max_examples": 0, "image_size": 0, "split_seed": 0,
      "test_max_examples": 0,  # 0 = the whole test split
  })
  c.network = ml_collections.ConfigDict({"channels": 16, "cells_per_stage": 5})
  return c


@flax.struct.dataclass
class TrainState:
  """Training state of a discrete network: ``step`` (``int32[]``), ``params``, ``batch_stats``
  (running BN statistics) and the optax state ``opt_state``."""

  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


def nb201_tx(total_steps: int, lr: float = 0.1, momentum: float = 0.9, nesterov: bool = True,
             weight_decay: float = 5e-4) -> optax.GradientTransformation:
  """NB201's optimizer: L2 decay on every parameter, then SGD (Nesterov) with cosine lr to 0."""
  schedule = optax.cosine_decay_schedule(lr, max(1, int(total_steps)))
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.sgd(schedule, momentum=momentum, nesterov=nesterov))


def rmsprop_tx(total_steps: int, lr: float = 0.2, momentum: float = 0.9, weight_decay: float = 1e-4,
               decay: float = 0.9, eps: float = 1.0) -> optax.GradientTransformation:
  """NAS-Bench-101's optimizer (Ying et al., ICML 2019, Sec. 2.2; ``tf.train.RMSPropOptimizer(lr,
  0.9, 0.9, epsilon=1.0)``): L2 decay on every parameter (``wd * sum(l2_loss)`` adds ``wd * w`` to
  the gradient), then RMSProp (mean-square decay 0.9, epsilon 1.0 inside the square root, the
  mean square starting at 1 as TF1's slot, momentum 0.9) with the lr cosine-decayed to 0 by
  step."""
  schedule = optax.cosine_decay_schedule(lr, max(1, int(total_steps)))
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.rmsprop(schedule, decay=decay, eps=eps, initial_scale=1.0,
                                   eps_in_sqrt=True, momentum=momentum))


# config.optimizer (a key only configs that change it have, so existing checkpoint hashes stay)
OPTIMIZERS = ("sgd", "rmsprop")


def cutout(key: jax.Array, images: jax.Array, length: int) -> jax.Array:
  """DARTS's ``Cutout(length)``: one ``length x length`` square per image, centred uniformly in
  the image and clipped at its border, set to 0 (the normalised mean)."""
  b, h, w = images.shape[:3]
  ky, kx = jax.random.split(key)
  cy = jax.random.randint(ky, (b, 1, 1), 0, h)
  cx = jax.random.randint(kx, (b, 1, 1), 0, w)
  rows, cols = jnp.arange(h)[None, :, None], jnp.arange(w)[None, None, :]
  hole = ((rows >= cy - length // 2) & (rows < cy + length - length // 2)
          & (cols >= cx - length // 2) & (cols < cx + length - length // 2))
  return jnp.where(hole[..., None], jnp.zeros((), images.dtype), images)


@functools.lru_cache(maxsize=8)
def _programs(space: str, arch: tuple, num_classes: int, C: int, N: int | None, total_steps: int,
              lr: float, momentum: float, nesterov: bool, weight_decay: float,
              label_smoothing: float, padding: int, network: tuple = (),
              optimizer: tuple = (), regular: tuple = ()):
  """The jitted init / train-step / eval-step for one setting (cached: a rerun, e.g. a resume
  in the same process, reuses the compiled programs). ``N`` None: the space's network has no
  stages of ``N`` cells; ``network``: its other arguments, sorted ``(key, value)`` pairs;
  ``optimizer``: ``()`` NB201's SGD, or ``("rmsprop", decay, eps)`` (:func:`rmsprop_tx`);
  ``regular``: ``()``, or DARTS's ``(aux_weight, drop_path_prob, cutout, grad_clip, epochs)``
  (:func:`darts_regular`): auxiliary-head loss weight (the network's ``aux`` collection), drop-path
  probability ramped linearly per epoch from 0 as DARTS does (``p * epoch / epochs``), cutout
  length, global-norm gradient clipping (0: off)."""
  aux_weight, drop_path, cut, clip, epochs = regular or (0.0, 0.0, 0, 0.0, 1)
  net = jnn.compile(space, arch, num_classes, C=C, **({} if N is None else {"N": N}),
                    **dict(network))
  if optimizer and optimizer[0] == "rmsprop":
    tx = rmsprop_tx(total_steps, lr, momentum, weight_decay, *optimizer[1:])
  else:
    tx = nb201_tx(total_steps, lr, momentum, nesterov, weight_decay)
  if clip > 0:
    tx = optax.chain(optax.clip_by_global_norm(clip), tx)
  steps_per_epoch = max(1, total_steps // max(1, epochs))
  shard = io.mesh_constraint()

  @jax.jit
  def init(key, x):
    v = net.init(key, x, False)
    params = v["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=v.get("batch_stats", {}), opt_state=tx.init(params))

  @functools.partial(jax.jit, out_shardings=io.replicated())
  def train_step(state: TrainState, key, train, idx, pad_value):
    b = train[idx]
    x = data_lib.augment(key, b.images, padding=padding, pad_value=pad_value)
    if cut:
      x = cutout(jax.random.fold_in(key, 2), x, cut)
    x = shard(x)
    y = shard(b.labels)
    extra = {}
    if drop_path > 0:  # DARTS: drop_path_prob * epoch / epochs, one mask per sample and op
      epoch = (state.step // steps_per_epoch).astype(jnp.float32)
      extra = {"drop_prob": drop_path * epoch / epochs,
               "rngs": {"dropout": jax.random.fold_in(key, 1)}}

    def loss_fn(params):
      logits, new = net.apply({"params": params, "batch_stats": state.batch_stats}, x, True,
                              mutable=["batch_stats"] + (["aux"] if aux_weight else []), **extra)
      target = optax.smooth_labels(jax.nn.one_hot(y, num_classes), label_smoothing)
      loss = optax.softmax_cross_entropy(logits, target).mean()
      if aux_weight:  # DARTS's auxiliary head
        aux_logits = new["aux"]["logits"][0]
        loss = loss + aux_weight * optax.softmax_cross_entropy(aux_logits, target).mean()
      return loss, (jnp.mean(jnp.argmax(logits, -1) == y), new["batch_stats"])

    (loss, (acc, bs)), g = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    upd, opt_state = tx.update(g, state.opt_state, state.params)
    return (state.replace(step=state.step + 1, params=optax.apply_updates(state.params, upd),
                          batch_stats=bs, opt_state=opt_state), (loss, acc))

  @jax.jit
  def eval_step(state: TrainState, test, idx, mask):
    b = test[idx]
    logits = net.apply({"params": state.params, "batch_stats": state.batch_stats},
                       shard(b.images), False)
    correct = (jnp.argmax(logits, -1) == b.labels) & mask
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, b.labels) * mask
    return jnp.sum(correct), jnp.sum(loss)

  return init, train_step, eval_step


def darts_regular(config) -> tuple:
  """``(aux_weight, drop_path_prob, cutout, grad_clip)`` from the config keys that DARTS's recipe
  adds (``configs/darts_train.py``), or ``()`` when the config has none of them (other configs:
  unchanged programs and checkpoints). One-line ValueError for values out of range."""
  keys = ("aux_weight", "drop_path_prob", "cutout", "grad_clip")
  if not any(k in config for k in keys):
    return ()
  aux, dp = float(config.get("aux_weight", 0.0)), float(config.get("drop_path_prob", 0.0))
  cut, clip = int(config.get("cutout", 0)), float(config.get("grad_clip", 0.0))
  if aux < 0 or not 0 <= dp < 1 or cut < 0 or clip < 0:
    raise ValueError(f"aux_weight >= 0, drop_path_prob in [0, 1), cutout >= 0, grad_clip >= 0; "
                     f"got {aux}, {dp}, {cut}, {clip}")
  if aux and not dict(config.network).get("auxiliary", False):
    raise ValueError(f"aux_weight {aux} needs the auxiliary head: set network.auxiliary=True "
                     "(or aux_weight=0)")
  return (aux, dp, cut, clip)


def init_key(seed: int) -> jax.Array:
  """The weight-initialisation key: an ``unsafe_rbg`` key, because Flax folds every parameter's
  path into the key, and with threefry those hundreds of hash blocks make the ``init`` program
  take minutes to compile on a busy CPU (the NB201 tests in ``tests/nn`` do the same)."""
  return jax.random.key(seed, impl="unsafe_rbg")


def evaluate(eval_step, state, test, batch: int) -> tuple[float, float]:
  """Exact test accuracy and mean loss (every example once; the padded tail is masked)."""
  idx, mask = data_lib.eval_batches(len(test), batch)
  correct = loss = 0.0
  for i in range(idx.shape[0]):
    c, l = eval_step(state, test, idx[i], mask[i])
    correct, loss = correct + c, loss + l
  return float(correct) / len(test), float(loss) / len(test)


def run_train(config, workdir=None, quiet: bool = False, stop_after: int | None = None) -> dict:
  """Trains ``config.arch`` from scratch; returns the ``results.json`` dict.

  Args:
    config: a ConfigDict like ``configs/nb201_train.py``.
    workdir: where to write ``results.json`` and ``checkpoints/<hash>/`` (None: nothing).
    quiet: no progress output.
    stop_after: stop after this many epochs in total (as if killed; a rerun resumes).

  Returns:
    ``{"arch", "test_accuracy" (final), "train_loss"/"train_accuracy"/"test_accuracy_per_epoch"
    (per epoch), "wall_seconds", ...}``; ``"state"`` holds the final :class:`TrainState`.

  Raises:
    ValueError: invalid architecture string or config values, before any compile.
    FileNotFoundError: missing data (the message says where it looked and how to get it).
  """
  space = spaces.get_space(config.get("search_space", "nasbench201"))
  if jnn.ALIASES.get(space.name, space.name) not in jnn.NETWORKS:
    raise ValueError(f"search space {space.name!r} has no network registered yet; spaces with a "
                     f"network: {', '.join(sorted(jnn.NETWORKS))}")
  # any of the space's text forms (its string, NASLib's op-index tuple); another space's string
  # is a one-line error naming that space
  parsed = spaces.arch_from_string(space, config.arch)
  arch = tuple(int(o) for o in np.asarray(space.to_categorical(parsed)).reshape(-1))
  drv.check_common(config)
  # config.network as the network's arguments (channels -> C, cells_per_stage -> N where it has
  # stages of N cells, others such as TransNAS' skeleton by name)
  net_kw = dict(drv.network_kwargs(config, discrete=True))
  C, N = net_kw.pop("C"), net_kw.pop("N", None)
  for k in ("lr", "weight_decay", "label_smoothing"):
    if float(config[k]) < 0:
      raise ValueError(f"{k} must be >= 0, got {config[k]}")
  if not 0.0 <= float(config.label_smoothing) < 1.0:
    raise ValueError(f"label_smoothing must be in [0, 1), got {config.label_smoothing}")
  opt_name = config.get("optimizer", "sgd")
  if opt_name not in OPTIMIZERS:
    raise ValueError(f"unknown optimizer {opt_name!r}; valid: {', '.join(OPTIMIZERS)}")
  optimizer = (() if opt_name == "sgd" else
               ("rmsprop", float(config.get("rmsprop_decay", 0.9)),
                float(config.get("rmsprop_eps", 1.0))))
  regular = darts_regular(config)
  epochs, batch = int(config.epochs), int(config.batch_size)
  train = drv.load_split(config, "train")
  test_cfg = config.copy_and_resolve_references()
  with test_cfg.unlocked():
    test_cfg.data.max_examples = int(config.data.get("test_max_examples", 0))
  test = drv.load_split(test_cfg, "test")
  steps = len(train) // batch
  if steps < 1:
    raise ValueError(f"batch_size {batch} exceeds the {len(train)} training examples")
  padding = max(1, train.images.shape[1] // 8)
  init, train_step, eval_step = _programs(
      space.name, arch, train.num_classes, C, N, epochs * steps, float(config.lr),
      float(config.momentum), bool(config.nesterov), float(config.weight_decay),
      float(config.label_smoothing), padding, tuple(sorted(net_kw.items())), optimizer,
      regular + (epochs,) if regular else ())
  _say = functools.partial(distributed.say, quiet=quiet)  # with the process id when several
  _say(f"training {config.arch} on {train.name} ({len(train)} images "
       f"{'x'.join(map(str, train.images.shape[1:]))}, test {len(test)}), C="
       f"{C}" + ("" if N is None else f" N={N}")
       + "".join(f" {k}={v}" for k, v in sorted(net_kw.items())) + f", {epochs} epochs x "
       f"{steps} steps of {batch}")

  key = jax.random.key(int(config.seed))
  _, k_train, k_data = jax.random.split(key, 3)
  k_init = init_key(int(config.seed))
  example = jnp.zeros((1,) + train.images.shape[1:], jnp.float32)
  wd = pathlib.Path(workdir) if workdir else None
  ckpt_dir = wd / "checkpoints" / io.config_hash(config, drop=("eval_every",)) if wd else None
  start, state, meta = io.load_checkpoint(ckpt_dir, jax.eval_shape(init, k_init, example))
  distributed.check_same_start(start, ckpt_dir)  # every process resumes from process 0's epoch
  history = meta["history"] if meta else []
  if state is None:
    state = init(k_init, example)
  else:
    _say(f"resuming from {ckpt_dir} after epoch {start}")
  rep = io.replicated()  # one sharding for everything: the step compiles once
  state = jax.device_put(state, rep)
  train_dev, test_dev = jax.device_put(train, rep), jax.device_put(test, rep)
  pad_value = jax.device_put(jnp.asarray(train.black), rep)
  plan_fn = jax.jit(data_lib.epoch_batches, static_argnums=(1, 2))
  eval_every = max(1, int(config.get("eval_every", 1)))
  last = epochs if stop_after is None else min(epochs, int(stop_after))
  for epoch in range(start, last):
    t0 = time.perf_counter()
    plan = plan_fn(jax.random.fold_in(k_data, epoch), len(train), batch)
    k_epoch = jax.random.fold_in(k_train, epoch)
    bar = io.progress(range(steps), f"epoch {epoch + 1}/{epochs}", "step", quiet)
    losses, accs = [], []
    for s in bar:
      state, (loss, acc) = train_step(state, jax.random.fold_in(k_epoch, s), train_dev, plan[s],
                                      pad_value)
      losses.append(loss)
      accs.append(acc)
      if not bar.disable and (s % 10 == 9 or s == steps - 1):
        bar.set_postfix(loss=f"{float(loss):.3f}")
    bar.close()
    rec = {"epoch": epoch + 1, "train_loss": float(np.mean(jax.device_get(losses))),
           "train_accuracy": float(np.mean(jax.device_get(accs)))}
    if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
      rec["test_accuracy"], rec["test_loss"] = evaluate(eval_step, state, test_dev, batch)
    rec["seconds"] = time.perf_counter() - t0
    history.append(rec)
    _say(f"epoch {epoch + 1}/{epochs}: train loss {rec['train_loss']:.4f} acc "
         f"{rec['train_accuracy']:.4f}" + (f", test acc {rec['test_accuracy']:.4f}"
                                            if "test_accuracy" in rec else "")
         + f" ({rec['seconds']:.1f} s)")
    if wd and distributed.is_writer():  # process 0 writes (the state is replicated)
      io.save_checkpoint(ckpt_dir, epoch + 1, state, {"history": history})
      _write(wd, _results(config, train, test, history, epochs))
  results = _results(config, train, test, history, epochs)
  results["state"] = state
  return results


def _results(config, train, test, history, epochs) -> dict:
  tests = [h.get("test_accuracy") for h in history]
  return {
      "task": "train",
      "arch": str(config.arch),
      "dataset": train.name,
      "num_train": len(train),
      "num_test": len(test),
      "epochs": epochs,
      "epochs_done": len(history),
      "test_accuracy": tests[-1] if history and len(history) == epochs else None,
      "train_loss": [h["train_loss"] for h in history],
      "train_accuracy": [h["train_accuracy"] for h in history],
      "test_accuracy_per_epoch": tests,
      "history": history,
      "wall_seconds": float(sum(h["seconds"] for h in history)),
      "config": to_dict(config),
  }


def _write(wd: pathlib.Path, results: dict) -> None:
  wd.mkdir(parents=True, exist_ok=True)
  io.write_json(wd / "results.json", results)
