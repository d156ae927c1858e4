"""A seeded program whose reports are worked out by hand (issue 13): nine claims of two offers
(EUR and CHF) from a German and an Austrian reseller, received in March, April and May 2026,
with their timelines, read as of Friday 2026-05-29.

German public holidays in the window (R9): Good Friday 2026-04-03, Easter Monday 2026-04-06,
Labour Day 2026-05-01, Ascension 2026-05-14, Whit Monday 2026-05-25.

| claim | offer, reseller | received | what happened |
| --- | --- | --- | --- |
| c1 | A, DE | Mon 03-02 | approved 03-10, scheduled 03-12, paid 04-20 (due 04-24) |
| c2 | A, DE | Thu 03-26 | deadline 04-17 (Easter out); escalated, approved 04-20: late |
| c3 | A, AT | Mon 03-02 | rejected by the program at the deadline's timer (03-21 09:00): in time |
| c4 | A, DE | Wed 04-01 | deadline not projected: 04-23 (Easter out); under review |
| c5 | A, DE | Mon 03-02 | approved 03-05, scheduled 03-09, paid 04-22 (due 04-19): paid late |
| c6 | A, DE | Mon 03-02 | approved 03-06, cancelled 03-27, funds forfeited (R10) |
| c7 | B, AT | Wed 04-01 | approved 04-08, scheduled 04-10, unpaid past its due day 05-23 |
| c8 | B, AT | Wed 04-01 | approved 04-02, cancelled 04-05 for an individual's account (R12) |
| c9 | A, DE | Wed 05-27 | submitted, nothing else yet |

Budgets (D7): offer A has 500.00 EUR; offer B none. Each approval committed its amount: c1 and
c5 paid (125.00 + 50.00), c2 committed (25.00), c6 released by its forfeit (37.50); c7
committed (80.00 CHF), c8 released by its cancellation (20.00 CHF). c3 was rejected, c4 and c9
are undecided: nothing committed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from activities.records import TimelineEvent
from cashback.db.tables import (
    BudgetCommitment,
    Claim,
    Offer,
    Reseller,
    ResellerStatus,
    TimelineRow,
)
from cashback.domain.budgets import CommitmentState
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from tests.identities import new_vat_id

AS_OF = date(2026, 5, 29)
OFFER_A = "offer-a"
OFFER_B = "offer-b"
OPERATOR = "operator@cashback.example"
FORFEITED = "R10: no valid bank details after notice 3; the funds are forfeited"
INDIVIDUAL = "R12: the bank account given is an individual's, not a company's"
BUDGET_A = 50000  # 500.00 EUR; offer B has no budget


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _reseller(reseller_id: str, name: str, country: str) -> Reseller:
    return Reseller(
        id=reseller_id,
        company_name=name,
        country=country,
        language=Language.GERMAN,
        email=f"claims@{reseller_id}.example",
        created_at=at(1, 5),
        vat_id=new_vat_id(),
        status=ResellerStatus.APPROVED,
    )


def _offer(offer_id: str, name: str, currency: str, rate: int, budget: int | None = None) -> Offer:
    return Offer(
        id=offer_id,
        name=name,
        sale_date_from=date(2026, 1, 1),
        sale_date_to=date(2026, 6, 30),
        products=["OFFICE PRO PLUS"],
        licence_types=["NEW"],
        customer_segments=["COMMERCIAL"],
        countries=["DE", "AT"],
        min_per_customer=1,
        max_per_customer=100,
        claim_opens_at=at(1, 1),
        claim_closes_at=at(9, 30),
        rate_minor_units=rate,
        currency=currency,
        terms_version="2026-01",
        created_at=at(1, 1),
        budget_minor_units=budget,
    )


def _claim(
    claim_id: str,
    offer_id: str,
    reseller_id: str,
    received: datetime,
    status: ClaimStatus,
    *,
    currency: str = "EUR",
    amount: int | None = None,
    eligible_licences: int | None = None,
    review_deadline: date | None = None,
    decided_by: str | None = None,
    escalated: bool = False,
    final_confirmation_on: date | None = None,
    paid_on: date | None = None,
    outcome_reasons: tuple[str, ...] = (),
) -> Claim:
    return Claim(
        id=claim_id,
        workflow_id=f"claim-{claim_id}",
        idempotency_key=f"key-{claim_id}",
        reseller_id=reseller_id,
        offer_id=offer_id,
        agreement_number=f"OL-{claim_id}",
        customer_name="Contoso AG",
        reseller_name_on_agreement="Acme Software GmbH",
        terms_accepted_version="2026-01",
        terms_accepted_at=received,
        invoice_object_key=f"invoices/{claim_id}.pdf",
        invoice_sha256="0" * 64,
        status=status,
        amount_minor_units=amount,
        currency=currency if amount is not None else None,
        created_at=received,
        updated_at=received,
        review_deadline=review_deadline,
        eligible_licences=eligible_licences,
        decided_by=decided_by,
        escalated=escalated,
        final_confirmation_on=final_confirmation_on,
        payout_due=None
        if final_confirmation_on is None
        else final_confirmation_on + timedelta(days=45),
        paid_on=paid_on,
        outcome_reasons=list(outcome_reasons),
    )


# (claim, [(to_status, at)]): the timeline's status changes after SUBMITTED.
def _timelines() -> list[tuple[Claim, list[tuple[ClaimStatus, datetime]]]]:
    s = ClaimStatus
    return [
        (
            _claim("c1", OFFER_A, "r-de", at(3, 2), s.PAID, amount=12500, eligible_licences=10,
                   review_deadline=date(2026, 3, 20), decided_by=OPERATOR,
                   final_confirmation_on=date(2026, 3, 10), paid_on=date(2026, 4, 20)),
            [(s.UNDER_REVIEW, at(3, 2, 9, 5)), (s.AWAITING_BANK_DETAILS, at(3, 10)),
             (s.SCHEDULED_FOR_PAYMENT, at(3, 12)), (s.PAID, at(4, 20))],
        ),
        (
            _claim("c2", OFFER_A, "r-de", at(3, 26), s.AWAITING_BANK_DETAILS, amount=2500,
                   review_deadline=date(2026, 4, 17), decided_by=OPERATOR, escalated=True,
                   final_confirmation_on=date(2026, 4, 20)),
            [(s.UNDER_REVIEW, at(3, 26, 9, 5)), (s.AWAITING_BANK_DETAILS, at(4, 20))],
        ),
        (
            _claim("c3", OFFER_A, "r-at", at(3, 2), s.REJECTED,
                   review_deadline=date(2026, 3, 20), decided_by="system",
                   outcome_reasons=("R2: the product is not covered",)),
            [(s.UNDER_REVIEW, at(3, 2, 9, 5)), (s.REJECTED, at(3, 21))],
        ),
        (
            _claim("c4", OFFER_A, "r-de", at(4, 1), s.UNDER_REVIEW, eligible_licences=4,
                   escalated=True),
            [(s.UNDER_REVIEW, at(4, 1, 9, 5))],
        ),
        (
            _claim("c5", OFFER_A, "r-de", at(3, 2), s.PAID, amount=5000,
                   review_deadline=date(2026, 3, 20), decided_by=OPERATOR,
                   final_confirmation_on=date(2026, 3, 5), paid_on=date(2026, 4, 22)),
            [(s.UNDER_REVIEW, at(3, 2, 9, 5)), (s.AWAITING_BANK_DETAILS, at(3, 5)),
             (s.SCHEDULED_FOR_PAYMENT, at(3, 9)), (s.PAID, at(4, 22))],
        ),
        (
            _claim("c6", OFFER_A, "r-de", at(3, 2), s.CANCELLED, amount=3750,
                   review_deadline=date(2026, 3, 20), decided_by=OPERATOR,
                   final_confirmation_on=date(2026, 3, 6), outcome_reasons=(FORFEITED,)),
            [(s.UNDER_REVIEW, at(3, 2, 9, 5)), (s.AWAITING_BANK_DETAILS, at(3, 6)),
             (s.CANCELLED, at(3, 27))],
        ),
        (
            _claim("c7", OFFER_B, "r-at", at(4, 1), s.SCHEDULED_FOR_PAYMENT, currency="CHF",
                   amount=8000, decided_by=OPERATOR, final_confirmation_on=date(2026, 4, 8)),
            [(s.UNDER_REVIEW, at(4, 1, 9, 5)), (s.AWAITING_BANK_DETAILS, at(4, 8)),
             (s.SCHEDULED_FOR_PAYMENT, at(4, 10))],
        ),
        (
            _claim("c8", OFFER_B, "r-at", at(4, 1), s.CANCELLED, currency="CHF", amount=2000,
                   decided_by=OPERATOR, final_confirmation_on=date(2026, 4, 2),
                   outcome_reasons=(INDIVIDUAL,)),
            [(s.UNDER_REVIEW, at(4, 1, 9, 5)), (s.AWAITING_BANK_DETAILS, at(4, 2)),
             (s.CANCELLED, at(4, 5))],
        ),
        (_claim("c9", OFFER_A, "r-de", at(5, 27), s.SUBMITTED), []),
    ]  # fmt: skip


# (claim, offer, amount, currency, state, committed at, settled at): D7's commitments.
def _commitments() -> list[BudgetCommitment]:
    c = CommitmentState
    return [
        BudgetCommitment(
            claim_id=claim_id,
            offer_id=offer_id,
            amount_minor_units=amount,
            currency=currency,
            state=state,
            committed_at=committed_at,
            settled_at=settled_at,
        )
        for claim_id, offer_id, amount, currency, state, committed_at, settled_at in (
            ("c1", OFFER_A, 12500, "EUR", c.PAID, at(3, 10), at(4, 20)),
            ("c2", OFFER_A, 2500, "EUR", c.COMMITTED, at(4, 20), None),
            ("c5", OFFER_A, 5000, "EUR", c.PAID, at(3, 5), at(4, 22)),
            ("c6", OFFER_A, 3750, "EUR", c.RELEASED, at(3, 6), at(3, 27)),
            ("c7", OFFER_B, 8000, "CHF", c.COMMITTED, at(4, 8), None),
            ("c8", OFFER_B, 2000, "CHF", c.RELEASED, at(4, 2), at(4, 5)),
        )
    ]


def seed_reports(session: Session) -> None:
    """The program above, in the caller's transaction."""
    session.add_all(
        [
            _reseller("r-de", "Acme Software GmbH", "DE"),
            _reseller("r-at", "Alpen Lizenz GmbH", "AT"),
            _offer(OFFER_A, "Office cash back spring 2026", "EUR", 1250, BUDGET_A),
            _offer(OFFER_B, "Office cash back Switzerland", "CHF", 1000),
        ]
    )
    session.flush()
    for claim, changes in _timelines():
        session.add(claim)
        session.flush()
        previous = ClaimStatus.SUBMITTED
        for sequence, (status, when) in enumerate(changes, start=1):
            session.add(
                TimelineRow(
                    claim_id=claim.id,
                    sequence=sequence,
                    at=when,
                    actor="system",
                    event=TimelineEvent.STATUS_CHANGED,
                    from_status=previous,
                    to_status=status,
                    reason="seeded",
                )
            )
            previous = status
    session.flush()
    session.add_all(_commitments())
