"""What the reports read (issue 13): each claim's row of the read model with its reseller and
offer, and the first and last time its timeline reached each status, in two queries; plus
the counts `/metrics` shows. Reads only, never from a workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cashback.db.tables import Claim, Offer, Payment, PaymentStatus, Reseller, TimelineRow
from cashback.domain.reports import ClaimFacts
from cashback.domain.status import ClaimStatus

# The statuses whose first entry on the timeline is a decision (R8, R9): a rejection, or an
# approval (the final confirmation sets the claim to await bank details).
DECISIONS = (ClaimStatus.REJECTED, ClaimStatus.AWAITING_BANK_DETAILS)


@dataclass(frozen=True)
class ReportSelection:
    """Which claims a report covers; None: all."""

    offer_id: str | None = None


@dataclass(frozen=True)
class _Reached:
    first: datetime
    last: datetime


class ReportRepository:
    """The reports' reads, within the caller's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _timeline(self, selection: ReportSelection) -> dict[tuple[str, ClaimStatus], _Reached]:
        query = (
            select(
                TimelineRow.claim_id,
                TimelineRow.to_status,
                func.min(TimelineRow.at),
                func.max(TimelineRow.at),
            )
            .where(TimelineRow.to_status.is_not(None))
            .group_by(TimelineRow.claim_id, TimelineRow.to_status)
        )
        if selection.offer_id is not None:
            query = query.join(Claim, Claim.id == TimelineRow.claim_id).where(
                Claim.offer_id == selection.offer_id
            )
        reached: dict[tuple[str, ClaimStatus], _Reached] = {}
        for claim_id, status, first, last in self._session.execute(query):
            if status is not None:
                reached[(claim_id, status)] = _Reached(first, last)
        return reached

    def claim_facts(self, selection: ReportSelection) -> list[ClaimFacts]:
        """Every selected claim's facts, in claim id order (columns, not entities: a report
        reads every claim)."""
        reached = self._timeline(selection)
        query = (
            select(
                Claim.id,
                Claim.offer_id,
                Reseller.company_name,
                Reseller.country,
                Claim.status,
                Claim.created_at,
                func.coalesce(Claim.currency, Offer.currency),
                Claim.amount_minor_units,
                Claim.eligible_licences * Offer.rate_minor_units,
                Claim.review_deadline,
                Claim.decided_by,
                Claim.escalated,
                Claim.final_confirmation_on,
                Claim.payout_due,
                Claim.paid_on,
                Claim.outcome_reasons,
            )
            .join(Reseller, Reseller.id == Claim.reseller_id)
            .join(Offer, Offer.id == Claim.offer_id)
            .order_by(Claim.id)
        )
        if selection.offer_id is not None:
            query = query.where(Claim.offer_id == selection.offer_id)
        return [_facts(tuple(row), reached) for row in self._session.execute(query)]

    def has_offer(self, offer_id: str) -> bool:
        return self._session.get(Offer, offer_id) is not None

    def claims_by_status(self) -> dict[ClaimStatus, int]:
        rows = self._session.execute(select(Claim.status, func.count()).group_by(Claim.status))
        counts = dict.fromkeys(ClaimStatus, 0)
        counts.update({status: int(count) for status, count in rows})
        return counts

    def payments_by_outcome(self) -> dict[PaymentStatus, int]:
        rows = self._session.execute(select(Payment.status, func.count()).group_by(Payment.status))
        counts = dict.fromkeys(PaymentStatus, 0)
        counts.update({status: int(count) for status, count in rows})
        return counts


def _facts(row: tuple[Any, ...], reached: dict[tuple[str, ClaimStatus], _Reached]) -> ClaimFacts:
    (claim_id, offer_id, reseller_name, country, status, received_at, currency, amount,
     estimate, review_deadline, decided_by, escalated, final_confirmation_on, payout_due,
     paid_on, outcome_reasons) = row  # fmt: skip

    def first(status: ClaimStatus) -> datetime | None:
        found = reached.get((claim_id, status))
        return None if found is None else found.first

    decisions = [at for at in (first(status) for status in DECISIONS) if at is not None]
    current = reached.get((claim_id, status))
    # R16: a transfer the bank returned after PAID did not complete the payout; a claim paid
    # again completed it at its last PAID, the payment that stayed.
    paid = reached.get((claim_id, ClaimStatus.PAID))
    paid_at = paid.last if paid is not None and status is ClaimStatus.PAID else None
    return ClaimFacts(
        claim_id=claim_id,
        offer_id=offer_id,
        reseller_name=reseller_name,
        country=country,
        status=status,
        received_at=received_at,
        currency=currency,
        amount_minor_units=amount,
        estimated_minor_units=estimate,
        review_deadline=review_deadline,
        decided_at=min(decisions) if decisions else None,
        decided_by=decided_by,
        escalated=escalated,
        final_confirmation_on=final_confirmation_on,
        payout_due=payout_due,
        scheduled_at=first(ClaimStatus.SCHEDULED_FOR_PAYMENT),
        paid_at=paid_at,
        paid_on=paid_on,
        outcome_reasons=tuple(outcome_reasons or ()),
        status_since=None if current is None else current.last,
    )
