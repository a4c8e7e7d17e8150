"""Multi-process runs on JAX's own distributed runtime (``jax.distributed``).

One SPMD program runs over the devices of all processes: every process executes the same Python,
global arrays span every device, XLA moves the data. jaxnas adds only what a driver needs:

* :func:`initialize` starts the runtime when the config (``config.distributed``:
  ``coordinator_address``, ``num_processes``, ``process_id``) or the environment
  (``JAXNAS_COORDINATOR``, ``JAXNAS_NUM_PROCESSES``, ``JAXNAS_PROCESS_ID``, or what JAX itself
  auto-detects on Slurm, Open MPI and TPU pods: ``config.distributed.auto = True`` or
  ``JAXNAS_DISTRIBUTED=auto``) asks for it; otherwise it does nothing, and a single process runs
  exactly as before.
* :func:`is_writer`: process 0 writes the outputs (results, chunks, checkpoints, figures).
* :func:`log_prefix` / :func:`say`: every process logs with its id (``[p1/2]``) when there are
  several.
* :func:`seed_mesh`, :func:`global_array`, :func:`gather`: the seed axis of black-box searches
  (or the architecture axis of zero-cost scoring) sharded over all devices of all processes,
  built from host data every process holds, and gathered back to host numpy on every process.
* :func:`agree`: a host value decided by process 0 (e.g. which resume chunks exist), the same on
  every process.

``python -m jaxnas.launch`` starts N local processes with these environment variables set.
"""

from __future__ import annotations

import os

import jax
import numpy as np

ENV_COORDINATOR = "JAXNAS_COORDINATOR"
ENV_NUM_PROCESSES = "JAXNAS_NUM_PROCESSES"
ENV_PROCESS_ID = "JAXNAS_PROCESS_ID"
ENV_AUTO = "JAXNAS_DISTRIBUTED"  # "auto": jax.distributed.initialize() with auto-detection


def _settings(config=None) -> dict | None:
  """The ``jax.distributed.initialize`` arguments the config or environment asks for (config
  keys win), ``{}`` for JAX's auto-detection, None for a plain single-process run."""
  dist = None
  if config is not None and hasattr(config, "get"):
    dist = config.get("distributed", None)
  get = (lambda k, d=None: dist.get(k, d)) if dist is not None else (lambda k, d=None: d)
  addr = get("coordinator_address") or os.environ.get(ENV_COORDINATOR) or None
  nproc = get("num_processes") or os.environ.get(ENV_NUM_PROCESSES) or None
  pid = get("process_id")
  if pid is None or pid == "" or (pid == -1):
    pid = os.environ.get(ENV_PROCESS_ID)
  auto = bool(get("auto", False)) or os.environ.get(ENV_AUTO, "").lower() in ("1", "auto", "true")
  if addr is None and nproc is None and not auto:
    return None
  out = {}
  if addr is not None:
    out["coordinator_address"] = str(addr)
  if nproc is not None:
    out["num_processes"] = int(nproc)
  if pid is not None and pid != "":
    out["process_id"] = int(pid)
  if "num_processes" in out and out["num_processes"] < 1:
    raise ValueError(f"distributed num_processes must be >= 1, got {out['num_processes']}")
  if "process_id" in out and "num_processes" in out and not (
      0 <= out["process_id"] < out["num_processes"]):
    raise ValueError(f"distributed process_id must be in [0, {out['num_processes']}), got "
                     f"{out['process_id']}")
  if not auto and out.get("num_processes", 1) > 1 and (
      "coordinator_address" not in out or "process_id" not in out):
    raise ValueError("a multi-process run needs coordinator_address, num_processes and "
                     f"process_id (config.distributed.* or {ENV_COORDINATOR}, "
                     f"{ENV_NUM_PROCESSES}, {ENV_PROCESS_ID}); or set config.distributed.auto "
                     f"(or {ENV_AUTO}=auto) for JAX's Slurm/MPI/TPU auto-detection")
  return out


_STARTED = []  # whether this module started the runtime (a list: no rebinding of a global)


