"""jaxnas's own DARTS surrogate benchmark: a jittable predictor fitted on labelled DARTS
architectures, saved as a benchmark file whose query is the predictor on ``space.encode``.

NAS-Bench-301's own surrogates (XGBoost / GIN ensembles, with a pinned ConfigSpace and their own
download) cannot be had here. This is **not NB301**: it is whatever model you fit, on whatever
points you give it, and it is exactly as good as its cross-validated rank correlation (``cv_tau``,
stored in the file and printed by the build command; ``docs/darts_surrogate.md`` gives the figures
on the 725 labelled architectures of NASLib's ``zc_nasbench301``).

Build, then search with any black-box optimizer:

  python -m jaxnas.benchmarks build darts --labels ../shared/data/nb301/naslib_labeled_725.json \
      --predictor gp --out darts_gp.npz
  python -m jaxnas.run --config configs/blackbox.py:re --config.search_space=darts \
      --config.benchmark.path=darts_gp.npz --workdir runs/darts_re

Labels (:func:`read_labels`): NASLib's ``{"data": {"cifar10": {compact: {"val_accuracy": ...}}}}``
(the shared 725 file) or a JSON object ``{arch: accuracy}`` / ``{arch: {"val_accuracy": ...}}``, a
JSON list of ``[arch, accuracy]`` or ``{"arch": ..., "val_accuracy": ...}``, or a CSV with two
columns ``arch,accuracy`` (an optional header row). ``arch`` is NASLib's compact text (the 725
keys) or DARTS's ``Genotype(...)`` text (:func:`jaxnas.spaces.darts.from_string`).

The file (``.npz``, deterministic bytes) holds ``kind = "surrogate"``, the predictor's name, its
constructor arguments (JSON), the encoding, the fitted state's leaves (``param_000`` ...), the
training architectures (compact) and targets, and the cross-validated Kendall tau. :func:`load`
rebuilds the predictor from its name and arguments, restores the state (its structure from
``jax.eval_shape`` of ``fit`` on the stored training size) and returns a
:class:`~jaxnas.benchmarks.surrogate.SurrogateBenchmark` answering ``val_accuracy`` on
``cifar10``: ``predict(state, encode(arch))[0]``, jitted with the search.
"""

from __future__ import annotations

import csv
import io as _io
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.benchmarks import benchmark as _b
from jaxnas.benchmarks.surrogate import SurrogateBenchmark, make_surrogate
from jaxnas.spaces import darts

NAME = "darts"
BUILD_HINT = ("python -m jaxnas.benchmarks build darts --labels FILE(.json|.csv) "
              "[--predictor gp] --out FILE.npz")
FORMAT = "jaxnas-surrogate-1"
DATASET = "cifar10"
METRIC = _b.Metric("val_accuracy", higher_is_better=True, unit="%")
DEFAULT_PREDICTOR = "gp"
DEFAULT_ENCODING = {"gcn": "graph", "gcn_ensemble": "graph"}  # others: adjacency_one_hot
NUM_FOLDS = 5


# ----------------------------------------------------------------------------- labels


def _stack(archs) -> darts.Arch:
  return darts.Arch(normal=jnp.asarray(np.stack([np.asarray(a.normal) for a in archs])),
                    reduce=jnp.asarray(np.stack([np.asarray(a.reduce) for a in archs])))


