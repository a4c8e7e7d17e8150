"""Local multi-process launcher: ``python -m jaxnas.launch --num-processes N
[--devices-per-process K] -- python -m jaxnas.run --config ...``.

Starts N copies of the command on this machine, each a process of one ``jax.distributed`` run:
a coordinator on a free localhost port, ``JAXNAS_COORDINATOR`` / ``JAXNAS_NUM_PROCESSES`` /
``JAXNAS_PROCESS_ID`` set for :func:`jaxnas.distributed.initialize`, and K CPU devices per
process (``JAX_PLATFORMS=cpu``, ``XLA_FLAGS=--xla_force_host_platform_device_count=K``). It is for
testing multi-process behaviour on a laptop and in CI; on a cluster use the cluster's launcher
(``srun``, ``mpirun``, one command per TPU host): see ``docs/scaling.md``.

Behaviour:
  * SIGINT / SIGTERM / SIGHUP received by the launcher are forwarded to every process (group);
  * when one process exits non-zero (or is killed), the others are terminated (SIGTERM, then
    SIGKILL after ``--grace`` seconds), whole process groups included;
  * the exit code is the first non-zero one (a process killed by signal S counts as 128 + S),
    0 when all succeed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def free_port() -> int:
  """A TCP port on localhost that was free a moment ago."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def child_env(base: dict, *, coordinator: str, num_processes: int, process_id: int,
              devices_per_process: int, cpu: bool = True) -> dict:
  """The environment of process ``process_id``."""
  env = dict(base)
  env["JAXNAS_COORDINATOR"] = coordinator
  env["JAXNAS_NUM_PROCESSES"] = str(num_processes)
  env["JAXNAS_PROCESS_ID"] = str(process_id)
  if cpu:
    env["JAX_PLATFORMS"] = "cpu"
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    flags.append(f"--xla_force_host_platform_device_count={devices_per_process}")
    env["XLA_FLAGS"] = " ".join(flags)
  return env


def _code(rc: int) -> int:
  return 128 - rc if rc < 0 else rc  # Popen gives -S for a child killed by signal S


def launch(command: list[str], num_processes: int, devices_per_process: int = 1, *,
           cpu: bool = True, grace: float = 5.0, env: dict | None = None) -> int:
  """Runs ``command`` as ``num_processes`` local processes; returns the exit code (see module)."""
  if num_processes < 1 or devices_per_process < 1:
    raise ValueError(f"--num-processes and --devices-per-process must be >= 1, got "
                     f"{num_processes} and {devices_per_process}")
  if not command:
    raise ValueError("no command given: python -m jaxnas.launch --num-processes N -- COMMAND ...")
  coordinator = f"localhost:{free_port()}"
  base = dict(os.environ if env is None else env)
  procs = []
  for i in range(num_processes):
    e = child_env(base, coordinator=coordinator, num_processes=num_processes, process_id=i,
                  devices_per_process=devices_per_process, cpu=cpu)
    # own session: a signal to the group reaches the command's children too
    procs.append(subprocess.Popen(command, env=e, start_new_session=True))

  def send(sig):
    for p in procs:
      if p.poll() is None:
        try:
          os.killpg(p.pid, sig)
        except ProcessLookupError:
          pass

  received = []

  def forward(signum, frame):  # noqa: ARG001
    del frame
    received.append(signum)
    send(signum)

  old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
  first_bad = 0
  try:
    while True:
      codes = [p.poll() for p in procs]
      bad = [_code(c) for c in codes if c is not None and c != 0]
      if bad and not first_bad:
        first_bad = bad[0]
        send(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
          time.sleep(0.05)
        send(signal.SIGKILL)
      if all(c is not None for c in (p.poll() for p in procs)):
        break
      time.sleep(0.05)
  finally:
    for s, h in old.items():
      signal.signal(s, h)
    for p in procs:
      if p.poll() is None:
        try:
          os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
          pass
        p.wait()
  if first_bad:
    return first_bad
  if received:
    return 128 + received[0]
  return 0


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  if "--" in argv:
    i = argv.index("--")
    own, command = argv[:i], argv[i + 1:]
  else:
    own, command = argv, []
  p = argparse.ArgumentParser(prog="python -m jaxnas.launch",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--num-processes", type=int, required=True)
  p.add_argument("--devices-per-process", type=int, default=1,
                 help="CPU devices per process (XLA_FLAGS=--xla_force_host_platform_device_count)")
  p.add_argument("--no-cpu", action="store_true",
                 help="leave JAX_PLATFORMS/XLA_FLAGS alone (e.g. one GPU per process)")
  p.add_argument("--grace", type=float, default=5.0,
                 help="seconds between SIGTERM and SIGKILL when one process fails")
  args = p.parse_args(own)
  try:
    return launch(command, args.num_processes, args.devices_per_process, cpu=not args.no_cpu,
                  grace=args.grace)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
