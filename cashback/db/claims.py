"""Claims as stored by the API at submission (R5, R6) and kept up to date by the workflow."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, and_, bindparam, insert, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activities.mail import NoticeRequest
from activities.records import ClaimProjection
from cashback.db.session import Database
from cashback.db.tables import Claim
from cashback.domain.agreements import agreement_key
from cashback.domain.money import Money
from cashback.domain.status import RELEASES_AGREEMENT, ClaimStatus


class DuplicateClaim(Exception):
    """D1: the offer already has a claim for the agreement."""

    def __init__(self, existing_claim_id: str, owner_id: str) -> None:
        super().__init__(f"a claim for this offer and agreement exists: {existing_claim_id}")
        self.existing_claim_id = existing_claim_id
        self.owner_id = owner_id  # D1: the id is named only to the reseller that owns it


# Built once (a statement built per request costs its construction and its cache key): the
# claim under an idempotency key (D2) or the open or paid claim of an offer for an agreement
# (D1); both are unique, so at most two rows.
_BY_KEY_OR_AGREEMENT = select(Claim).where(
    or_(
        Claim.idempotency_key == bindparam("key"),
        and_(
            Claim.offer_id == bindparam("offer_id"),
            Claim.agreement_key == bindparam("agreement_key"),
            Claim.status.not_in(RELEASES_AGREEMENT),
        ),
    )
)

_CLAIM_COLUMNS = tuple(attribute.key for attribute in inspect(Claim).column_attrs)
_CLAIM_TABLE: Table = Claim.__table__  # type: ignore[assignment]  # a declarative class's Table
_INSERT_CLAIM = insert(_CLAIM_TABLE).returning(*_CLAIM_TABLE.c)

# How long `store_claim` rides out a database failure before the submission is given up.
STORE_WITHIN_SECONDS = 5.0


def store_claim(database: Database, row: Claim, *, within: float = STORE_WITHIN_SECONDS) -> Claim:
    """`ClaimRepository.add` in a transaction of its own, done again after a transient database
    failure (`Database.write`): when the answer to the COMMIT was lost, the next attempt finds
    the claim under its idempotency key (D2) and answers it, instead of the caller believing
    nothing was stored (and discarding the invoice of a stored claim)."""
    values = {
        key: value
        for key in _CLAIM_COLUMNS
        if (value := getattr(row, key)) is not None  # unset: the column's default applies
    }
    # One statement, INSERT ... RETURNING: the unique indexes of D1 and D2 refuse a second
    # claim, so nothing is read first; only a refused insert looks up why. A Core statement
    # built once: the ORM's bulk insert built and keyed the statement per claim (issue 16).
    try:
        stored = database.write(
            lambda session: session.execute(_INSERT_CLAIM, values).one(), within=within
        )
    except IntegrityError:
        with database.reading() as session:
            existing = ClaimRepository(session).existing(Claim(**values))  # D2, or D1 raises
        if existing is None:
            raise
        return existing
    return Claim(**stored._mapping)  # the row as stored, defaults included (not in a session)


class ClaimRepository:
    """Claims within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, claim_id: str) -> Claim | None:
        return self._session.get(Claim, claim_id)

    def by_idempotency_key(self, idempotency_key: str) -> Claim | None:
        return self._session.scalar(select(Claim).where(Claim.idempotency_key == idempotency_key))

    def for_agreement(self, offer_id: str, agreement_number: str) -> Claim | None:
        """D1: the open or paid claim of `offer_id` for the agreement, however its number is
        written; a rejected or cancelled claim does not count."""
        return self._session.scalar(
            select(Claim).where(
                Claim.offer_id == offer_id,
                Claim.agreement_key == agreement_key(agreement_number),
                Claim.status.not_in(RELEASES_AGREEMENT),
            )
        )

    def add(self, claim: Claim) -> Claim:
        """Store a new claim. D2: a claim with the same idempotency key is returned instead.
        D1: a claim of the same offer for the same agreement raises `DuplicateClaim`."""
        existing = self.existing(claim)
        if existing is not None:
            return existing
        try:
            with self._session.begin_nested():
                self._session.add(claim)
        except IntegrityError:
            # Another transaction stored it between our check and our insert.
            existing = self.existing(claim)
            if existing is None:
                raise
            return existing
        return claim

    def by_key_or_agreement(
        self, idempotency_key: str, offer_id: str, agreement_number: str
    ) -> tuple[Claim | None, Claim | None]:
        """`by_idempotency_key` and `for_agreement` in one statement (a submission reads both,
        and both usually find nothing): (the claim under the key, the open or paid claim of
        the offer for the agreement); one claim may be both."""
        key = agreement_key(agreement_number)
        rows = self._session.scalars(
            _BY_KEY_OR_AGREEMENT,
            {"key": idempotency_key, "offer_id": offer_id, "agreement_key": key},
        ).all()
        same_key = next((c for c in rows if c.idempotency_key == idempotency_key), None)
        same_agreement = next(
            (
                c
                for c in rows
                if c.offer_id == offer_id
                and c.agreement_key == key
                and c.status not in RELEASES_AGREEMENT
            ),
            None,
        )
        return same_key, same_agreement

    def existing(self, claim: Claim) -> Claim | None:
        """D2: the claim stored under `claim`'s idempotency key; D1: raises `DuplicateClaim`
        for an open or paid claim of its offer for its agreement; else None."""
        same_key = self.by_idempotency_key(claim.idempotency_key)
        if same_key is not None:
            return same_key
        same_agreement = self.for_agreement(claim.offer_id, claim.agreement_number)
        if same_agreement is not None:
            raise DuplicateClaim(same_agreement.id, same_agreement.reseller_id)
        return None

    def set_status(self, claim_id: str, status: ClaimStatus, amount: Money | None = None) -> None:
        """Project the workflow's status (and the amount, once known) onto the claim."""
        claim = self._session.get(Claim, claim_id)
        if claim is None:
            raise LookupError(f"no claim {claim_id}")
        claim.status = status
        if amount is not None:
            claim.amount_minor_units = amount.minor_units
            claim.currency = amount.currency
        claim.updated_at = datetime.now(UTC)

    def project(self, claim_id: str, sequence: int, projection: ClaimProjection) -> None:
        """The read model: what people read of the claim, as its workflow knew it at timeline
        entry `sequence`; an older entry (a late retry) never overwrites a newer one."""
        claim = self._session.get(Claim, claim_id)
        if claim is None:
            raise LookupError(f"no claim {claim_id}")
        if claim.projected_sequence >= sequence:
            return
        claim.projected_sequence = sequence
        claim.status = projection.status
        if projection.amount is not None:
            claim.amount_minor_units = projection.amount.minor_units
            claim.currency = projection.amount.currency
        claim.review_deadline = projection.review_deadline or claim.review_deadline
        claim.verdict = projection.verdict
        claim.verdict_reasons = [reason.model_dump() for reason in projection.verdict_reasons]
        claim.eligible_licences = projection.eligible_licences
        claim.escalated = projection.escalated
        claim.awaiting_budget = projection.awaiting_budget
        claim.awaiting_payee_decision = projection.awaiting_payee_decision
        claim.awaiting_payment_result = projection.awaiting_payment_result
        claim.decided_by = projection.decided_by
        claim.final_confirmation_on = projection.final_confirmation_on
        claim.respond_by = projection.respond_by
        claim.payout_date = projection.payout_date
        claim.payout_due = projection.payout_due
        claim.payout_overdue = projection.payout_overdue
        claim.paid_on = projection.paid_on
        claim.bank_reference = projection.bank_reference
        claim.bank_return_code = projection.bank_return_code
        claim.outcome_reasons = list(projection.outcome_reasons)
        claim.bank_details_ref = projection.bank_details_reference
        claim.updated_at = datetime.now(UTC)

    def project_notice(self, notice: NoticeRequest) -> None:
        """The read model: the review deadline a notice names (R9) and the instant it asks
        bank details by (R10, R16)."""
        claim = self._session.get(Claim, notice.claim_id)
        if claim is None:
            return
        if notice.facts.review_deadline is not None:
            claim.review_deadline = notice.facts.review_deadline
        if notice.kind.asks_for_bank_details:
            claim.respond_by = notice.respond_by

    def of_reseller(self, reseller_id: str) -> list[Claim]:
        return list(
            self._session.scalars(
                select(Claim).where(Claim.reseller_id == reseller_id).order_by(Claim.created_at)
            )
        )
