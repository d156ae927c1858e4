"""`make run` keeps its claim worker alive: a worker that dies is started again within a second
or so, the restart is logged and the pid file names the live process; a worker that keeps dying
stops the command with a clear message instead of a restart loop."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("cashback.run")

Process = subprocess.Popen[bytes]


class WorkerKeepsDying(SystemExit):
    """The worker died `deaths` times within `window` seconds: something outside it is wrong."""

    def __init__(self, deaths: int, window: float, log_file: Path) -> None:
        super().__init__(
            f"The claim worker stopped {deaths} times within {window:.0f} s, so `make run` stops "
            f"too. Its log says why: {log_file}"
        )


class WorkerSupervisor:
    def __init__(
        self,
        start: Callable[[], Process],
        pid_file: Path,
        log_file: Path,
        *,
        deaths: int = 5,
        window: float = 60,
        interval: float = 0.5,
    ) -> None:
        self._start = start
        self.pid_file = pid_file
        self.log_file = log_file
        self.deaths = deaths
        self.window = window
        self.interval = interval
        self._died_at: deque[float] = deque(maxlen=deaths)
        self.process = self._start()
        self._write_pid()

    async def watch(self) -> None:
        """Restarts the worker whenever it has exited; raises WorkerKeepsDying when it died
        `deaths` times within `window` seconds. Runs until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            code = self.process.poll()
            if code is None:
                continue
            self._died_at.append(time.monotonic())
            if len(self._died_at) == self.deaths and (
                self._died_at[-1] - self._died_at[0] <= self.window
            ):
                self.pid_file.unlink(missing_ok=True)
                raise WorkerKeepsDying(self.deaths, self.window, self.log_file)
            dead = self.process.pid
            self.process = self._start()
            log.warning(
                "the claim worker (process %d) stopped with exit code %d; restarted as "
                "process %d (log %s)",
                dead, code, self.process.pid, self.log_file,
            )  # fmt: skip
            self._write_pid()  # after the log line, so whoever sees the new pid finds the line

    def _write_pid(self) -> None:
        """Replaces the pid file at once: a reader never sees it empty or half written."""
        written = self.pid_file.with_suffix(".pid.new")
        written.write_text(str(self.process.pid))
        written.replace(self.pid_file)

    def stop(self, timeout: float = 15) -> None:
        """Terminates the worker (killed if it does not stop in `timeout` seconds); the pid
        file goes with it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.pid_file.unlink(missing_ok=True)
