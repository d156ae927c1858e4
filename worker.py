"""The claim worker's entry point: connects with the encrypting data converter and runs the
claim workflow and its activities on one task queue (`cashback/temporal.py` builds them), the
webhook delivery workflows on their own (`<task queue>-webhooks`) and the relay that starts
them from the outbox of claim events.

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
    webhook_worker,
    workflow_runner,
)
from cashback.wiring import (
    build_activities,
    build_webhook_activities,
    data_converter,
    open_database,
    webhook_relay,
)

__all__ = [
    "TASK_QUEUE",
    "ClaimActivities",
    "claim_worker",
    "connect",
    "main",
    "replayer",
    "webhook_worker",
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
    database = open_database(settings)
    activities = build_activities(settings, database)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with (
        claim_worker(
            client,
            activities,
            decision_key=settings.decision_key_bytes,
            task_queue=settings.task_queue,
            max_cached_workflows=settings.worker_max_cached_workflows,
            max_activity_threads=settings.worker_activity_threads,
            workflow_task_pollers=settings.worker_workflow_task_pollers,
            activity_task_pollers=settings.worker_activity_task_pollers,
        ),
        webhook_worker(
            client,
            build_webhook_activities(settings, database),
            task_queue=settings.webhook_task_queue,
        ),
    ):
        # Issue 17: the outbox's relay starts the webhook deliveries of new claim events.
        await webhook_relay(settings, database, client).run(stop)


if __name__ == "__main__":
    asyncio.run(main())
