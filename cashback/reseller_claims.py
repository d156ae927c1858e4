"""A reseller's own claims, read from the read model (never from a workflow): the list, with an
optional status filter and keyset pages, and one claim with its timeline (D3) and the notices
sent about it. The API (`GET /claims`) and the portal's pages read them here, so tenancy is
written once: a claim of another reseller is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from activities.records import TimelineEntry
from cashback.db import Database, NoticeRepository, TimelineRepository
from cashback.db.tables import Claim, NoticeSent, Offer
from cashback.domain.eligibility import Verdict
from cashback.domain.money import Money
from cashback.domain.status import ClaimStatus


@dataclass(frozen=True)
class OwnClaim:
    """One of the reseller's claims (detached from its session), with its offer's name, its
    timeline (oldest first) and the notices sent to the reseller about it (oldest first)."""

    claim: Claim
    offer_name: str
    timeline: list[TimelineEntry]
    notices: list[NoticeSent]

    @property
    def amount(self) -> Money | None:
        return amount_of(self.claim)

    @property
    def reasons(self) -> list[str]:
        return reasons_of(self.claim)


def amount_of(claim: Claim) -> Money | None:
    """D4: the claim's amount once known."""
    if claim.amount_minor_units is None or claim.currency is None:
        return None
    return Money(minor_units=claim.amount_minor_units, currency=claim.currency)


def reasons_of(claim: Claim) -> list[str]:
    """Why the claim stands as it does, for the reseller: a rejection's or cancellation's
    reasons; under review, the reasons of a verdict that is not a plain yes (R8)."""
    if claim.outcome_reasons:
        return list(claim.outcome_reasons)
    if claim.status is ClaimStatus.UNDER_REVIEW and claim.verdict in (
        Verdict.INCONCLUSIVE,
        Verdict.INELIGIBLE,
    ):
        return [str(reason["detail"]) for reason in claim.verdict_reasons]
    return []


def own_claims(
    database: Database,
    reseller_id: str,
    *,
    status: ClaimStatus | None = None,
    limit: int = 20,
    after: tuple[datetime, str] | None = None,
) -> list[Claim]:
    """The reseller's claims, newest first, at most `limit`; `after` is the (received, id) of
    the last claim of the page before."""
    query = select(Claim).where(Claim.reseller_id == reseller_id)
    if status is not None:
        query = query.where(Claim.status == status)
    if after is not None:
        created_at, claim_id = after
        query = query.where(
            or_(
                Claim.created_at < created_at,
                and_(Claim.created_at == created_at, Claim.id < claim_id),
            )
        )
    query = query.order_by(Claim.created_at.desc(), Claim.id.desc()).limit(limit)
    with database.reading() as session:
        return list(session.scalars(query))


def own_claim(database: Database, reseller_id: str, claim_id: str) -> OwnClaim | None:
    """The reseller's claim `claim_id`; None when there is none, or it is another's."""
    with database.reading() as session:
        found = session.execute(
            select(Claim, Offer.name)
            .join(Offer, Offer.id == Claim.offer_id)
            .where(Claim.id == claim_id, Claim.reseller_id == reseller_id)
        ).first()
        if found is None:
            return None
        claim, offer_name = found
        return OwnClaim(
            claim=claim,
            offer_name=offer_name,
            timeline=[
                entry
                for entry in TimelineRepository(session).of(claim.id)
                if not entry.event.for_operators
            ],
            notices=[
                notice
                for notice in NoticeRepository(session).of(claim.id)
                if not notice.kind.for_operators
            ],
        )
