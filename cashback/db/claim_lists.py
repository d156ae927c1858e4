"""The operators' lists of claims, read from the read model on the claims' rows (never from
the workflows): the review queue (R8, R9) and the list of all claims, with the same filters,
keyset pagination and an export. The indexes on `claims` fit these queries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from cashback.db.tables import Claim, Reseller
from cashback.domain.eligibility import Verdict
from cashback.domain.status import ClaimStatus

# Claims whose review deadline is not projected yet sort last in the review queue.
NO_DEADLINE = date(9999, 12, 31)


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims an operator looks at; None: any."""

    offer_id: str | None = None
    reseller_id: str | None = None
    country: str | None = None  # the reseller's (R9 calendar)
    verdict: Verdict | None = None
    escalated: bool | None = None
    awaiting_budget: bool | None = None  # D7: approved, but the budget cannot cover it
    awaiting_payee_decision: bool | None = None  # issue 14: VoP NOAP, an operator decides
    deadline_before: date | None = None  # R9: review deadline before this day
    status: ClaimStatus | None = None


@dataclass(frozen=True)
class ListedClaim:
    """A claim row (detached from its session) with its reseller's name and country."""

    claim: Claim
    reseller_name: str
    reseller_country: str


def _selection(claims: ClaimFilter) -> Select[Claim, str, str]:
    query = select(Claim, Reseller.company_name, Reseller.country).join(
        Reseller, Reseller.id == Claim.reseller_id
    )
    return query.where(*_conditions(claims, join=True))


def _conditions(claims: ClaimFilter, *, join: bool) -> list[ColumnElement[bool]]:
    """The filter's conditions; the country is the reseller's, compared on the joined row
    (`join`) or through the reseller ids of the country."""
    conditions: list[ColumnElement[bool]] = []
    if claims.status is not None:
        conditions.append(Claim.status == claims.status)
    if claims.offer_id is not None:
        conditions.append(Claim.offer_id == claims.offer_id)
    if claims.reseller_id is not None:
        conditions.append(Claim.reseller_id == claims.reseller_id)
    if claims.country is not None:
        country = claims.country.upper()
        conditions.append(
            Reseller.country == country
            if join
            else Claim.reseller_id.in_(select(Reseller.id).where(Reseller.country == country))
        )
    if claims.verdict is not None:
        conditions.append(Claim.verdict == claims.verdict)
    if claims.escalated is not None:
        conditions.append(Claim.escalated.is_(claims.escalated))
    if claims.awaiting_budget is not None:
        conditions.append(Claim.awaiting_budget.is_(claims.awaiting_budget))
    if claims.awaiting_payee_decision is not None:
        conditions.append(Claim.awaiting_payee_decision.is_(claims.awaiting_payee_decision))
    if claims.deadline_before is not None:
        conditions.append(Claim.review_deadline < claims.deadline_before)
    return conditions


def _listed(rows: Iterable[Row[Claim, str, str]]) -> list[ListedClaim]:
    return [ListedClaim(claim, name, country) for claim, name, country in rows]


class ClaimLists:
    """Pages of claims within the caller's session (reads only)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def one(self, claim_id: str) -> ListedClaim | None:
        """One claim with its reseller's name and country, or None."""
        found = self._session.execute(_selection(ClaimFilter()).where(Claim.id == claim_id)).first()
        return None if found is None else ListedClaim(found[0], found[1], found[2])

    def count(self, claims: ClaimFilter) -> int:
        """How many claims the selection holds (read from the indexes where it can)."""
        query = select(func.count()).select_from(Claim).where(*_conditions(claims, join=False))
        return int(self._session.scalar(query) or 0)

    def by_deadline(
        self, claims: ClaimFilter, limit: int, after: tuple[date, str] | None = None
    ) -> list[ListedClaim]:
        """The review queue's order: the earliest review deadline first (R9), then claim id,
        claims without a deadline yet last; `after` is the (deadline, id) of the last claim of
        the page before (`NO_DEADLINE` for one without). Two index range scans, no sort."""
        rows: list[ListedClaim] = []
        if after is None or after[0] != NO_DEADLINE:
            dated = _selection(claims).where(Claim.review_deadline.is_not(None))
            if after is not None:
                day, claim_id = after
                dated = dated.where(
                    or_(
                        Claim.review_deadline > day,
                        and_(Claim.review_deadline == day, Claim.id > claim_id),
                    )
                )
            dated = dated.order_by(Claim.review_deadline, Claim.id).limit(limit)
            rows = _listed(self._session.execute(dated))
        if len(rows) < limit:
            undated = _selection(claims).where(Claim.review_deadline.is_(None))
            if after is not None and after[0] == NO_DEADLINE:
                undated = undated.where(Claim.id > after[1])
            undated = undated.order_by(Claim.id).limit(limit - len(rows))
            rows += _listed(self._session.execute(undated))
        return rows

    def newest_first(
        self, claims: ClaimFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[ListedClaim]:
        """All claims, newest first; `after` is the (received, id) of the last of the page
        before."""
        query = _selection(claims)
        if after is not None:
            at, claim_id = after
            query = query.where(
                or_(Claim.created_at < at, and_(Claim.created_at == at, Claim.id < claim_id))
            )
        rows = self._session.execute(
            query.order_by(Claim.created_at.desc(), Claim.id.desc()).limit(limit)
        )
        return _listed(rows)

    def every(self, claims: ClaimFilter, batch: int = 1000) -> Iterator[ListedClaim]:
        """Every claim of the selection, newest first, read in batches (an export)."""
        after: tuple[datetime, str] | None = None
        while True:
            page = self.newest_first(claims, batch, after)
            yield from page
            if len(page) < batch:
                return
            last = page[-1].claim
            after = (last.created_at, last.id)
