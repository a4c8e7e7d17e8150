"""``python -m jaxnas.launch`` with tiny child commands (no JAX in the children): environment,
first non-zero exit code, the group killed when one fails, signals forwarded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from jaxnas import launch

PY = sys.executable


def test_children_get_their_environment_and_success_is_zero(tmp_path):
  code = ("import os, pathlib; e = os.environ; pathlib.Path(r'%s', e['JAXNAS_PROCESS_ID']).write_text("
          "' '.join([e['JAXNAS_COORDINATOR'], e['JAXNAS_NUM_PROCESSES'], e['JAX_PLATFORMS'], "
          "e['XLA_FLAGS']]))" % tmp_path)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=7 --xla_foo=1")
  assert launch.launch([PY, "-c", code], 3, 2, env=env) == 0
  rows = [(tmp_path / str(i)).read_text().split(" ", 3) for i in range(3)]
  assert len({r[0] for r in rows}) == 1 and rows[0][0].startswith("localhost:")
  int(rows[0][0].split(":")[1])  # a port number
  for coordinator, nproc, platforms, flags in rows:
    assert nproc == "3" and platforms == "cpu"
    # the device count is replaced, other flags are kept
    assert flags.split() == ["--xla_foo=1", "--xla_force_host_platform_device_count=2"]


def test_first_failure_kills_the_group_and_sets_the_exit_code(tmp_path):
  marker = tmp_path / "survived"
  # process 1 fails at once with 3; process 0 (and a grandchild it started) would run for a minute
  code = ("import os, subprocess, sys, time, pathlib\n"
          "if os.environ['JAXNAS_PROCESS_ID'] == '1': sys.exit(3)\n"
          "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
          "time.sleep(60); pathlib.Path(r'%s').write_text('x')\n" % marker)
  t0 = time.monotonic()
  rc = launch.launch([PY, "-c", code], 2, grace=2.0)
  assert rc == 3 and time.monotonic() - t0 < 20 and not marker.exists()


def test_signal_is_forwarded_to_every_process(tmp_path):
  code = ("import os, signal, sys, time, pathlib\n"
          "def h(s, f):\n"
          "  pathlib.Path(r'%s', os.environ['JAXNAS_PROCESS_ID']).write_text(str(s)); sys.exit(0)\n"
          "signal.signal(signal.SIGTERM, h)\n"
          "pathlib.Path(r'%s', 'ready' + os.environ['JAXNAS_PROCESS_ID']).write_text('')\n"
          "time.sleep(60)\n" % (tmp_path, tmp_path))
  p = subprocess.Popen([PY, "-m", "jaxnas.launch", "--num-processes", "2", "--", PY, "-c", code])
  deadline = time.monotonic() + 30
  while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
    assert time.monotonic() < deadline and p.poll() is None
    time.sleep(0.05)
  p.send_signal(signal.SIGTERM)
  assert p.wait(timeout=30) == 128 + signal.SIGTERM
  assert [(tmp_path / str(i)).read_text() for i in range(2)] == [str(int(signal.SIGTERM))] * 2


def test_bad_arguments_are_one_line_errors(capsys):
  assert launch.main(["--num-processes", "0", "--", PY, "-c", "pass"]) == 2
  assert launch.main(["--num-processes", "2"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 2 and "must be >= 1" in err[0] and "no command given" in err[1]


@pytest.mark.parametrize("rc", [0, 5])
def test_exit_code_of_a_single_process(rc):
  assert launch.launch([PY, "-c", f"import sys; sys.exit({rc})"], 1) == rc