def _rows(path: pathlib.Path):
  """``[(arch text, value, where)]`` from a labels file (JSON or CSV); one-line errors."""
  text = path.read_text()
  if path.suffix.lower() == ".csv" or not text.lstrip()[:1] in "[{":
    rows = []
    for n, row in enumerate(csv.reader(_io.StringIO(text)), 1):
      if not row or not "".join(row).strip():
        continue
      if len(row) < 2:
        raise ValueError(f"labels file {path} line {n}: expected 'arch,accuracy', got {row!r}")
      arch, value = ",".join(row[:-1]), row[-1]  # the compact text itself holds commas
      if n == 1:
        try:
          float(value)
        except ValueError:
          continue  # a header row
      rows.append((arch, value, f"line {n}"))
    return rows
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"labels file {path} is not valid JSON ({e.msg} at line {e.lineno})") from None
  if isinstance(data, dict) and "data" in data and isinstance(data["data"], dict):
    data = data["data"]
    if DATASET in data:
      data = data[DATASET]
    elif len(data) == 1:
      data = next(iter(data.values()))
  if isinstance(data, dict):
    items = list(data.items())
  elif isinstance(data, list):
    items = []
    for i, r in enumerate(data):
      if isinstance(r, dict) and "arch" in r:
        items.append((r["arch"], r))
      elif isinstance(r, (list, tuple)) and len(r) == 2:
        items.append((r[0], r[1]))
      else:
        raise ValueError(f"labels file {path} entry {i}: expected [arch, accuracy] or "
                         f"{{\"arch\": ..., \"val_accuracy\": ...}}, got {str(r)[:80]!r}")
  else:
    raise ValueError(f"labels file {path}: expected a JSON object or list of labelled "
                     f"architectures, got {type(data).__name__}")
  rows = []
  for i, (arch, v) in enumerate(items):
    if isinstance(v, dict):
      if "val_accuracy" not in v:
        raise ValueError(f"labels file {path} entry {i}: no 'val_accuracy' in {str(v)[:80]!r}")
      v = v["val_accuracy"]
    rows.append((arch if isinstance(arch, str) else str(arch), v, f"entry {i}"))
  return rows


def read_labels(path) -> tuple[darts.Arch, np.ndarray, list[str]]:
  """``(Arch[N], accuracy f32[N], compact strings)`` from a labels file (module docstring).

  Raises:
    FileNotFoundError: no such file (naming the build command).
    ValueError: one line naming the file, the entry and what is expected.
  """
  p = pathlib.Path(path)
  if not p.is_file():
    raise FileNotFoundError(f"labels file {p} not found; {BUILD_HINT}")
  archs, ys, keys = [], [], []
  for arch, value, where in _rows(p):
    try:
      a = darts.from_string(arch)
    except ValueError as e:
      raise ValueError(f"labels file {p} {where}: {e}") from None
    try:
      y = float(value)
    except (TypeError, ValueError):
      y = float("nan")
    if not np.isfinite(y):
      raise ValueError(f"labels file {p} {where}: accuracy {value!r} is not a finite number")
    archs.append(a)
    ys.append(y)
    keys.append(darts.to_string(a))
  if len(archs) < NUM_FOLDS:
    raise ValueError(f"labels file {p} has {len(archs)} labelled architectures; at least "
                     f"{NUM_FOLDS} are needed to fit and cross-validate a surrogate")
  return _stack(archs), np.asarray(ys, np.float32), keys


# ----------------------------------------------------------------------------- fitting


def _predictors():
  from jaxnas import predictors  # pylint: disable=import-outside-toplevel
  return predictors


def jittable_predictors() -> tuple[str, ...]:
  """The registered predictors a surrogate can use (jittable: queried inside the search)."""
  pl = _predictors()
  return tuple(n for n in pl.PREDICTORS if n not in pl.HOST_SIDE and not n.startswith("omni"))


def build_predictor(name: str, encoding: str | None = None, **hparams):
  """``(predictor, encoding, kwargs)`` for a DARTS surrogate: predictor ``name`` of the registry
  on ``encoding`` (default: ``graph`` for the GCNs, ``adjacency_one_hot`` otherwise)."""
  pl = _predictors()
  if name not in pl.PREDICTORS:
    raise ValueError(f"unknown predictor {name!r}; valid for a surrogate: "
                     f"{', '.join(jittable_predictors())}")
  if name not in jittable_predictors():
    raise ValueError(f"predictor {name!r} runs on the host (not jittable), so it cannot be a "
                     f"surrogate queried inside a search; valid: {', '.join(jittable_predictors())}")
  encoding = encoding or DEFAULT_ENCODING.get(name, "adjacency_one_hot")
  dim = pl.encoding_size(encoding, darts.SPACE)
  kwargs = dict(pl.predictor_kwargs(name, darts.SPACE, encoding), **hparams)
  return pl.PREDICTORS[name](dim, **kwargs), encoding, kwargs


def _apply_fn(predictor):
  def apply(params, x, key, dataset_index):
    del key, dataset_index  # one metric (val_accuracy) on one dataset
    flat = x.reshape((-1, x.shape[-1]))  # predictors take [M, D]; lookups any batch shape
    return predictor.predict(params, flat)[0].reshape(x.shape[:-1])
  return apply


