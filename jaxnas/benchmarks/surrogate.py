"""Surrogate benchmarks: a query is a jittable function of the space's encoding.

A :class:`SurrogateBenchmark` holds a params pytree (traced: pass the benchmark into jitted code as
an argument, as a table) and, static, an ``apply`` function, the encoding kind it reads and the
metrics it declares. ``lookup(bench, space, arch, metric, dataset)`` returns
``apply(params, space.encode(arch, encoding), key, dataset_index)``, where ``key`` is the metric's
table key (``"val_accuracy"`` or ``"val_accuracy@12"``) and ``dataset_index`` an int (both
static). ``bm.query``, ``loops.run`` and the black-box driver use it like a table; it answers for
every architecture (``contains`` is True), has no training-seed noise (``seed`` is ignored), and
has no file format: its ``apply`` is code (save ``params`` with any pytree checkpointing).

>>> params = fit_linear(space, space.all_archs(), {"val_accuracy": values}, "onehot")
>>> sur = make_surrogate(space, linear_apply, params, encoding="onehot", datasets=("cifar10",),
...                 metrics=(Metric("val_accuracy", higher_is_better=True, unit="%"),))
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.benchmarks import benchmark as _b


@flax.struct.dataclass
class SurrogateBenchmark(_b._Declared):  # pylint: disable=protected-access
  """A benchmark whose query is ``apply(params, encoding, key, dataset_index) -> f32[...]``.

  Attributes:
    params: the model's parameters (a pytree; traced).
    apply: ``(params, f32[..., E], metric_key: str, dataset_index: int) -> f32[...]``, jittable.
    encoding: the ``space.encode`` kind it reads.
    outputs: the metric keys it predicts (``"<metric>"`` or ``"<metric>@<epoch>"``).
    name, datasets, source, metrics, space, dataset_kind, dataset_aliases: as a table's.
  """

  params: Any
  apply: Callable = flax.struct.field(pytree_node=False, default=None)
  encoding: str = flax.struct.field(pytree_node=False, default="")
  outputs: tuple[str, ...] = flax.struct.field(pytree_node=False, default=())
  name: str = flax.struct.field(pytree_node=False, default="surrogate")
  datasets: tuple[str, ...] = flax.struct.field(pytree_node=False, default=())
  source: str = flax.struct.field(pytree_node=False, default="")
  metrics: tuple[_b.Metric, ...] = flax.struct.field(pytree_node=False, default=())
  space: str = flax.struct.field(pytree_node=False, default="")
  dataset_kind: str = flax.struct.field(pytree_node=False, default="dataset")
  dataset_aliases: tuple[tuple[str, str], ...] = flax.struct.field(pytree_node=False, default=())

  kind = "surrogate"
  index_kind = "surrogate"
  partial = False

  def metric_keys(self) -> tuple[str, ...]:
    return tuple(sorted(self.outputs))

  def predict(self, space, arch, key: str, dataset_index: int) -> jax.Array:
    """``f32[...]``: the prediction of metric key ``key`` on dataset ``dataset_index``."""
    x = space.encode(arch, self.encoding)
    return jnp.asarray(self.apply(self.params, x, key, dataset_index), jnp.float32)


def make_surrogate(space, apply: Callable, params, *, encoding: str, metrics: Sequence[_b.Metric],
              datasets: Sequence[str], outputs: Sequence[str] | None = None,
              name: str | None = None, dataset_kind: str = "dataset",
              dataset_aliases: Mapping[str, str] | None = None,
              source: str = "") -> SurrogateBenchmark:
  """Makes and checks a :class:`SurrogateBenchmark` for ``space`` (one-line ValueErrors before any
  search compiles: an unknown encoding, an output no metric declares, an ``apply`` that does not
  return one value per architecture).

  Args:
    outputs: the metric keys ``apply`` answers (None: every declared metric at its final epoch).
  """
  space.encoding_dim(encoding)  # unknown encoding: a ValueError naming the valid ones
  outputs = tuple(outputs) if outputs is not None else tuple(m.name for m in metrics)
  names = {m.name for m in metrics}
  for k in outputs:
    if k.split("@")[0] not in names:
      raise ValueError(f"surrogate output {k!r} has no declared metric; declared: "
                       f"{', '.join(sorted(names))}")
  declared = []
  for m in metrics:
    lower = {int(k.split("@")[1]) for k in outputs if k.startswith(m.name + "@")}
    final = {m.final_epoch} if m.name in outputs and m.final_epoch is not None else set()
    declared.append(dataclasses.replace(m, fidelities=tuple(sorted(lower | final)), per_seed=False))
  bench = SurrogateBenchmark(
      params=params, apply=apply, encoding=encoding, outputs=outputs,
      name=name or f"surrogate-{space.name}", datasets=tuple(datasets), source=source,
      metrics=tuple(declared), space=space.name, dataset_kind=dataset_kind,
      dataset_aliases=tuple(sorted((str(k).lower(), str(v))
                                   for k, v in dict(dataset_aliases or {}).items())))
  x = jax.ShapeDtypeStruct((2, space.encoding_dim(encoding)), jnp.float32)
  for k in outputs:
    shape = jax.eval_shape(lambda p, x, k=k: apply(p, x, k, 0), params, x).shape
    if tuple(shape) != (2,):
      raise ValueError(f"surrogate apply returns shape {list(shape)} for 2 architectures' "
                       f"{encoding} encodings and output {k!r}; it must return one value each [2]")
  return bench


def linear_apply(params, x, key: str, dataset_index: int) -> jax.Array:
  """A linear surrogate: ``x @ params[key]["w"][dataset_index] + params[key]["b"][dataset_index]``
  (``w: f32[D, E]``, ``b: f32[D]``)."""
  p = params[key]
  return x @ p["w"][dataset_index] + p["b"][dataset_index]


def fit_linear(space, archs, values: Mapping[str, np.ndarray], encoding: str,
               ridge: float = 1e-3) -> dict:
  """Least-squares (ridge) params of :func:`linear_apply`: ``values[key]`` is ``f32[D, N]`` for
  the ``N`` architectures ``archs``; NaN values are left out of the fit."""
  x = np.asarray(space.encode(archs, encoding), np.float64)
  x1 = np.concatenate([x, np.ones((x.shape[0], 1))], 1)
  params = {}
  for key, v in values.items():
    v = np.asarray(v, np.float64)
    ws, bs = [], []
    for row in v:
      ok = np.isfinite(row)
      a = x1[ok]
      sol = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ row[ok])
      ws.append(sol[:-1])
      bs.append(sol[-1])
    params[key] = {"w": jnp.asarray(np.stack(ws), jnp.float32),
                   "b": jnp.asarray(np.asarray(bs), jnp.float32)}
  return params
