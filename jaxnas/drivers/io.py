"""What every driver writes and shares: atomic JSON, config hashes, msgpack checkpoints, the
device mesh, and figures.

Figures are ``matplotlib.figure.Figure`` objects with their own Agg canvas: nothing here touches
pyplot's global state or the backend, so a notebook that calls a driver keeps its own backend and
open figures.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.config import to_dict


def say(msg: str, quiet: bool) -> None:
  """A progress line on stdout (flushed), unless ``quiet``."""
  if not quiet:
    print(msg, flush=True)


# ----------------------------------------------------------------------------- files


def write_json(path, obj) -> None:
  """Writes ``obj`` as indented JSON atomically (a temporary file, then ``os.replace``), so a
  reader never sees half a file; values JSON cannot hold are written as ``str``."""
  path = pathlib.Path(path)
  tmp = path.with_suffix(path.suffix + ".tmp")
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=1, default=str)
  os.replace(tmp, path)


def config_hash(config, drop=()) -> str:
  """Short SHA-1 of a config minus its top-level ``drop`` keys: resumable state (checkpoints,
  seed chunks) is only reused by a run of the same config."""
  d = to_dict(config)
  for k in drop:
    d.pop(k, None)
  return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


def save_checkpoint(folder: pathlib.Path, epoch: int, state, meta: dict, keep: int = 1) -> None:
  """Writes ``folder/epoch_XXXX.msgpack`` (state pytree + JSON meta) atomically; keeps the last
  ``keep`` checkpoints."""
  from flax import serialization  # pylint: disable=import-outside-toplevel
  folder.mkdir(parents=True, exist_ok=True)
  blob = serialization.msgpack_serialize({
      "state": serialization.to_state_dict(jax.device_get(state)),
      "meta": json.dumps(meta)})
  path = folder / f"epoch_{epoch:04d}.msgpack"
  tmp = path.with_suffix(".tmp")
  tmp.write_bytes(blob)
  os.replace(tmp, path)
  for old in sorted(folder.glob("epoch_*.msgpack"))[:-keep]:
    old.unlink()


def load_checkpoint(folder: pathlib.Path | None, template):
  """The last checkpoint in ``folder`` as ``(epoch, state, meta)`` with the structure of
  ``template`` (e.g. ``jax.eval_shape`` of ``init``), or ``(0, None, None)`` when there is none."""
  from flax import serialization  # pylint: disable=import-outside-toplevel
  if folder is None:
    return 0, None, None
  files = sorted(folder.glob("epoch_*.msgpack"))
  if not files:
    return 0, None, None
  raw = serialization.msgpack_restore(files[-1].read_bytes())
  state = serialization.from_state_dict(template, raw["state"])
  state = jax.tree_util.tree_map(jnp.asarray, state)
  return int(files[-1].stem.split("_")[1]), state, json.loads(raw["meta"])


# ----------------------------------------------------------------------------- devices


@functools.lru_cache(maxsize=None)
def mesh():
  """A one-axis (``"data"``) mesh over all local devices (cached: one per process)."""
  from jax.sharding import Mesh  # pylint: disable=import-outside-toplevel
  return Mesh(np.array(jax.devices()), ("data",))


def mesh_constraint():
  """Shards a batch's leading axis over all local devices (data parallel; BN sees the whole
  batch, as on one device)."""
  from jax.sharding import NamedSharding, PartitionSpec  # pylint: disable=import-outside-toplevel
  spec = NamedSharding(mesh(), PartitionSpec("data"))
  return lambda x: jax.lax.with_sharding_constraint(x, spec)


def replicated():
  """The sharding that puts a full copy on every local device (state, datasets). Everything the
  jitted steps consume and return uses it, so the step compiles once (a state fresh from ``init``
  and one returned by the step must not differ in sharding, or jit would compile again)."""
  from jax.sharding import NamedSharding, PartitionSpec  # pylint: disable=import-outside-toplevel
  return NamedSharding(mesh(), PartitionSpec())


# ----------------------------------------------------------------------------- figures


def figure(*, figsize=(6, 4), nrows: int = 1, ncols: int = 1, **subplots_kw):
  """A new ``(Figure, axes)`` drawn by its own Agg canvas, outside pyplot (no backend switch,
  no figure registry to leak into)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  fig = Figure(figsize=figsize)
  FigureCanvasAgg(fig)
  return fig, fig.subplots(nrows, ncols, **subplots_kw)


def save_figure(fig, path, dpi: int = 120) -> None:
  """Writes ``fig`` (tight layout) to ``path``; the format follows the suffix."""
  fig.tight_layout()
  fig.savefig(path, dpi=dpi)


def optional_benchmark(config, space):
  """The table of ``config.benchmark`` (``name`` ``""``: the space's own; ``path`` ``""``: the
  embedded file) checked to index ``space`` (a one-line ValueError otherwise); None when that
  benchmark has no embedded table and no path is given (drivers then run without lookups)."""
  from jaxnas import benchmarks as bm  # pylint: disable=import-outside-toplevel
  from jaxnas import loops  # pylint: disable=import-outside-toplevel

  name = config.benchmark.get("name") or space.name
  path = config.benchmark.get("path") or None
  if name not in bm.BENCHMARKS:
    raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(bm.BENCHMARKS)}")
  if path is None and bm.BENCHMARKS[name]["embedded"] is None:
    return None
  bench = bm.load(name, path)
  loops.check_space(bench, space)
  return bench


class _Silent:
  """What :func:`progress` returns without tqdm or when quiet: iterates, ignores the bar calls."""

  disable = True

  def __init__(self, items):
    self._items = items

  def __iter__(self):
    return iter(self._items)

  def set_postfix(self, **kwargs):
    del kwargs

  def close(self):
    pass


def progress(items, desc: str, unit: str, quiet: bool = False, leave: bool = False):
  """A tqdm progress bar over ``items`` (kept on screen after it ends when ``leave``), or a silent stand-in when ``quiet`` or tqdm
  is missing. Both have ``disable`` (True when nothing is shown: skip work done only for the bar,
  such as reading a loss off the device), ``set_postfix`` and ``close``."""
  if quiet:
    return _Silent(items)
  try:
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  except ImportError:  # pragma: no cover
    return _Silent(items)
  return tqdm(items, desc=desc, unit=unit, leave=leave)