def fit(archs, y, predictor: str = DEFAULT_PREDICTOR, encoding: str | None = None, seed: int = 0,
        **hparams):
  """``(state, predictor, encoding, kwargs)``: ``predictor`` fitted on all of ``(archs, y)``."""
  p, encoding, kwargs = build_predictor(predictor, encoding, **hparams)
  x = darts.SPACE.encode(archs, encoding)
  state = jax.jit(p.fit)(jax.random.key(seed), x, jnp.asarray(y, jnp.float32))
  return state, p, encoding, kwargs


def cross_validate(archs, y, predictor: str = DEFAULT_PREDICTOR, encoding: str | None = None,
                   seed: int = 0, num_folds: int = NUM_FOLDS, **hparams) -> dict:
  """``{"kendall_tau": mean over folds, "folds": [tau per fold], "pooled": tau of all held-out
  predictions}``: ``num_folds``-fold cross-validation (a seeded shuffle). Any registered predictor
  (host-side ones too: this is an evaluation, not a surrogate)."""
  from jaxnas.evaluate import metrics  # pylint: disable=import-outside-toplevel
  pl = _predictors()
  encoding = encoding or DEFAULT_ENCODING.get(predictor, "adjacency_one_hot")
  dim = pl.encoding_size(encoding, darts.SPACE)
  kwargs = dict(pl.predictor_kwargs(predictor, darts.SPACE, encoding), **hparams)
  p = pl.PREDICTORS[predictor](dim, **kwargs)
  x = np.asarray(darts.SPACE.encode(archs, encoding), np.float32)
  y = np.asarray(y, np.float32)
  order = np.random.default_rng(seed).permutation(len(y))
  folds = np.array_split(order, num_folds)
  fit_fn = jax.jit(p.fit) if p.jittable else p.fit
  pred_fn = jax.jit(p.predict) if p.jittable else p.predict
  held = np.zeros_like(y)
  taus = []
  for k, test in enumerate(folds):
    train = np.setdiff1d(order, test)
    state = fit_fn(jax.random.key(seed * 1000 + k), x[train], y[train])
    mean = np.asarray(pred_fn(state, x[test])[0], np.float32)
    held[test] = mean
    taus.append(float(metrics.kendall_tau(y[test], mean)))
  return {"kendall_tau": float(np.mean(taus)), "folds": taus,
          "pooled": float(metrics.kendall_tau(y, held)), "encoding": encoding,
          "num_points": int(len(y))}


# ----------------------------------------------------------------------------- the file


def _leaves_shapes(predictor, encoding: str, num_train: int):
  x = jax.ShapeDtypeStruct((num_train, darts.SPACE.encoding_dim(encoding)), jnp.float32)
  y = jax.ShapeDtypeStruct((num_train,), jnp.float32)
  return jax.eval_shape(predictor.fit, jax.random.key(0), x, y)


def build(labels, predictor: str = DEFAULT_PREDICTOR, encoding: str | None = None, seed: int = 0,
          cv: bool = True, **hparams) -> dict[str, np.ndarray]:
  """The arrays of a surrogate file: ``predictor`` fitted on the labels file ``labels``, with its
  ``NUM_FOLDS``-fold Kendall tau (``cv=False``: not computed, stored as NaN)."""
  archs, y, _ = read_labels(labels)
  state, p, encoding, kwargs = fit(archs, y, predictor, encoding, seed, **hparams)
  tau = (cross_validate(archs, y, predictor, encoding, seed, **hparams)["kendall_tau"] if cv
         else float("nan"))
  leaves = jax.tree.leaves(state)
  arrays = {
      "name": np.array(NAME), "kind": np.array("surrogate"), "format": np.array(FORMAT),
      "space": np.array(darts.NAME), "predictor": np.array(predictor),
      "predictor_kwargs": np.array(json.dumps(kwargs, sort_keys=True)),
      "encoding": np.array(encoding), "seed": np.int64(seed),
      "train_normal": np.asarray(archs.normal, np.int8),
      "train_reduce": np.asarray(archs.reduce, np.int8),
      "train_y": np.asarray(y, np.float32), "cv_tau": np.float64(tau),
      "num_folds": np.int64(NUM_FOLDS), "labels_file": np.array(pathlib.Path(labels).name),
      "num_params": np.int64(len(leaves)),
  }
  for i, leaf in enumerate(leaves):
    arrays[f"param_{i:03d}"] = np.asarray(leaf)
  return arrays


