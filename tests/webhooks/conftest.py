"""The webhook tests: the API (tests/api/conftest.py) with webhook endpoints allowed on
loopback (the development setting) and fast retries, a webhook worker and the outbox's relay
running beside the claim worker, and receivers on loopback. No test sends traffic beyond
loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from cashback.temporal import webhook_worker
from cashback.wiring import build_webhook_activities, webhook_relay
from tests.api.conftest import api, on_both_databases, postgres_schema  # noqa: F401
from tests.api.harness import Api
from tests.webhooks.receiver import Receiver

WEBHOOK_SETTINGS: dict[str, Any] = {
    "webhook_allow_loopback": True,
    "webhook_retry_initial_seconds": 0.25,
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(WEBHOOK_SETTINGS)


@pytest.fixture
async def deliveries(api: Api) -> AsyncIterator[Api]:  # noqa: F811
    """The webhook worker and the relay (a round every 0.2 s), as `python worker.py` runs them."""
    settings = api.services.settings
    database = api.services.database
    stop = asyncio.Event()
    async with webhook_worker(
        api.env.client,
        build_webhook_activities(settings, database),
        task_queue=settings.webhook_task_queue,
    ):
        relay = asyncio.create_task(
            webhook_relay(settings, database, api.env.client).run(stop, interval=0.2)
        )
        try:
            yield api
        finally:
            stop.set()
            await relay


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.up()
    try:
        yield running
    finally:
        running.down()
