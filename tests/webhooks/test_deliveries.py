"""Signed webhooks about claims, end to end (issue 17): the API, the claim worker, the webhook
worker and the relay on the time-skipping dev server, and a receiver on loopback (the
development setting allows it).

- each event arrives once, signed, and verifies with the receiver's copy of the secret;
- with the receiver down for a while, the events arrive once it is back, in order, none lost;
- an event sent again on request keeps its `webhook-id`;
- a secret rotated with an overlap: both secrets verify during it;
- no bank details in any payload, header or delivery log (canary IBANs and holder name);
- an endpoint that cannot be reached for the give-up time is disabled, and the reseller and
  the operators are told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cashback.db.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submitted, wait_for_status
from tests.api.harness import Api, Reseller
from tests.api.test_bank_details_page import company_form
from tests.api.test_read_model import approve, bank_details_page
from tests.webhooks.conftest import WEBHOOK_SETTINGS
from tests.webhooks.histories import keep_history
from tests.webhooks.receiver import Received, Receiver

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLOSED_IBAN = "DE75512108001245126199"  # the simulated bank answers AC04 (account closed)
PAID_IBAN = "DE02120300000000202051"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**WEBHOOK_SETTINGS, "simulated_bank_behaviours": {CLOSED_IBAN: "AC04"}}


async def register_endpoint(
    api: Api, reseller: Reseller, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if event_types is not None:
        body["event_types"] = event_types
    created = await api.http.post("/webhooks/endpoints", json=body, headers=reseller.headers)
    assert created.status_code == 201, created.text
    endpoint: dict[str, Any] = created.json()
    assert endpoint["secret"].startswith("whsec_")
    return endpoint


async def claim_under_review(api: Api, reseller: Reseller) -> str:
    """A claim of `reseller` whose agreement the licensing records know, under review."""
    offer = await api.create_offer()
    agreement = new_agreement()
    api.add_licensing_record(agreement, seller_id=reseller.vat_id)
    claim_id = await submitted(api, reseller, offer["offer_id"], agreement)
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    return claim_id


async def arrived(
    receiver: Receiver, done: Callable[[list[Received]], bool], seconds: float = 30
) -> list[Received]:
    for _ in range(int(seconds / 0.05)):
        received = receiver.snapshot()
        if done(received):
            return received
        await asyncio.sleep(0.05)
    got = [(item.event["type"], item.event["data"]["status"]) for item in receiver.snapshot()]
    raise AssertionError(f"the receiver did not get what was expected within {seconds} s: {got}")


def types_of(received: list[Received]) -> list[str]:
    return [str(item.event["type"]) for item in received]


async def test_each_event_arrives_once_signed_in_order_and_verifies(
    deliveries: Api, receiver: Receiver
) -> None:
    """Issue 17 (R5, R8, R9, R10): submitted, under review, approved and the bank-details
    request arrive once each, in order, each signed (webhook-id, webhook-timestamp,
    webhook-signature) and verified with the receiver's copy of the secret; each carries the
    claim id, status, amount and deadlines."""
    api = deliveries
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url)
    claim_id = await claim_under_review(api, reseller)
    await approve(api, claim_id)
    expected = [
        "claim.submitted",
        "claim.under_review",
        "claim.approved",
        "claim.bank_details_requested",
    ]
    received = await arrived(receiver, lambda got: len(got) >= len(expected))
    await asyncio.sleep(0.5)  # nothing more (no duplicate) comes
    received = receiver.snapshot()
    assert types_of(received) == expected
    assert len({item.webhook_id for item in received}) == len(expected)
    for item in received:
        event = item.verified_with(endpoint["secret"])
        assert event["data"]["claim_id"] == claim_id
        assert set(event["data"]) >= {"claim_id", "status", "amount", "deadlines"}
    statuses = [item.event["data"]["status"] for item in received]
    assert statuses == [
        "SUBMITTED",
        "UNDER_REVIEW",
        "AWAITING_BANK_DETAILS",
        "AWAITING_BANK_DETAILS",
    ]
    approved = received[2].event["data"]
    assert approved["amount"] == {"minor_units": 25_000, "currency": "EUR"}
    assert approved["deadlines"]["payout_due"] is not None
    assert received[3].event["data"]["deadlines"]["respond_by"] is not None
    # A wrong secret does not verify.
    with pytest.raises(Exception, match="signature"):
        received[0].verified_with("whsec_" + "A" * 32)
    # The delivery log says delivered, once each.
    log = await api.http.get(
        f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries", headers=reseller.headers
    )
    assert log.status_code == 200, log.text
    entries = log.json()["deliveries"]
    assert [entry["status"] for entry in entries] == ["delivered"] * len(expected)
    assert [entry["attempts"] for entry in entries] == [1] * len(expected)
    assert {entry["webhook_id"] for entry in entries} == {item.webhook_id for item in received}
    await keep_history(api, endpoint["endpoint_id"], claim_id, "delivered_in_order")


async def test_a_receiver_down_for_a_while_gets_every_event_in_order_once_back(
    deliveries: Api, receiver: Receiver
) -> None:
    """Issue 17 (R8, R9): with the receiver down (connections refused) while the claim moves
    on, nothing is lost: once it is back, every event arrives, in the claim's order, and the
    log shows the attempts that failed before."""
    api = deliveries
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url)
    receiver.down()
    claim_id = await claim_under_review(api, reseller)
    await approve(api, claim_id)
    for _ in range(200):  # attempts are refused meanwhile, and retried (0.5 s, 1 s, ...)
        with api.services.database.reading() as session:
            refused = session.scalar(
                select(func.max(WebhookDelivery.attempts)).where(
                    WebhookDelivery.claim_id == claim_id
                )
            )
        if refused is not None and refused >= 2:
            break
        await asyncio.sleep(0.05)
    assert receiver.snapshot() == []
    receiver.up()
    received = await arrived(receiver, lambda got: len(got) >= 4)
    await asyncio.sleep(0.5)
    received = receiver.snapshot()
    assert types_of(received) == [
        "claim.submitted",
        "claim.under_review",
        "claim.approved",
        "claim.bank_details_requested",
    ]
    for item in received:
        item.verified_with(endpoint["secret"])
    log = (
        await api.http.get(
            f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries", headers=reseller.headers
        )
    ).json()["deliveries"]
    first = log[-1]  # newest first: the oldest event is last
    assert first["event_type"] == "claim.submitted"
    assert first["status"] == "delivered"
    assert first["attempts"] >= 2
    await keep_history(api, endpoint["endpoint_id"], claim_id, "retried_until_the_receiver_is_back")


async def test_redelivery_keeps_the_webhook_id_and_a_rotated_secret_overlaps(
    deliveries: Api, receiver: Receiver
) -> None:
    """Issue 17: an event sent again on request carries the same `webhook-id` (the receiver
    deduplicates on it); after a rotation with an overlap, it is signed by the new secret and
    by the previous one, and each verifies."""
    api = deliveries
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url, ["claim.submitted"])
    claim_id = await claim_under_review(api, reseller)
    [first] = await arrived(receiver, lambda got: len(got) >= 1)
    base = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
    rotated = await api.http.post(
        f"{base}/secret", json={"overlap_hours": 1}, headers=reseller.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    [delivery] = (await api.http.get(f"{base}/deliveries", headers=reseller.headers)).json()[
        "deliveries"
    ]
    again = await api.http.post(
        f"{base}/deliveries/{delivery['delivery_id']}/redeliver", headers=reseller.headers
    )
    assert again.status_code == 202, again.text
    received = await arrived(receiver, lambda got: len(got) >= 2)
    assert received[1].webhook_id == first.webhook_id
    assert received[1].body == first.body
    assert len(received[1].headers["webhook-signature"].split(" ")) == 2
    assert received[1].verified_with(new_secret) == received[1].verified_with(endpoint["secret"])
    await keep_history(api, endpoint["endpoint_id"], claim_id, "redelivered_on_request")
    # Another organisation cannot see or redeliver this endpoint's deliveries.
    stranger = await api.register("Fabrikam Software GmbH")
    foreign = await api.http.post(
        f"{base}/deliveries/{delivery['delivery_id']}/redeliver", headers=stranger.headers
    )
    assert foreign.status_code == 404


async def test_no_bank_details_in_any_payload_header_or_delivery_log(
    deliveries: Api, receiver: Receiver
) -> None:
    """R13 (issue 17): a claim whose first account the bank returns (AC04) and whose second is
    paid sends payment_failed, a second bank-details request and paid; no IBAN (compact or
    grouped, nor its account number) and no holder name given on the page is in any body or
    header the receiver got, nor in the outbox or the delivery log."""
    api = deliveries
    holder = "Contoso Software G.M.B.H."  # the company's name as R11 reads it, typed apart
    reseller = await api.register()
    endpoint = await register_endpoint(api, reseller, receiver.url)
    claim_id = await claim_under_review(api, reseller)
    await approve(api, claim_id)
    page = await bank_details_page(api, claim_id, "bank_details_request/1")
    closed = company_form(iban=CLOSED_IBAN, holder_name=holder)
    assert (await api.http.post(page, data=closed)).status_code == 200
    page = await bank_details_page(api, claim_id, "payment_failure/1")
    paid = company_form(iban=PAID_IBAN, holder_name=holder)
    assert (await api.http.post(page, data=paid)).status_code == 200
    received = await arrived(receiver, lambda got: "claim.paid" in types_of(got), seconds=60)
    assert types_of(received) == [
        "claim.submitted",
        "claim.under_review",
        "claim.approved",
        "claim.bank_details_requested",
        "claim.payment_failed",
        "claim.bank_details_requested",
        "claim.paid",
    ]
    assert received[-1].event["data"]["status"] == ClaimStatus.PAID
    for item in received:
        item.verified_with(endpoint["secret"])

    canaries = [
        CLOSED_IBAN,
        PAID_IBAN,
        CLOSED_IBAN[4:],
        PAID_IBAN[4:],
        " ".join(CLOSED_IBAN[i : i + 4] for i in range(0, len(CLOSED_IBAN), 4)),
        " ".join(PAID_IBAN[i : i + 4] for i in range(0, len(PAID_IBAN), 4)),
        holder,
        holder.casefold(),
    ]
    written = [item.body + json.dumps(item.headers) for item in received]
    with api.services.database.reading() as session:
        written += [json.dumps(row.payload) for row in session.scalars(select(WebhookEvent))]
        written += [
            json.dumps([str(value) for value in row.__dict__.values()])
            for table in (WebhookDelivery, WebhookEndpoint)
            for row in session.scalars(select(table))
        ]
    log = await api.http.get(
        f"/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries", headers=reseller.headers
    )
    written.append(log.text)
    leaks = [canary for canary in canaries for text in written if canary in text]
    assert leaks == []
    assert len(written) > len(received)
