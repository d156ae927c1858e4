"""Durable delivery's edges (issue 17): an answer lost after the receiver got the event (as
when a worker dies mid-delivery) makes a duplicate with the same `webhook-id`; an endpoint that
does not accept events for the give-up time (3 days in production, 3 seconds here) is
disabled, its pending deliveries failed, and the reseller and the operators are told; enabled
again, it gets new events and the missed ones on request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from cashback.db.tables import WebhookDelivery, WebhookDeliveryStatus
from tests.api.harness import Api
from tests.webhooks.conftest import WEBHOOK_SETTINGS
from tests.webhooks.histories import keep_history
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_deliveries import arrived, claim_under_review, register_endpoint

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GIVE_UP_SECONDS = 2.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**WEBHOOK_SETTINGS, "webhook_give_up_after_hours": GIVE_UP_SECONDS / 3600}


async def test_a_lost_answer_repeats_the_event_with_the_same_webhook_id(
    deliveries: Api, receiver: Receiver
) -> None:
    """Issue 17: the receiver got the event but its answer was lost (the connection cut, as
    when the sending worker dies): the event comes again with the same `webhook-id`, so the
    receiver deduplicates; the log counts both attempts."""
    api = deliveries
    receiver.drop = 1
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url, ["claim.submitted"])
    await claim_under_review(api, reseller)
    first, again = await arrived(receiver, lambda got: len(got) >= 2)
    assert first.webhook_id == again.webhook_id
    assert first.body == again.body
    again.verified_with(endpoint["secret"])
    log = await api.http.get(
        f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries", headers=reseller.headers
    )
    [delivery] = log.json()["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 2


async def test_an_endpoint_failing_for_the_give_up_time_is_disabled_and_people_are_told(
    deliveries: Api, receiver: Receiver
) -> None:
    """Issue 17: every attempt refused (the receiver is down) for the give-up time: the
    endpoint is disabled (saying why), its deliveries are failed, the reseller and the
    operators get a mail; enabled again, a redelivery reaches the receiver, back up."""
    api = deliveries
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url, ["claim.submitted"])
    base = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
    receiver.down()
    claim_id = await claim_under_review(api, reseller)
    for _ in range(200):
        read = (await api.http.get(base, headers=reseller.headers)).json()
        if not read["enabled"]:
            break
        await asyncio.sleep(0.1)
    assert read["enabled"] is False
    assert "not delivered for" in read["disabled_reason"]
    [delivery] = (await api.http.get(f"{base}/deliveries", headers=reseller.headers)).json()[
        "deliveries"
    ]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] >= 2
    expected = {reseller.email, api.services.settings.operators_address}
    for _ in range(100):
        told = {
            recipient
            for mail in api.mailbox.deliveries
            if endpoint["endpoint_id"] in mail.part("plain")
            for recipient in mail.rcpt_tos
        }
        if told >= expected:
            break
        await asyncio.sleep(0.05)
    assert told == expected
    await keep_history(api, endpoint["endpoint_id"], claim_id, "given_up_and_disabled")

    refused = await api.http.post(
        f"{base}/deliveries/{delivery['delivery_id']}/redeliver", headers=reseller.headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "endpoint_disabled"
    receiver.up()
    enabled = await api.http.post(f"{base}/enable", headers=reseller.headers)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabled"] is True
    again = await api.http.post(
        f"{base}/deliveries/{delivery['delivery_id']}/redeliver", headers=reseller.headers
    )
    assert again.status_code == 202
    [received] = await arrived(receiver, lambda got: len(got) >= 1)
    assert received.webhook_id == delivery["webhook_id"]
    received.verified_with(endpoint["secret"])


async def test_a_deleted_endpoint_gets_nothing_more(deliveries: Api, receiver: Receiver) -> None:
    """Issue 17: after an endpoint is deleted, the events of its claims are not sent: a
    delivery waiting for its retry is logged as failed, unsent, and later events make none."""
    api = deliveries
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url)
    base = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
    receiver.down()  # the first event waits for its retry
    claim_id = await claim_under_review(api, reseller)
    for _ in range(200):  # an attempt was refused: the delivery waits for its retry
        with api.services.database.reading() as session:
            tried = session.scalar(
                select(WebhookDelivery.attempts).where(WebhookDelivery.claim_id == claim_id)
            )
        if tried:
            break
        await asyncio.sleep(0.05)
    deleted = await api.http.delete(base, headers=reseller.headers)
    assert deleted.status_code == 204
    await asyncio.sleep(0.2)  # an attempt under way when it was deleted has been refused
    receiver.up()
    for _ in range(100):  # the retry comes, and finds the endpoint deleted
        with api.services.database.reading() as session:
            statuses = set(
                session.scalars(
                    select(WebhookDelivery.status).where(WebhookDelivery.claim_id == claim_id)
                )
            )
        if statuses == {WebhookDeliveryStatus.FAILED}:
            break
        await asyncio.sleep(0.05)
    assert receiver.snapshot() == []
    assert (await api.http.get(base, headers=reseller.headers)).status_code == 404
    with api.services.database.reading() as session:
        rows = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.claim_id == claim_id)
        ).all()
        assert rows
        assert {row.status for row in rows} == {WebhookDeliveryStatus.FAILED}
        assert rows[0].last_error.startswith("not sent")
