"""The benchmarks of issue 7 still run: each script (`bench/*.py`) runs end to end at a tiny size
against the real processes it starts (Temporal dev server, worker, API, mail; py-spy for the
profile) and prints the machine and its markdown table. The figures are printed, never
asserted: they are noise at this size (docs/performance.md has the real runs).

The scripts run at the same time (each on its own free ports and temporary folder), so
the whole module takes well under a minute even on the shared 2-core machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bench.stack import BIN, ROOT

pytestmark = pytest.mark.e2e

TINY = {
    "api_cpu": ["--claims", "5", "--rounds", "1", "--warmup", "2"],
    "baseline": ["--workflows", "3", "--concurrency", "1", "2"],
    "intake": ["--concurrency", "1", "2", "--claims", "3", "--per-client", "1",
               "--open-loop-seconds", "2", "--get-rate", "2"],
    "open_claims": ["--sizes", "4", "8", "--repeat", "1", "--approve", "0.5",
                    "--bank-details", "0.5", "--resellers", "2"],
    "profile": ["--seconds", "2", "--concurrency", "2", "--modes", "cpu", "--top", "6"],
    "read_model": ["--claims", "300", "--under-review", "50", "--requests", "3",
                   "--databases", "sqlite"],
    "sandbox": ["--replays", "2", "--rounds", "1"],
}  # fmt: skip
# CI runs four of the scripts (the suite's 10 minutes; sandbox needs no stack and takes
# seconds); CASHBACK_BENCH_SMOKE=all runs the other three as well (api_cpu, open_claims, and
# profile with py-spy).
SMOKE = (
    set(TINY)
    if os.environ.get("CASHBACK_BENCH_SMOKE") == "all"
    else {"baseline", "intake", "read_model", "sandbox"}
)
RULE = re.compile(r"\|( *:?-+:? *\|)+")  # | ---: | --- |
TIMEOUT = 240  # seconds per script; they take about 20 s each on a quiet machine


@dataclass
class Finished:
    returncode: int
    output: str
    seconds: float


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Finished]]:
    """Every script started at once, then awaited; killed if it outlives TIMEOUT."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CASHBACK_")}
    started = time.monotonic()
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for name, args in TINY.items()
        if name in SMOKE and (name != "profile" or (BIN / "py-spy").exists())
    }
    finished: dict[str, Finished] = {}
    try:
        for name, process in processes.items():
            try:
                left = max(1.0, TIMEOUT - (time.monotonic() - started))
                output, _ = process.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                output = _stop(process) + f"\n(stopped after {TIMEOUT} s)"
            finished[name] = Finished(process.returncode, output, time.monotonic() - started)
        yield finished
    finally:
        for process in processes.values():
            if process.poll() is None:
                _stop(process)


def _stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM first: the script stops the processes of its stack (`bench.stack.run`), which
    live in sessions of their own; SIGKILL to its group if it does not end in 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


@pytest.mark.parametrize("script", sorted(TINY))
def test_the_benchmark_runs_and_prints_its_table(script: str, runs: dict[str, Finished]) -> None:
    """The script exits 0 and prints the machine it ran on and a markdown table (header, rule,
    at least one row), as docs/performance.md shows it."""
    if script not in SMOKE:
        pytest.skip("CASHBACK_BENCH_SMOKE=all runs this script too")
    if script not in runs:
        pytest.skip("py-spy is not installed (pip install -e '.[dev]')")
    run = runs[script]
    print(f"\n--- python -m bench.{script} {' '.join(TINY[script])} ({run.seconds:.0f} s)")
    print(run.output)
    assert run.returncode == 0, run.output[-3000:]
    assert "machine: " in run.output
    lines = run.output.splitlines()
    rules = [i for i, line in enumerate(lines) if RULE.fullmatch(line)]
    assert rules, "no markdown table in the output"
    assert all(lines[i - 1].startswith("| ") and lines[i + 1].startswith("| ") for i in rules)
