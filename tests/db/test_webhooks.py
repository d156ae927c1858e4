"""Webhook events are the projection's changes (issue 17), on SQLite and PostgreSQL: a timeline
entry's status change and a notice asking for bank details write their event to the outbox in
the transaction that projects them, once per (claim, sequence) or notice however often the
activity is retried; the relay's fan-out makes one delivery per subscribed endpoint, in order,
once; secrets are stored sealed."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from activities.mail import NoticeReceipt
from activities.records import ClaimProjection, TimelineEntry, TimelineEvent
from cashback.db import Database, SqlNoticeLog, SqlTimeline
from cashback.db.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent
from cashback.db.webhooks import Scheduled, WebhookDeliveries
from cashback.domain.money import Money
from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.domain.webhooks import WebhookEventType
from cashback.webhooks.delivery import signing_secrets
from cashback.webhooks.endpoints import WebhookEndpoints
from cashback.webhooks.sealing import SecretBox
from tests.db.seed import NOW, RESELLER_ID, add_claims
from tests.db.test_notices import _request

BOX = SecretBox(bytes(range(32)), key_id="k1")


def public_name(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
    """Every name resolves to a public address (resolved only; nothing connects here)."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]


def _entry(sequence: int, from_status: ClaimStatus | None, to_status: ClaimStatus) -> TimelineEntry:
    return TimelineEntry(
        claim_id="claim-1",
        sequence=sequence,
        at=NOW + timedelta(minutes=sequence),
        actor="system",
        event=TimelineEvent.STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
        projection=ClaimProjection(
            status=to_status,
            amount=Money(minor_units=25_000, currency="EUR")
            if to_status is ClaimStatus.AWAITING_BANK_DETAILS
            else None,
            payout_due=(NOW + timedelta(days=45)).date(),
        ),
    )


def events(database: Database) -> list[WebhookEvent]:
    with database.reading() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.position)))


def test_r9_r10_events_are_written_with_the_projection_once_per_change(
    database: Database,
) -> None:
    """R9, R10 (issue 17): submitted, under review, approved and the bank-details request are
    written once each, however often the activities are retried; an entry that changes no
    status (an escalation) is no event; each carries the claim's facts, no bank details."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    timeline = SqlTimeline(database)
    submitted = _entry(1, None, ClaimStatus.SUBMITTED)
    reviewed = _entry(2, ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW)
    approved = _entry(3, ClaimStatus.UNDER_REVIEW, ClaimStatus.AWAITING_BANK_DETAILS)
    escalated = TimelineEntry(
        claim_id="claim-1",
        sequence=4,
        at=NOW,
        actor="system",
        event=TimelineEvent.REVIEW_ESCALATED,
        reason="R9",
    )
    for entry in (submitted, reviewed, reviewed, approved, escalated, approved):
        timeline.append(entry)
    notices = SqlNoticeLog(database)
    receipt = NoticeReceipt(message_id="<1@test>", sent_at=NOW + timedelta(minutes=5))
    notices.record(_request(1), receipt)
    notices.record(_request(1), receipt)  # a retried mail activity

    written = events(database)
    assert [event.event_type for event in written] == [
        WebhookEventType.SUBMITTED,
        WebhookEventType.UNDER_REVIEW,
        WebhookEventType.APPROVED,
        WebhookEventType.BANK_DETAILS_REQUESTED,
    ]
    assert [event.key for event in written] == [
        "t1",
        "t2",
        "t3",
        "n:claim-1/bank_details_request/1",
    ]
    assert len({event.id for event in written}) == 4
    approval = written[2].payload
    assert approval["type"] == "claim.approved"
    assert approval["data"]["status"] == "AWAITING_BANK_DETAILS"
    assert approval["data"]["amount"] == {"minor_units": 25_000, "currency": "EUR"}
    request = written[3].payload["data"]
    assert request["deadlines"]["respond_by"] is not None
    assert set(request) == {
        "claim_id",
        "status",
        "offer_id",
        "agreement_number",
        "amount",
        "deadlines",
        "reasons",
    }


def test_fan_out_makes_one_delivery_per_subscribed_endpoint_once(database: Database) -> None:
    """Issue 17: each event becomes a delivery for each enabled endpoint of its reseller that
    chose its type, once however often the relay runs; the pairs to start are listed until
    marked; the next pending delivery is the claim's oldest."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    endpoints = WebhookEndpoints(database, BOX, allow_loopback=False, resolve=public_name)
    everything = endpoints.create(RESELLER_ID, "https://hooks.example/all", list(WebhookEventType))
    paid_only = endpoints.create(RESELLER_ID, "https://hooks.example/paid", [WebhookEventType.PAID])
    timeline = SqlTimeline(database)
    timeline.append(_entry(1, None, ClaimStatus.SUBMITTED))
    timeline.append(_entry(2, ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW))
    for _ in range(2):  # two relays, or one run twice
        with database.transaction() as session:
            WebhookDeliveries(session).fan_out()
    with database.transaction() as session:
        deliveries = WebhookDeliveries(session)
        pending = deliveries.unscheduled()
        assert list(pending) == [Scheduled(everything.endpoint.id, "claim-1")]
        [ids] = pending.values()
        assert len(ids) == 2
        first = deliveries.next_pending(everything.endpoint.id, "claim-1")
        assert first is not None
        assert first.id == ids[0]
        assert deliveries.next_pending(paid_only.endpoint.id, "claim-1") is None
        deliveries.mark_scheduled(ids)
    with database.transaction() as session:
        assert WebhookDeliveries(session).unscheduled() == {}
        assert len(session.scalars(select(WebhookDelivery)).all()) == 2
        assert all(event.dispatched for event in session.scalars(select(WebhookEvent)))


