"""Sandbox CPU (issue 16): what the worker spends replaying a claim, in alternated rounds in one
process: the sandbox as temporalio 1.35 has it (it compiles its code strings at every call, and
unmarshals the workflow module's code for every workflow it loads); with its code strings
compiled once (`cashback.temporal.compile_sandbox_code_once`); and with the workflow module's
code object shared as well (`cashback.temporal.share_workflow_code`), as the worker runs.

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
import py_compile
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import _runner as sandbox_runner

from bench.load import table
from bench.stack import ROOT, machine
from cashback.temporal import _WorkflowCodeFinder, replayer

SDK = "temporalio's sandbox as it is"
HISTORIES = ROOT / "tests" / "workflows" / "histories"
PATHS = {
    "paid, confirmed details": "test_r10_confirmed_details_are_paid_without_a_request-0.json",
    "R16, three notices unanswered": (
        "test_r16_rejected_payment_three_unanswered_notices_cancel-0.json"
    ),
}


async def cpu_ms_per_replay(
    the_replayer: Replayer, history: WorkflowHistory, replays: int
) -> float:
    began = time.process_time()
    for _ in range(replays):
        await the_replayer.replay_workflow(history)
    return (time.process_time() - began) * 1000 / replays


async def main(replays: int, rounds: int) -> None:
    print(f"machine: {machine()}", flush=True)
    the_replayer = replayer()  # the worker's sandbox: both changes in place
    compiled_once = sandbox_runner._Instance._run_code
    if not getattr(compiled_once, "compiles_once", False):
        raise SystemExit("this temporalio's sandbox is not the one the wrapper was made for")
    as_is: Callable[..., Any] = compiled_once.__wrapped__  # type: ignore[attr-defined]
    finder = next(f for f in sys.meta_path if isinstance(f, _WorkflowCodeFinder))
    variants = {
        SDK: (as_is, False),
        "code strings compiled once": (compiled_once, False),
        "and the module's code shared (the worker)": (compiled_once, True),
    }
    # As the worker did before `share_workflow_code` (`cache_workflow_bytecode`): the module's
    # bytecode on disk, so that the SDK's imports unmarshal it rather than compile the source
    # where Python may not write bytecode (PYTHONDONTWRITEBYTECODE=1).
    bytecode = py_compile.compile(str(ROOT / "workflows" / "claim.py"), doraise=True)
    print(f"workflows/claim.py's bytecode written to {bytecode}", flush=True)
    histories = {
        name: WorkflowHistory.from_json(name, json.loads((HISTORIES / file).read_text()))
        for name, file in PATHS.items()
    }
    for history in histories.values():  # warm: imports, caches
        await cpu_ms_per_replay(the_replayer, history, 3)
    figures: dict[tuple[str, str], list[float]] = {}
    for round_ in range(rounds):
        for variant, (run_code, shared) in variants.items():
            sandbox_runner._Instance._run_code = run_code  # type: ignore[method-assign]
            if finder in sys.meta_path:
                sys.meta_path.remove(finder)
            if shared:
                sys.meta_path.insert(0, finder)
            for name, history in histories.items():
                ms = await cpu_ms_per_replay(the_replayer, history, replays)
                figures.setdefault((name, variant), []).append(ms)
                print(f"  round {round_ + 1}, {variant}, {name}: {ms:.1f} ms", flush=True)
    sandbox_runner._Instance._run_code = compiled_once  # type: ignore[method-assign]
    rows = []
    for name in histories:
        medians = [statistics.median(figures[(name, variant)]) for variant in variants]
        less = (medians[0] - medians[-1]) / medians[0]
        rows.append([name, replays * rounds, *medians, f"{less:.0%}"])
    print(f"\nCPU ms per replay, median of {rounds} rounds of {replays} replays, alternated:\n")
    print(table(["claim's path", "replays each", *variants, "less"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replays", type=int, default=40, help="replays per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.replays, options.rounds))
