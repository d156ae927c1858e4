"""Baseline for the benchmarks (issue 7): what Temporal itself costs on this machine.

A minimal workflow with as many activities as a claim's happy path (13 no-op activities and one
local activity), started and completed against a dev server configured as `make run` configures
it (a SQLite file with WAL pragmas). It prints a table and the machine; it asserts nothing.

    python -m bench.baseline [--workflows 300] [--concurrency 1 10 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

CLAIM_ACTIVITIES = 13  # a claim's happy path, counted in its recorded history
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"


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


def start_dev_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """The dev server as `make run` starts it: a file database with WAL pragmas."""
    return subprocess.Popen(
        [
            str(TEMPORAL_CLI), "server", "start-dev", "--ip", "127.0.0.1",
            "--port", str(port), "--headless",
            "--db-filename", str(folder / "temporal.sqlite3"),
            "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
            "--log-level", "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def connect(target: str) -> Client:
    for _ in range(120):
        try:
            return await Client.connect(target)
        except RuntimeError:
            await asyncio.sleep(0.25)
    raise RuntimeError(f"no Temporal server at {target}")


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


def machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"temporalio {__import__('temporalio').__version__}"
    )


async def main(workflows: int, concurrencies: list[int], port: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = start_dev_server(Path(folder), port)
        try:
            client = await connect(f"127.0.0.1:{port}")
            print(f"baseline: {CLAIM_ACTIVITIES} activities + 1 local activity per workflow")
            print(f"machine: {machine()}")
            print(f"{'concurrency':>11} {'workflows':>9} {'completed/s':>11}")
            for concurrency in concurrencies:
                rate = await measure(client, workflows, concurrency)
                print(f"{concurrency:>11} {workflows:>9} {rate:>11.1f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--port", type=int, default=7399)
    options = parser.parse_args()
    asyncio.run(main(options.workflows, options.concurrency, options.port))
