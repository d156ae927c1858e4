"""A webhook worker and the outbox's relay in a process of their own, as `python worker.py`
runs them (CASHBACK_* settings from the environment), for the test that kills one mid-delivery:
    python -m tests.webhooks.webhook_worker_process
"""

from __future__ import annotations

import asyncio
import signal

from cashback.config import Settings
from cashback.temporal import connect, webhook_worker
from cashback.wiring import build_webhook_activities, data_converter, open_database, webhook_relay


async def main() -> None:
    settings = Settings()
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, data_converter(settings)
    )
    database = open_database(settings)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with webhook_worker(
        client,
        build_webhook_activities(settings, database),
        task_queue=settings.webhook_task_queue,
    ):
        print("webhook worker running", flush=True)
        await webhook_relay(settings, database, client).run(stop, interval=0.2)


if __name__ == "__main__":
    asyncio.run(main())
