"""Webhooks in the database (issue 17): the outbox of claim events, written where the read
model is (in the transaction that projects a timeline entry or a notice onto the claim's row),
the resellers' endpoints and the delivery log. Repositories never commit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from activities.mail import NoticeRequest
from activities.records import ClaimProjection, TimelineEntry
from cashback.db.statements import insert_unless_present
from cashback.db.tables import (
    Claim,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from cashback.domain.money import Money
from cashback.domain.webhooks import (
    ClaimDeadlines,
    ClaimEvent,
    ClaimEventData,
    WebhookEventType,
    event_for_change,
    event_for_notice,
)


def new_event_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def _amount(claim: Claim) -> Money | None:
    if claim.amount_minor_units is None or claim.currency is None:
        return None
    return Money(minor_units=claim.amount_minor_units, currency=claim.currency)


class WebhookOutbox:
    """Events are the projection's changes: each is written once per (claim, key), in the
    caller's transaction, so an event exists exactly when the change it tells of is stored."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record_entry(self, entry: TimelineEntry) -> bool:
        """The event of a timeline entry's status change, if it is one; True if written."""
        event_type = event_for_change(entry.from_status, entry.to_status)
        if event_type is None:
            return False
        claim = self._session.get(Claim, entry.claim_id)
        if claim is None:
            return False
        projection = entry.projection
        if projection is None:  # a claim that ran before the read model: its row and entry
            projection = ClaimProjection(
                status=entry.to_status or claim.status,
                review_deadline=claim.review_deadline,
                amount=entry.amount or _amount(claim),
                respond_by=claim.respond_by,
                payout_date=claim.payout_date,
                payout_due=claim.payout_due,
                outcome_reasons=tuple(claim.outcome_reasons),
            )
        data = ClaimEventData(
            claim_id=claim.id,
            status=entry.to_status or projection.status,
            offer_id=claim.offer_id,
            agreement_number=claim.agreement_number,
            amount=projection.amount,
            deadlines=ClaimDeadlines(
                review_deadline=projection.review_deadline,
                respond_by=projection.respond_by,
                payout_date=projection.payout_date,
                payout_due=projection.payout_due,
            ),
            reasons=projection.outcome_reasons,
        )
        return self._write(claim, f"t{entry.sequence}", event_type, entry.at, data)

    def record_notice(self, notice: NoticeRequest, at: datetime) -> bool:
        """R10, R16: a notice asking for bank details is `claim.bank_details_requested`."""
        event_type = event_for_notice(notice.kind)
        if event_type is None:
            return False
        claim = self._session.get(Claim, notice.claim_id)
        if claim is None:
            return False
        data = ClaimEventData(
            claim_id=claim.id,
            status=claim.status,
            offer_id=claim.offer_id,
            agreement_number=claim.agreement_number,
            amount=_amount(claim),
            deadlines=ClaimDeadlines(
                review_deadline=claim.review_deadline,
                respond_by=notice.respond_by,
                payout_date=claim.payout_date,
                payout_due=claim.payout_due,
            ),
        )
        return self._write(claim, f"n:{notice.idempotency_key}", event_type, at, data)

    def _write(
        self,
        claim: Claim,
        key: str,
        event_type: WebhookEventType,
        at: datetime,
        data: ClaimEventData,
    ) -> bool:
        event = ClaimEvent(type=event_type, timestamp=at, data=data)
        return insert_unless_present(
            self._session,
            WebhookEvent,
            {
                "id": new_event_id(),
                "claim_id": claim.id,
                "reseller_id": claim.reseller_id,
                "key": key,
                "event_type": event_type.value,
                "payload": event.model_dump(mode="json"),
                "occurred_at": at,
                "dispatched": False,
            },
            keys=("claim_id", "key"),
        )


@dataclass(frozen=True)
class Scheduled:
    """Deliveries waiting for their (endpoint, claim) delivery workflow to be started."""

    endpoint_id: str
    claim_id: str


class WebhookDeliveries:
    """The delivery log and the dispatch of events to endpoints (the caller's transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def fan_out(self, limit: int = 500) -> int:
        """Each undispatched event becomes one pending delivery per enabled endpoint of its
        reseller that chose its type (idempotent per endpoint and event). Answers how many
        events were dispatched."""
        events = list(
            self._session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.dispatched.is_(False))
                .order_by(WebhookEvent.position)
                .limit(limit)
            )
        )
        now = datetime.now(UTC)
        for event in events:
            endpoints = self._session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.reseller_id == event.reseller_id,
                    WebhookEndpoint.enabled.is_(True),
                    WebhookEndpoint.deleted_at.is_(None),
                )
            )
            for endpoint in endpoints:
                if event.event_type not in endpoint.event_types:
                    continue
                insert_unless_present(
                    self._session,
                    WebhookDelivery,
                    {
                        "id": f"whd_{secrets.token_urlsafe(12)}",
                        "endpoint_id": endpoint.id,
                        "event_position": event.position,
                        "claim_id": event.claim_id,
                        "status": WebhookDeliveryStatus.PENDING,
                        "scheduled": False,
                        "attempts": 0,
                        "last_error": "",
                        "created_at": now,
                    },
                    keys=("endpoint_id", "event_position"),
                )
            event.dispatched = True
        return len(events)

    def unscheduled(self, limit: int = 500) -> dict[Scheduled, list[str]]:
        """Pending deliveries no workflow was started or nudged for, per (endpoint, claim)."""
        rows = self._session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.claim_id, WebhookDelivery.id)
            .where(
                WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                WebhookDelivery.scheduled.is_(False),
            )
            .order_by(WebhookDelivery.event_position)
            .limit(limit)
        )
        pairs: dict[Scheduled, list[str]] = {}
        for endpoint_id, claim_id, delivery_id in rows:
            pairs.setdefault(Scheduled(endpoint_id, claim_id), []).append(delivery_id)
        return pairs

    def mark_scheduled(self, delivery_ids: list[str]) -> None:
        self._session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(delivery_ids))
            .values(scheduled=True)
        )

    def next_pending(self, endpoint_id: str, claim_id: str) -> WebhookDelivery | None:
        """The oldest pending delivery of the claim's events to the endpoint (in order)."""
        return self._session.scalar(
            select(WebhookDelivery)
            .join(WebhookEvent, WebhookEvent.position == WebhookDelivery.event_position)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.claim_id == claim_id,
                WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            )
            .order_by(WebhookEvent.position)
            .limit(1)
        )

    def of_endpoint(
        self, endpoint_id: str, limit: int = 100
    ) -> list[tuple[WebhookDelivery, WebhookEvent]]:
        """The endpoint's delivery log, newest first."""
        rows = self._session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.position == WebhookDelivery.event_position)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookEvent.position.desc())
            .limit(limit)
        )
        return [(delivery, event) for delivery, event in rows.tuples()]
