"""Learning-curve predictors: early stopping at a low fidelity, SoTL/SoVL, and LCE.

These score architectures from (partial) training curves instead of encodings, so they are pure
functions of curve arrays rather than ``fit``/``predict`` models: ``curves: f32[N, T]`` with epoch
``t`` (0-based) in column ``t``; ``epoch`` says how many epochs have been observed. A higher score
means a better predicted final accuracy, so every score can go straight into the evaluator's rank
metrics. All are jittable and vmappable.

Curves come from the official NATS-Bench "simple" files (:func:`load_nats_curves`; the repo's
fixture holds 3 cells) or, for the 12-epoch low fidelity of NB201, from a benchmark table built
with ``--hp12-csv`` (``query(bench, arch, "val_accuracy", "cifar10", epoch=12)``).

References:
  Ru et al., "Speedy Performance Estimation for Neural Architecture Search" (SoTL), NeurIPS 2021.
  Domhan, Springenberg & Hutter, "Speeding up Automatic Hyperparameter Optimization of Deep Neural
  Networks by Extrapolation of Learning Curves" (LCE), IJCAI 2015.
  White et al., NeurIPS 2021 (early stopping, SoTL-E, LCE as NAS predictors).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import safe_pickle
from jaxnas.predictors import _base


def early_stopping(val_accuracy: jax.Array, epoch: int) -> jax.Array:
  """Validation accuracy after ``epoch`` epochs (the low-fidelity estimate): ``f32[N]``.

  Args:
    val_accuracy: ``f32[N, T]`` validation-accuracy curves.
    epoch: epochs trained (static, ``1 <= epoch <= T``).
  """
  _check_epoch(val_accuracy, epoch)
  return jnp.asarray(val_accuracy)[:, epoch - 1]


def sotl(train_losses: jax.Array, epoch: int, window: int | None = 1) -> jax.Array:
  """SoTL-E: minus the sum of the training losses over the last ``window`` observed epochs.

  ``window=None`` sums from epoch 1 (plain SoTL); Ru et al. find a window of ~1 epoch (SoTL-E)
  correlates best with final accuracy. Returns ``f32[N]`` (higher is better).
  """
  return _windowed_sum(train_losses, epoch, window)


def sovl(val_losses: jax.Array, epoch: int, window: int | None = 1) -> jax.Array:
  """SoVL: :func:`sotl` on validation losses."""
  return _windowed_sum(val_losses, epoch, window)


def _check_epoch(curves, epoch):
  t = jnp.asarray(curves).shape[-1]
  if not 1 <= epoch <= t:
    raise ValueError(f"epoch must be in 1..{t} (the curve length), got {epoch}")


def _windowed_sum(curves, epoch, window):
  _check_epoch(curves, epoch)
  start = 0 if window is None else max(epoch - int(window), 0)
  return -jnp.sum(jnp.asarray(curves, jnp.float32)[:, start:epoch], axis=-1)


def _pow3(params, t):
  # y(t) = c - a * t^-alpha (Domhan et al.'s pow3), with positivity through exp.
  c, log_a, log_alpha = params[0], params[1], params[2]
  return c - jnp.exp(log_a) * jnp.power(t, -jnp.exp(log_alpha))


def lce(curves: jax.Array, epoch: int, final_epoch: int, *, num_steps: int = 500,
        learning_rate: float = 0.05) -> jax.Array:
  """LCE with the ``pow3`` family: fits ``y(t) = c - a t^-alpha`` to the first ``epoch`` points
  of each curve by least squares and extrapolates to ``final_epoch``.

  Curves are scaled to the observed range before the fit so one learning rate suits accuracies in
  percent or fractions. This is the single most-used family of Domhan et al.'s 11-model MCMC
  ensemble; the full ensemble is not implemented.

  Args:
    curves: ``f32[N, T]`` validation-accuracy curves.
    epoch: observed epochs (static).
    final_epoch: epoch to extrapolate to.
    num_steps: Adam steps per curve (static).
    learning_rate: Adam step size.

  Returns:
    ``f32[N]`` extrapolated accuracies, in the curves' units.
  """
  _check_epoch(curves, epoch)
  if epoch < 3:
    raise ValueError(f"LCE fits 3 parameters and needs epoch >= 3, got {epoch}")
  obs = jnp.asarray(curves, jnp.float32)[:, :epoch]
  t = jnp.arange(1, epoch + 1, dtype=jnp.float32)

  def one(y):
    lo, hi = jnp.min(y), jnp.max(y)
    scale = jnp.maximum(hi - lo, 1e-6)
    ys = (y - lo) / scale
    p0 = jnp.array([1.0, 0.0, -0.5])
    loss = lambda p: jnp.mean(jnp.square(_pow3(p, t) - ys))
    p, _ = _base.adam_scan(loss, p0, num_steps, learning_rate)
    return _pow3(p, jnp.asarray(final_epoch, jnp.float32)) * scale + lo

  return jax.vmap(one)(obs)


def load_nats_curves(folder, dataset: str = "cifar10-valid", hp: str = "200",
                     space="nasbench201") -> dict:
  """Reads per-epoch curves from NATS-Bench tss "simple" files (``NNNNNN.pickle.pbz2``).

  Host-side. Curves are averaged over the training seeds present.

  Args:
    folder: a ``NATS-tss-v1_0-3ffb9-simple`` directory (full or a fixture subset).
    dataset: NATS dataset key (``cifar10-valid`` has the validation split).
    hp: the training schedule, ``"12"`` or ``"200"`` epochs.
    space: the search space of the files' ``arch_str`` (a registered name or a
      :class:`~jaxnas.spaces.SearchSpace`); NATS-Bench tss is NB201's topology space.

  Returns:
    dict with ``official_index: int32[A]``, ``ids: int32[A]`` (jaxnas dense ids),
    ``train_losses``, ``train_accuracy``, ``val_losses``, ``val_accuracy``: ``f32[A, T]``.

  Raises:
    FileNotFoundError: when ``folder`` holds no ``.pickle.pbz2`` architecture files.
    ValueError: when ``dataset``/``hp`` are missing from a file;
      ``safe_pickle.UnsafePickleError`` (a ``ValueError``) when a file names a global beyond
      ``safe_pickle.NATS_BENCH`` (nothing from it is called).
  """
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  space = spaces.get_space(space) if isinstance(space, str) else space
  folder = pathlib.Path(folder)
  files = sorted(p for p in folder.glob("*.pickle.pbz2") if p.name[0].isdigit())
  if not files:
    raise FileNotFoundError(f"no NATS-Bench NNNNNN.pickle.pbz2 files in {folder}")
  out = {k: [] for k in ("official_index", "ids", "train_losses", "train_accuracy", "val_losses",
                         "val_accuracy")}
  for f in files:
    d = safe_pickle.load(  # restricted unpickler: users download these files, no code may run
        f, allowed=safe_pickle.NATS_BENCH, what="NATS-Bench file")
    if hp not in d:
      raise ValueError(f"{f} has no {hp!r}-epoch results; present: {sorted(d)}")
    e = d[hp]
    runs = [r for (name, _), r in e["all_results"].items() if name == dataset]
    if not runs:
      raise ValueError(f"{f} has no results for dataset {dataset!r}")
    eval_key = "x-valid" if dataset == "cifar10-valid" else "ori-test"

    def curve(field, key=None):
      cs = []
      for r in runs:
        vals = r[field]
        n = r["epochs"]
        cs.append([vals[f"{key}@{i}"] if key else vals[i] for i in range(n)])
      return np.mean(np.asarray(cs, np.float64), 0)

    out["official_index"].append(int(e["arch_index"]))
    out["ids"].append(int(space.to_id(space.from_string(e["arch_str"]))))
    out["train_losses"].append(curve("train_losses"))
    out["train_accuracy"].append(curve("train_acc1es"))
    out["val_losses"].append(curve("eval_losses", eval_key))
    out["val_accuracy"].append(curve("eval_acc1es", eval_key))
  return {k: np.asarray(v, np.int32 if k in ("official_index", "ids") else np.float32)
          for k, v in out.items()}
