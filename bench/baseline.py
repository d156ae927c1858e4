"""Baseline for the benchmarks (issue 7): what Temporal itself costs on this machine.

A minimal workflow with as many activities as a claim's happy path (13 no-op activities and one
local activity), started and completed against a dev server configured as `make run` configures
it (`bench.stack`: a SQLite file with WAL pragmas, the search attributes). It prints the machine
and a markdown table; it asserts nothing.

    python -m bench.baseline [--workflows 300] [--concurrency 1 10 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():  # the sandbox re-imports this module
    from bench.load import table
    from bench.stack import machine, run, running_stack

CLAIM_ACTIVITIES = 13  # a claim's happy path, counted in its recorded history


@activity.defn(name="bench.noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="Baseline")
class BaselineWorkflow:
    @workflow.run
    async def run(self, activities: int) -> int:
        await workflow.execute_local_activity(noop, 0, start_to_close_timeout=timedelta(seconds=10))
        for step in range(activities):
            await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=10)
            )
        return activities


async def measure(client: Client, workflows: int, concurrency: int) -> float:
    """Completed workflows per second, `concurrency` in flight at a time."""
    queue = f"bench-{uuid.uuid4()}"
    limit = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with limit:
            await client.execute_workflow(
                BaselineWorkflow.run, CLAIM_ACTIVITIES, id=f"bench-{uuid.uuid4()}", task_queue=queue
            )

    async with Worker(client, task_queue=queue, workflows=[BaselineWorkflow], activities=[noop]):
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(workflows)))
        return workflows / (time.perf_counter() - started)


async def main(workflows: int, concurrencies: list[int]) -> None:
    print(f"machine: {machine()}", flush=True)
    async with running_stack(worker=False, api=False, mail=False) as stack:
        client = await Client.connect(stack.temporal_address)
        print(
            f"\nbaseline: {CLAIM_ACTIVITIES} activities + 1 local activity per workflow, "
            f"{workflows} workflows per row, the worker in this process\n"
        )
        rows = []
        for concurrency in concurrencies:
            rows.append([concurrency, workflows, await measure(client, workflows, concurrency)])
        print(table(["concurrency", "workflows", "completed/s"], rows), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    options = parser.parse_args()
    run(main(options.workflows, options.concurrency))
