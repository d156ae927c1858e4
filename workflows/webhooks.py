"""Delivering a claim's events to one endpoint (issue 17), durably and in order: one workflow
per (endpoint, claim), id `webhooks-<endpoint>-<claim>` (a second start is refused, a signal
nudges the running one). It sends the oldest pending event, retried with exponential backoff
for up to 3 days, then the next; when one cannot be delivered within that time the endpoint is
disabled and the reseller and the operators are told. A worker killed mid-delivery leaves the
activity to be retried: the same event, with the same `webhook-id`."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import webhooks
    from activities.webhooks import (
        DeliveryScope,
        GiveUp,
        WebhookActivities,
        WebhookDeliveryInput,
    )


def delivery_workflow_id(endpoint_id: str, claim_id: str) -> str:
    return f"webhooks-{endpoint_id}-{claim_id}"


@workflow.defn(name="WebhookDelivery")
class WebhookDeliveryWorkflow:
    def __init__(self) -> None:
        self._nudged = False

    @workflow.signal
    def nudge(self) -> None:
        """New (or redelivered) events are pending."""
        self._nudged = True

    @workflow.run
    async def run(self, request: WebhookDeliveryInput) -> int:
        delivered = 0
        scope = DeliveryScope(endpoint_id=request.endpoint_id, claim_id=request.claim_id)
        while True:
            self._nudged = False
            delivery_id = await workflow.execute_local_activity_method(
                WebhookActivities.next_delivery,
                scope,
                start_to_close_timeout=webhooks.LOCAL_TIMEOUT,
                retry_policy=webhooks.LOCAL_RETRY,
            )
            if delivery_id is None:
                if self._nudged:
                    continue  # an event arrived while we looked
                return delivered
            try:
                await workflow.execute_activity_method(
                    WebhookActivities.deliver,
                    delivery_id,
                    start_to_close_timeout=webhooks.ATTEMPT_TIMEOUT,
                    heartbeat_timeout=webhooks.HEARTBEAT_TIMEOUT,
                    schedule_to_close_timeout=request.give_up_after,
                    retry_policy=RetryPolicy(
                        initial_interval=request.retry_initial,
                        backoff_coefficient=webhooks.BACKOFF,
                        maximum_interval=webhooks.MAX_INTERVAL,
                    ),
                    summary=f"webhook {delivery_id}",
                )
                delivered += 1
            except ActivityError:
                await workflow.execute_activity_method(
                    WebhookActivities.give_up,
                    GiveUp(
                        endpoint_id=request.endpoint_id,
                        delivery_id=delivery_id,
                        days=request.give_up_after / timedelta(days=1),
                    ),
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
                    summary="webhook endpoint disabled",
                )
                return delivered
