"""The outbox's relay (issue 17): events written with the read model become deliveries, one
per subscribed endpoint, and each (endpoint, claim) with new deliveries gets its delivery
workflow started, or nudged if it runs (signal-with-start, one workflow id per pair). Any
number of workers may run it: deliveries are unique per (endpoint, event) and the workflow id
dedups starts. A relay that stops between the start and the mark starts (nudges) again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client

from activities.webhooks import WebhookDeliveryInput
from cashback.db.session import Database
from cashback.db.webhooks import Scheduled, WebhookDeliveries
from workflows.webhooks import WebhookDeliveryWorkflow, delivery_workflow_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relay:
    database: Database
    client: Client
    task_queue: str
    retry_initial: timedelta
    give_up_after: timedelta

    def _pending(self) -> dict[Scheduled, list[str]]:
        with self.database.transaction() as session:
            deliveries = WebhookDeliveries(session)
            deliveries.fan_out()
            return deliveries.unscheduled()

    def _mark(self, delivery_ids: list[str]) -> None:
        with self.database.transaction() as session:
            WebhookDeliveries(session).mark_scheduled(delivery_ids)

    async def once(self) -> int:
        """One round; answers how many (endpoint, claim) workflows were started or nudged."""
        pending = await asyncio.to_thread(self._pending)
        for pair, delivery_ids in pending.items():
            await self.client.start_workflow(
                WebhookDeliveryWorkflow.run,
                WebhookDeliveryInput(
                    endpoint_id=pair.endpoint_id,
                    claim_id=pair.claim_id,
                    retry_initial=self.retry_initial,
                    give_up_after=self.give_up_after,
                ),
                id=delivery_workflow_id(pair.endpoint_id, pair.claim_id),
                task_queue=self.task_queue,
                start_signal="nudge",
            )
            await asyncio.to_thread(self._mark, delivery_ids)
        return len(pending)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Rounds every `interval` seconds until `stop` is set; a failed round is logged and
        the next one tries again (the outbox keeps what was not relayed)."""
        while not stop.is_set():
            try:
                await self.once()
            except Exception:
                log.exception("webhook relay: the round failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
