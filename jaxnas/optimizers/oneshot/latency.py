"""Hardware-aware one-shot NAS: a per-(edge, op) cost lookup table and an expected-cost
regulariser for DARTS and GDAS.

A cell's cost (latency, energy, FLOPs, params) is modelled as additive over its edges:
``cost(ops) ~ intercept + sum_e lut[e, ops[e]]``. :func:`fit_lut` fits ``lut: f32[E, O]`` by least
squares over the ``E * O`` (edge, op) indicators plus an intercept (FBNet / ProxylessNAS-style
lookup tables, fitted instead of measured per op) and reports the fit's R^2; each edge's row is
shifted so that its cheapest op costs 0 (the model is only identified up to such shifts, which move
into the intercept). For NB201 the measured latencies come from HW-NAS-Bench-360
(:func:`nb201_lut` over a combination such as ``pi5/litert/cifar100``), or from any metric of a
table (:func:`table_lut`, e.g. NB201's ``params``).

The regulariser (:func:`cost_regulariser`) is ``weight * (E[cost] - min) / (max - min)``, the
expected cost of the supernet's op weights ``E[cost] = sum_e sum_o w[e, o] * lut[e, o]`` (DARTS:
``w = softmax(alpha)``; GDAS: its hard Gumbel sample, so the value is the sampled cell's predicted
cost and the gradient goes straight through to the probabilities) scaled to ``[0, weight]`` by the
cheapest and dearest cells the table allows. It is added to the validation loss the alphas
descend (``op_regulariser`` of :func:`~jaxnas.optimizers.oneshot.darts` and
:func:`~jaxnas.optimizers.oneshot.gdas`); weight 0 adds nothing at all (no regulariser is built),
so results without it are unchanged bit for bit.

References:
  Cai, Zhu & Han, "ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware",
  ICLR 2019 (expected latency of the mixed op as a differentiable loss term).
  Wu et al., "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural
  Architecture Search", CVPR 2019 (latency lookup tables).
  Li et al., "HW-NAS-Bench: Hardware-Aware Neural Architecture Search Benchmark", ICLR 2021.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class CostLUT:
  """A fitted additive cost model (host numpy; hashable through :meth:`key`).

  Attributes:
    table: ``f32[E, O]`` cost of op ``o`` on edge ``e``, each row's minimum 0.
    intercept: the cost of the cheapest cell (every edge at its cheapest op).
    r2: coefficient of determination of the fit on the cells it was fitted on.
    rmse: root-mean-square residual, in the cost's unit.
    name: what was fitted (``pi5/litert/cifar100/lat_ms_median``).
    unit: the cost's unit (``ms``).
  """

  table: np.ndarray
  intercept: float
  r2: float
  rmse: float
  name: str = ""
  unit: str = ""

  @property
  def span(self) -> float:
    """Dearest minus cheapest predicted cell (sum of each edge's largest entry)."""
    return float(np.sum(np.max(self.table, axis=-1)))

  def predict(self, ops) -> np.ndarray:
    """Predicted cost of cells ``ops: int[..., E]`` (host)."""
    ops = np.asarray(ops)
    e = np.arange(self.table.shape[0])
    return self.intercept + np.sum(self.table[e, ops], axis=-1)

  def key(self) -> tuple:
    """A hashable form (for cached compiles): ``(rows as tuples, intercept)``."""
    return (tuple(tuple(float(v) for v in row) for row in self.table), float(self.intercept))

  def to_json(self) -> dict:
    return {"name": self.name, "unit": self.unit, "r2": self.r2, "rmse": self.rmse,
            "intercept": self.intercept, "table": np.round(self.table, 6).tolist()}


def indicators(ops, num_ops: int) -> np.ndarray:
  """``f64[N, E * O]``: one-hot (edge, op) indicators of cells ``ops: int[N, E]``."""
  ops = np.asarray(ops)
  n, e = ops.shape
  x = np.zeros((n, e, num_ops))
  x[np.arange(n)[:, None], np.arange(e)[None, :], ops] = 1.0
  return x.reshape(n, e * num_ops)


def fit_lut(ops, y, num_ops: int, *, name: str = "", unit: str = "") -> CostLUT:
  """Least squares of ``y`` on the (edge, op) indicators plus an intercept.

  Args:
    ops: ``int[N, E]`` op index per edge of each cell.
    y: ``f[N]`` measured cost (NaN rows are dropped).
    num_ops: ``O``.
    name, unit: recorded in the result.

  Returns:
    :class:`CostLUT` (rows shifted to minimum 0, R^2 and RMSE over the fitted cells).
  """
  ops, y = np.asarray(ops), np.asarray(y, np.float64)
  ok = np.isfinite(y)
  if ok.sum() < 2:
    raise ValueError(f"fitting a cost table for {name or 'the cost'} needs >= 2 finite values, "
                     f"got {int(ok.sum())}")
  ops, y = ops[ok], y[ok]
  x = np.concatenate([np.ones((len(y), 1)), indicators(ops, num_ops)], axis=1)
  coef, *_ = np.linalg.lstsq(x, y, rcond=None)  # minimum norm: the indicators sum to 1 per edge
  e = ops.shape[1]
  table = coef[1:].reshape(e, num_ops)
  pred = x @ coef
  ss_res = float(np.sum((y - pred) ** 2))
  ss_tot = float(np.sum((y - y.mean()) ** 2))
  r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
  mins = table.min(axis=-1)
  return CostLUT(table=(table - mins[:, None]).astype(np.float32),
                 intercept=float(coef[0] + mins.sum()), r2=r2,
                 rmse=float(np.sqrt(ss_res / len(y))), name=name, unit=unit)


def _cell_ops(space) -> np.ndarray | None:
  """``int32[N, E]``: every cell's op per edge by dense id (NB201: ``[15625, 6]``); None for a
  space whose architectures are not one op per edge."""
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  ops = getattr(space.from_id(jnp.arange(space.num_archs, dtype=jnp.int32)), "ops", None)
  return None if ops is None or np.ndim(ops) != 2 else np.asarray(ops)


def table_lut(bench, metric: str, dataset: str, space=None) -> CostLUT:
  """A cost table fitted to ``metric`` of a dense table over an enumerable cell space (NB201:
  ``latency``, ``params``, or ``pi5/litert/cifar100/lat_ms_median`` of a table built with
  ``--hw-nas-bench-360``); one-line ValueError for an unknown metric or dataset."""
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  bench.metric(metric)
  d = bench.dataset_index(dataset)
  space = space if space is not None else spaces.get_space(bench.space_name)
  ops = _cell_ops(space) if not bench.partial and space.num_archs is not None else None
  if ops is None:
    raise ValueError(f"a cost table is fitted over every cell of a dense cell-space table; "
                     f"{bench.name} ({space.name}) is not one")
  y = np.asarray(bench.tables[metric][d], np.float64)
  if y.ndim == 2:
    y = np.nanmean(y, axis=-1)
  unit = bench.metric(metric).unit_for(bench.datasets[d])
  return fit_lut(ops, y, space.num_ops, name=metric, unit=unit)


def nb201_lut(combo: str, metric: str = "lat_ms_median", csv_path=None, nats_csv=None,
              hw=None) -> CostLUT:
  """The per-(edge, op) table of a HW-NAS-Bench-360 combination (``pi5/litert/cifar100``), fitted
  over all 15,625 NB201 cells. ``hw``: the combination view (``hw_nas_bench.load()``; loaded from
  ``csv_path`` / ``nats_csv``, default the shared data, when None)."""
  from jaxnas.benchmarks import hw_nas_bench  # pylint: disable=import-outside-toplevel
  hw_nas_bench.check_combo(combo)
  hw_nas_bench.check_metric(metric)
  if hw is None:
    hw = hw_nas_bench.load(csv_path, nats_csv)
  lut = table_lut(hw, metric, combo)
  return dataclasses.replace(lut, name=f"{combo}/{metric}")


def expected_cost(op_weights, table):
  """``f32[]``: ``sum_e sum_o op_weights[e, o] * table[e, o]`` (jax; the cost above the
  intercept of the mixed or sampled cell)."""
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  return jnp.sum(op_weights * jnp.asarray(table, jnp.float32))


def cost_regulariser(lut: CostLUT, weight: float) -> Callable | None:
  """``op_weights f32[E, O] -> f32[]``: ``weight * expected_cost / span`` (the predicted cost
  above the cheapest cell, as a fraction of the dearest's: in ``[0, weight]`` for a
  distribution); None for weight 0 (nothing added, results unchanged bit for bit)."""
  weight = float(weight)
  if weight < 0:
    raise ValueError(f"the cost weight must be >= 0, got {weight}")
  if weight == 0:
    return None
  scale = weight / max(lut.span, 1e-12)
  table = np.asarray(lut.table, np.float32)

  def reg(op_weights):
    return scale * expected_cost(op_weights, table)

  return reg


__all__ = ["CostLUT", "cost_regulariser", "expected_cost", "fit_lut", "indicators", "nb201_lut",
           "table_lut"]
