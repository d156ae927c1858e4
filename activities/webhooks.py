"""Webhook deliveries (issue 17): the contracts the delivery workflow calls. Inputs are ids
only: the signing secret and the event's body stay in the database, never in a workflow's
history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

# Retries of one delivery: exponential backoff from `WebhookDeliveryInput.retry_initial` up to
# MAX_INTERVAL, for `give_up_after` (3 days) in all; then the endpoint is disabled.
BACKOFF = 2.0
MAX_INTERVAL = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=3)
RETRY_INITIAL = timedelta(seconds=10)
ATTEMPT_TIMEOUT = timedelta(seconds=30)  # one POST: 5 s to connect, 10 s per read, the log
HEARTBEAT_EVERY = timedelta(seconds=1)
HEARTBEAT_TIMEOUT = timedelta(seconds=5)  # a worker that died mid-attempt: retried after this
LOCAL_TIMEOUT = timedelta(seconds=10)
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
NOT_DELIVERED = "WebhookNotDelivered"


class WebhookDeliveryInput(BaseModel):
    """One delivery workflow per (endpoint, claim): the claim's events, in order."""

    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    claim_id: str
    retry_initial: timedelta = Field(default=RETRY_INITIAL, gt=timedelta(0))
    give_up_after: timedelta = Field(default=GIVE_UP_AFTER, gt=timedelta(0))


class DeliveryScope(BaseModel):
    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    claim_id: str


class GiveUp(BaseModel):
    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    delivery_id: str
    days: float


class WebhookStore(Protocol):
    def next_delivery(self, endpoint_id: str, claim_id: str) -> str | None:
        """The oldest pending delivery of the claim's events to the endpoint, if any."""
        ...

    def attempt(self, delivery_id: str) -> str | None:
        """Send the delivery once and log how it went: None when delivered (or no longer
        pending), else why not."""
        ...

    def give_up(self, endpoint_id: str, delivery_id: str, days: float) -> None:
        """Disable the endpoint, mark its pending deliveries failed, tell the reseller and the
        operators."""
        ...


class WebhookActivities:
    def __init__(self, store: WebhookStore) -> None:
        self._store = store

    @activity.defn(name="webhooks.next_delivery")
    def next_delivery(self, scope: DeliveryScope) -> str | None:
        return self._store.next_delivery(scope.endpoint_id, scope.claim_id)

    @activity.defn(name="webhooks.deliver")
    def deliver(self, delivery_id: str) -> None:
        """One attempt; not delivered raises, and Temporal retries with backoff. The attempt
        runs beside a heartbeat, so an attempt whose worker died is retried after
        HEARTBEAT_TIMEOUT, not after the whole ATTEMPT_TIMEOUT."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            attempt = pool.submit(self._store.attempt, delivery_id)
            while True:
                try:
                    failure = attempt.result(timeout=HEARTBEAT_EVERY.total_seconds())
                    break
                except FutureTimeout:
                    activity.heartbeat()
        if failure is not None:
            raise ApplicationError(f"not delivered: {failure}", type=NOT_DELIVERED)

    @activity.defn(name="webhooks.give_up")
    def give_up(self, request: GiveUp) -> None:
        self._store.give_up(request.endpoint_id, request.delivery_id, request.days)