def test_secrets_are_sealed_and_rotation_signs_with_both_during_the_overlap(
    database: Database,
) -> None:
    """Issue 17 (R13's encryption): the secret is not stored in the clear; after a rotation
    with an overlap the previous secret signs too, and without one only the new one."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    endpoints = WebhookEndpoints(database, BOX, allow_loopback=False, resolve=public_name)
    created = endpoints.create(RESELLER_ID, "https://hooks.example/", list(WebhookEventType))
    with database.reading() as session:
        row = session.get(WebhookEndpoint, created.endpoint.id)
        assert row is not None
        assert created.secret.encode() not in row.secret_ciphertext
        assert signing_secrets(row, BOX, NOW) == [created.secret]
    rotated = endpoints.rotate(RESELLER_ID, created.endpoint.id, timedelta(hours=1))
    with database.reading() as session:
        row = session.get(WebhookEndpoint, created.endpoint.id)
        assert row is not None
        assert rotated.previous_secret_expires_at is not None
        during = rotated.previous_secret_expires_at - timedelta(minutes=1)
        after = rotated.previous_secret_expires_at + timedelta(minutes=1)
        assert signing_secrets(row, BOX, during) == [rotated.secret, created.secret]
        assert signing_secrets(row, BOX, after) == [rotated.secret]
    again = endpoints.rotate(RESELLER_ID, created.endpoint.id, timedelta(0))
    with database.reading() as session:
        row = session.get(WebhookEndpoint, created.endpoint.id)
        assert row is not None
        assert signing_secrets(row, BOX, NOW) == [again.secret]


def test_r10_a_notice_that_asks_nothing_is_no_event(database: Database) -> None:
    """R7, R10: a notice that does not ask for bank details (the preliminary confirmation) is
    told by status events only."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    notice = _request(1).model_copy(update={"kind": NoticeKind.PRELIMINARY_CONFIRMATION})
    SqlNoticeLog(database).record(notice, NoticeReceipt(message_id="<2@test>", sent_at=NOW))
    assert events(database) == []