def save(path, arrays: dict[str, np.ndarray]) -> pathlib.Path:
  """Writes a surrogate file (deterministic bytes, as :func:`jaxnas.benchmarks.io.save`)."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  from jaxnas.benchmarks.io import write_npz  # pylint: disable=import-outside-toplevel
  return write_npz(path, arrays)


def is_surrogate_file(path) -> bool:
  """Whether ``path`` is a readable ``.npz`` declaring ``kind = "surrogate"``."""
  try:
    with np.load(path, allow_pickle=False) as z:
      return "kind" in z.files and str(z["kind"]) == "surrogate"
  except Exception:  # pylint: disable=broad-except
    return False


def load(path) -> SurrogateBenchmark:
  """The :class:`SurrogateBenchmark` in a file written by :func:`build` / the build command.

  Raises:
    FileNotFoundError: a missing file (naming the build command).
    ValueError: a corrupt file or one of another kind (naming the build command), in one line.
  """
  p = pathlib.Path(path)
  if not p.is_file():
    raise FileNotFoundError(f"surrogate benchmark {p} not found; build it with: {BUILD_HINT}")
  try:
    with np.load(p, allow_pickle=False) as z:
      a = {k: z[k] for k in z.files}
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"surrogate benchmark {p} is corrupt or not a jaxnas file "
                     f"({type(e).__name__}); rebuild it with: {BUILD_HINT}") from None
  need = ("kind", "format", "space", "predictor", "predictor_kwargs", "encoding", "train_y",
          "num_params")
  missing = [k for k in need if k not in a]
  if missing or str(a.get("kind", "")) != "surrogate":
    raise ValueError(f"{p} is not a jaxnas surrogate benchmark (lacks "
                     f"{', '.join(missing) or 'kind=surrogate'}); rebuild it with: {BUILD_HINT}")
  if str(a["format"]) != FORMAT or str(a["space"]) != darts.NAME:
    raise ValueError(f"{p} is a {a['format']} surrogate of search space {a['space']}; this jaxnas "
                     f"reads {FORMAT} for {darts.NAME}; rebuild it with: {BUILD_HINT}")
  kwargs = json.loads(str(a["predictor_kwargs"]))
  name, encoding = str(a["predictor"]), str(a["encoding"])
  pl = _predictors()
  if name not in pl.PREDICTORS:
    raise ValueError(f"{p} uses predictor {name!r}, unknown to this jaxnas; rebuild it with: "
                     f"{BUILD_HINT}")
  predictor = pl.PREDICTORS[name](pl.encoding_size(encoding, darts.SPACE), **kwargs)
  shapes = _leaves_shapes(predictor, encoding, int(a["train_y"].shape[0]))
  leaves = [a.get(f"param_{i:03d}") for i in range(int(a["num_params"]))]
  want = jax.tree.leaves(shapes)
  if (any(v is None for v in leaves) or len(want) != len(leaves)
      or any(tuple(w.shape) != v.shape for w, v in zip(want, leaves))):
    raise ValueError(f"{p}: the stored {name} state does not match this jaxnas's {name} "
                     f"predictor; rebuild it with: {BUILD_HINT}")
  params = jax.tree.unflatten(jax.tree.structure(shapes),
                              [jnp.asarray(v, w.dtype) for v, w in zip(leaves, want)])
  tau = float(a.get("cv_tau", np.nan))
  source = (f"jaxnas surrogate ({name} on {encoding}) fitted on {int(a['train_y'].shape[0])} "
            f"labelled DARTS architectures ({a.get('labels_file', '?')}); {int(a.get('num_folds', 5))}"
            f"-fold Kendall tau {tau:.3f}; not NAS-Bench-301's surrogate")
  return make_surrogate(darts.SPACE, _apply_fn(predictor), params, encoding=encoding,
                        metrics=(METRIC,), datasets=(DATASET,), name=NAME, source=source,
                        dataset_aliases={"cifar10-valid": DATASET})


__all__ = ["BUILD_HINT", "DATASET", "METRIC", "NAME", "build", "build_predictor",
           "cross_validate", "fit", "is_surrogate_file", "jittable_predictors", "load",
           "read_labels", "save"]
