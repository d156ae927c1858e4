"""Issue 12: `make run` keeps its claim worker alive. A killed worker is started again within
5 s, the restart is logged and var/worker.pid names the live process; a worker that keeps
dying stops the command with a clear message instead of a restart loop."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child stays a zombie until the run command reaps it: not alive.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _kill_the_worker(stack: Stack) -> int:
    """SIGKILLs the worker var/worker.pid names; the pid of the new live worker, within 5 s."""
    pid_file = stack.data_dir / "worker.pid"
    killed = int(pid_file.read_text())
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = pid_file.read_text() if pid_file.exists() else ""
        if text and int(text) != killed and _alive(int(text)):
            return int(text)
        time.sleep(0.1)
    raise AssertionError(f"no new worker within 5 s: {stack.run_log.read_text()}")


def test_a_killed_worker_is_restarted_and_one_that_keeps_dying_stops_the_command(
    tmp_path: Path,
) -> None:
    with running_stack(tmp_path) as stack:
        assert stack.process is not None
        first = int((stack.data_dir / "worker.pid").read_text())
        assert _alive(first)
        second = _kill_the_worker(stack)
        log = stack.run_log.read_text()
        assert f"the claim worker (process {first}) stopped" in log, log
        assert f"restarted as process {second}" in log, log

        for _ in range(3):  # deaths 2 to 4 within the minute: still restarted
            _kill_the_worker(stack)
        os.kill(int((stack.data_dir / "worker.pid").read_text()), signal.SIGKILL)  # the 5th
        assert stack.process.wait(timeout=30) == 1
        assert "The claim worker stopped 5 times within 60 s" in stack.run_log.read_text()
        assert not (stack.data_dir / "worker.pid").exists()
