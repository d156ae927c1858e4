"""Sandbox CPU (issue 16): what the worker spends replaying a claim, with the sandbox compiling
its code strings at every call (temporalio 1.35 as it is) and once
(`cashback.temporal.compile_sandbox_code_once`), in alternated rounds in one process.

A replay runs what a worker does when a claim evicted from its cache wakes up (an approval, a
timer, bank details), and every workflow activation of a live claim enters the sandbox the same
way; the figures are CPU time of this process (`time.process_time`) per replay. Recorded
histories of the test suite are used: a claim paid to confirmed details without a human step,
and R16's path of three unanswered notices.

    python -m bench.sandbox [--replays 40] [--rounds 3]

It prints the machine and a markdown table; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.worker.workflow_sandbox import _runner as sandbox_runner

from bench.load import table
from bench.stack import ROOT, machine
from cashback.temporal import compile_sandbox_code_once, replayer

HISTORIES = ROOT / "tests" / "workflows" / "histories"
PATHS = {
    "paid, confirmed details": "test_r10_confirmed_details_are_paid_without_a_request-0.json",
    "R16, three notices unanswered": (
        "test_r16_rejected_payment_three_unanswered_notices_cancel-0.json"
    ),
}


async def cpu_ms_per_replay(history: WorkflowHistory, replays: int) -> float:
    the_replayer = replayer()
    began = time.process_time()
    for _ in range(replays):
        await the_replayer.replay_workflow(history)
    return (time.process_time() - began) * 1000 / replays


async def main(replays: int, rounds: int) -> None:
    print(f"machine: {machine()}", flush=True)
    if not compile_sandbox_code_once():
        raise SystemExit("this temporalio's sandbox is not the one the wrapper was made for")
    compiled_once = sandbox_runner._Instance._run_code
    as_is: Callable[..., Any] = compiled_once.__wrapped__  # type: ignore[attr-defined]
    variants = {"compiled at every call (SDK)": as_is, "compiled once": compiled_once}
    histories = {
        name: WorkflowHistory.from_json(name, json.loads((HISTORIES / file).read_text()))
        for name, file in PATHS.items()
    }
    for history in histories.values():  # warm: imports, caches
        await cpu_ms_per_replay(history, 3)
    figures: dict[tuple[str, str], list[float]] = {}
    for round_ in range(rounds):
        for variant, run_code in variants.items():
            sandbox_runner._Instance._run_code = run_code  # type: ignore[method-assign]
            for name, history in histories.items():
                ms = await cpu_ms_per_replay(history, replays)
                figures.setdefault((name, variant), []).append(ms)
                print(f"  round {round_ + 1}, {variant}, {name}: {ms:.1f} ms", flush=True)
    sandbox_runner._Instance._run_code = compiled_once  # type: ignore[method-assign]
    rows = []
    for name in histories:
        before = statistics.median(figures[(name, "compiled at every call (SDK)")])
        after = statistics.median(figures[(name, "compiled once")])
        rows.append([name, replays * rounds, before, after, f"{(before - after) / before:.0%}"])
    print(f"\nCPU ms per replay, median of {rounds} rounds of {replays} replays, alternated:\n")
    print(table(["claim's path", "replays each", "SDK as is", "compiled once", "less"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replays", type=int, default=40, help="replays per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.replays, options.rounds))
