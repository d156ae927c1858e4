"""The claim worker's entry point: connects with the encrypting data converter and runs the
claim workflow and its activities on one task queue (`cashback/temporal.py` builds them).

    python worker.py     # a worker on the configured services (production, docker-compose)

With CASHBACK_WORKER_METRICS_ADDRESS (host:port) it serves the Temporal SDK's metrics there
(`/metrics`, Prometheus' format), through the SDK's runtime telemetry.
"""

from __future__ import annotations

import asyncio
import signal

from cashback.config import Settings
from cashback.logs import configure_logging
from cashback.temporal import (  # re-exported: scripts and tests start workers from here
    TASK_QUEUE,
    ClaimActivities,
    claim_worker,
    connect,
    metrics_runtime,
    replayer,
    workflow_runner,
)
from cashback.wiring import build_activities, data_converter, open_database

__all__ = [
    "TASK_QUEUE",
    "ClaimActivities",
    "claim_worker",
    "connect",
    "main",
    "replayer",
    "workflow_runner",
]


async def main() -> None:
    """Run a worker against the configured Temporal server and services (CASHBACK_* settings)."""
    settings = Settings()
    configure_logging(settings.log_format)
    runtime = None
    if settings.worker_metrics_address:
        runtime = metrics_runtime(settings.worker_metrics_address)
    client = await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        data_converter(settings),
        runtime=runtime,
    )
    activities = build_activities(settings, open_database(settings))
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with claim_worker(
        client,
        activities,
        decision_key=settings.decision_key_bytes,
        task_queue=settings.task_queue,
        max_cached_workflows=settings.worker_max_cached_workflows,
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