def initialize(config=None) -> bool:
  """Starts ``jax.distributed`` when ``config`` or the environment asks for it.

  Args:
    config: a ConfigDict (or None); its optional ``distributed`` section has
      ``coordinator_address`` (``host:port`` of process 0), ``num_processes``, ``process_id``
      and ``auto`` (use JAX's Slurm / Open MPI / TPU auto-detection). Unset keys fall back to
      ``JAXNAS_COORDINATOR``, ``JAXNAS_NUM_PROCESSES``, ``JAXNAS_PROCESS_ID`` and
      ``JAXNAS_DISTRIBUTED=auto``.

  Returns:
    True when the runtime is (now) running with more than one process, False otherwise (nothing
    asked for, or one process: nothing changes). Calling it again is harmless.

  Raises:
    ValueError: an incomplete or inconsistent setting (one line, naming the keys), before JAX
      starts anything.
  """
  settings = _settings(config)
  if settings is None:
    return jax.process_count() > 1
  if settings.get("num_processes") == 1 and "coordinator_address" not in settings:
    return False
  if not _STARTED and not _is_initialized():
    jax.distributed.initialize(**settings)
    _STARTED.append(True)
  return jax.process_count() > 1


def _is_initialized() -> bool:
  try:
    return jax.distributed.is_initialized()
  except AttributeError:  # pragma: no cover - older JAX
    return False


def process_index() -> int:
  return jax.process_index()


def process_count() -> int:
  return jax.process_count()


def is_writer() -> bool:
  """True on the one process that writes outputs (process 0; always True on a single process)."""
  return jax.process_index() == 0


def log_prefix() -> str:
  """``"[p<id>/<count>] "`` when there are several processes, else ``""``."""
  n = jax.process_count()
  return f"[p{jax.process_index()}/{n}] " if n > 1 else ""


def say(msg: str, quiet: bool) -> None:
  """A progress line on stdout prefixed with the process id (several processes), unless quiet."""
  if not quiet:
    print(log_prefix() + msg, flush=True)


def seed_mesh(axis: str = "seeds"):
  """A one-axis mesh over every device of every process (a global mesh)."""
  return jax.sharding.Mesh(np.array(jax.devices()), (axis,))


def batch_sharding(axis: str = "seeds"):
  """The sharding of an array whose leading axis is split over all devices of all processes."""
  mesh = seed_mesh(axis)
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))


def global_array(host: np.ndarray, sharding=None) -> jax.Array:
  """A global ``jax.Array`` from a host array that EVERY process holds in full (seed keys, op
  weights): each process puts its own devices' slices. The leading axis must be a multiple of
  ``jax.device_count()``."""
  sharding = batch_sharding() if sharding is None else sharding
  host = np.asarray(host)
  return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def gather(tree):
  """Host numpy copies of a pytree of (possibly global, sharded) arrays, identical on every
  process (``multihost_utils.process_allgather`` when several processes, else ``np.asarray``)."""
  if jax.process_count() == 1:
    return jax.tree.map(np.asarray, tree)
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

  def one(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)

  return jax.tree.map(one, tree)


def agree(value):
  """``value`` as process 0 has it, on every process (a small host pytree of numbers/bools)."""
  if jax.process_count() == 1:
    return value
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  return jax.tree.map(np.asarray, multihost_utils.broadcast_one_to_all(value))


def sync(name: str) -> None:
  """A barrier over all processes (no-op on one), e.g. before process 0 reads what it wrote."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    multihost_utils.sync_global_devices(name)


def unshared_message(path) -> str:
  """The one-line error of a process that cannot read what process 0 wrote."""
  return (f"{path}: process 0 resumes from it but process {jax.process_index()} cannot read it; "
          "a multi-process run needs its workdir on storage every process reads (NFS, Lustre, "
          "a GCS FUSE mount)")


def check_same_start(start: int, path) -> None:
  """Raises the one-line :func:`unshared_message` error when this process would resume from
  another epoch than process 0 (it does not see the same checkpoints)."""
  if jax.process_count() > 1 and int(agree(np.int32(start))) != start:
    raise FileNotFoundError(unshared_message(path))


def padded_size(n: int) -> int:
  """``n`` rounded up to a multiple of the global device count (what a sharded axis needs)."""
  d = jax.device_count()
  return -(-n // d) * d
