"""The reports of issue 13 on SQLite and PostgreSQL, against the seeded program of
`tests/reports_data.py`, whose answers are worked out by hand below (as of 2026-05-29)."""

from __future__ import annotations

from datetime import datetime

from activities.records import TimelineEvent
from cashback.budgets import budget_use
from cashback.db import Database
from cashback.db.reports import ReportRepository, ReportSelection
from cashback.db.tables import Claim, PaymentStatus, TimelineRow
from cashback.domain.status import ClaimStatus
from cashback.reports import ReportTable, build_reports
from tests.reports_data import AS_OF, BUDGET_A, OFFER_A, OFFER_B, at, seed_reports


def _seeded(database: Database) -> dict[str, ReportTable]:
    with database.transaction() as session:
        seed_reports(session)
    tables = build_reports(database, None, ReportSelection(), AS_OF)
    return {table.name: table for table in tables}


def test_r9_r14_sla_per_offer_and_month_as_worked_out_by_hand(database: Database) -> None:
    """R9: decided by the end of the review deadline's day (the program's own decision at the
    deadline's timer counts as in time; c4's deadline, not projected, is computed over Easter);
    R14: paid by the 45th day after the final confirmation; cancelled claims owe no payment."""
    sla = _seeded(database)["sla"].rows
    assert sla == [
        # March: c1 c3 c5 c6 decided in time, c2 late; c1 paid in time, c5 late, c6 forfeited.
        {"offer_id": OFFER_A, "month": "2026-03", "claims": 5, "decisions_due": 5,
         "decided_in_time": 4, "decision_breaches": 1, "decided_in_time_share": 0.8,
         "payments_due": 2, "paid_in_time": 1, "payment_breaches": 1, "paid_in_time_share": 0.5},
        # April: c4 undecided past 04-23; nothing payable yet.
        {"offer_id": OFFER_A, "month": "2026-04", "claims": 1, "decisions_due": 1,
         "decided_in_time": 0, "decision_breaches": 1, "decided_in_time_share": 0.0,
         "payments_due": 0, "paid_in_time": 0, "payment_breaches": 0, "paid_in_time_share": None},
        # May: c9 is not due for a decision before 2026-06-16.
        {"offer_id": OFFER_A, "month": "2026-05", "claims": 1, "decisions_due": 0,
         "decided_in_time": 0, "decision_breaches": 0, "decided_in_time_share": None,
         "payments_due": 0, "paid_in_time": 0, "payment_breaches": 0, "paid_in_time_share": None},
        # c7 and c8 decided in time; c7 unpaid past 05-23; c8 cancelled (R12).
        {"offer_id": OFFER_B, "month": "2026-04", "claims": 2, "decisions_due": 2,
         "decided_in_time": 2, "decision_breaches": 0, "decided_in_time_share": 1.0,
         "payments_due": 1, "paid_in_time": 0, "payment_breaches": 1, "paid_in_time_share": 0.0},
    ]  # fmt: skip


def test_r9_r14_breaches_list_each_claim_with_due_day_and_lateness(database: Database) -> None:
    """R9: c2's deadline is 2026-04-17 (Good Friday and Easter Monday are no business days),
    decided 04-20: 15 business days after receipt. c4 (received 04-01, deadline 04-23) is open:
    37 business days by 05-29 (Labour Day, Ascension, Whit Monday skipped). R14: c5 paid three
    days after its bound; c7 is six days past its bound and unpaid."""
    breaches = _seeded(database)["sla_breaches"].rows
    assert [(b["kind"], b["claim_id"], b["due_on"], b["done_on"], b["open"]) for b in breaches] == [
        ("decision", "c2", "2026-04-17", "2026-04-20", False),
        ("payment", "c5", "2026-04-19", "2026-04-22", False),
        ("decision", "c4", "2026-04-23", None, True),
        ("payment", "c7", "2026-05-23", None, True),
    ]
    assert [(b["days_late"], b["business_days"]) for b in breaches] == [
        (3, 15),
        (3, None),
        (36, 37),
        (6, None),
    ]
    assert {b["claim_id"]: b["reseller_name"] for b in breaches}["c7"] == "Alpen Lizenz GmbH"


def test_d4_funnel_counts_and_amounts_per_currency(database: Database) -> None:
    """D4: amounts in minor units, never added across currencies. Submitted EUR: c1 125.00 +
    c2 25.00 + c4's estimate 4 x 12.50 + c5 50.00 + c6 37.50 = 287.50, c3 and c9 unpriced.
    Forfeited (R10) is c6; cancelled (R12) is c8."""
    rows = _seeded(database)["funnel"].rows
    table = {(r["currency"], r["stage"]): (r["claims"], r["amount_minor_units"]) for r in rows}
    assert table == {
        ("CHF", "submitted"): (2, 10000),
        ("CHF", "approved"): (2, 10000),
        ("CHF", "rejected"): (0, 0),
        ("CHF", "cancelled"): (1, 2000),
        ("CHF", "forfeited"): (0, 0),
        ("CHF", "paid"): (0, 0),
        ("EUR", "submitted"): (7, 28750),
        ("EUR", "approved"): (4, 23750),
        ("EUR", "rejected"): (1, 0),
        ("EUR", "cancelled"): (0, 0),
        ("EUR", "forfeited"): (1, 3750),
        ("EUR", "paid"): (2, 17500),
    }
    unpriced = {(r["currency"], r["stage"]): r["unpriced"] for r in rows if r["unpriced"]}
    assert unpriced == {("EUR", "submitted"): 2, ("EUR", "rejected"): 1}


def test_median_and_p90_days_per_stage(database: Database) -> None:
    """Review days 1, 3, 4, 7, 8, 19, 25 (median 7, nearest-rank p90 the 7th: 25); bank
    details 2, 2, 4; payout 39, 44 (median 41.5); total 49, 51."""
    rows = _seeded(database)["stages"].rows
    assert rows == [
        {"stage": "review", "claims": 7, "median_days": 7.0, "p90_days": 25.0},
        {"stage": "bank_details", "claims": 3, "median_days": 2.0, "p90_days": 4.0},
        {"stage": "payout", "claims": 2, "median_days": 41.5, "p90_days": 44.0},
        {"stage": "total", "claims": 2, "median_days": 50.0, "p90_days": 51.0},
    ]


def test_claims_waiting_per_status_and_age(database: Database) -> None:
    """Days in the current status as of 05-29: c9 submitted 2, c4 under review 58, c2 awaiting
    bank details 39 (since its approval), c7 scheduled 49."""
    rows = _seeded(database)["waiting"].rows
    waiting = {
        r["status"]: (r["claims"], r["oldest_claim_id"], r["oldest_days"])
        for r in rows
        if r["claims"]
    }
    assert waiting == {
        "SUBMITTED": (1, "c9", 2),
        "UNDER_REVIEW": (1, "c4", 58),
        "AWAITING_BANK_DETAILS": (1, "c2", 39),
        "SCHEDULED_FOR_PAYMENT": (1, "c7", 49),
    }
    buckets = {r["status"]: [r[f"days_{n}"] for n in ("0-6", "7-13", "14-29", "30-44", "45+")]
               for r in rows}  # fmt: skip
    assert buckets["SUBMITTED"] == [1, 0, 0, 0, 0]
    assert buckets["AWAITING_BANK_DETAILS"] == [0, 0, 0, 1, 0]
    assert buckets["UNDER_REVIEW"] == buckets["SCHEDULED_FOR_PAYMENT"] == [0, 0, 0, 0, 1]
    assert buckets["PAYMENT_FAILED"] == [0, 0, 0, 0, 0]


def test_d7_budget_use_per_offer_as_worked_out_by_hand(database: Database) -> None:
    """D7: offer A (500.00 EUR): c1 125.00 + c5 50.00 paid, c2 25.00 committed, c6's 37.50
    released by its forfeit; remaining 500.00 - 25.00 - 175.00 = 300.00. Offer B has no budget
    (empty budget and remaining): c7's 80.00 CHF committed, c8's 20.00 released. Every approved
    amount is in exactly one of committed, paid and released: the funnel's approved amounts."""
    tables = _seeded(database)
    assert tables["budget_use"].columns == (
        "offer_id", "offer_name", "currency", "budget", "committed", "paid", "released",
        "remaining",
    )  # fmt: skip
    assert tables["budget_use"].rows == [
        {"offer_id": OFFER_A, "offer_name": "Office cash back spring 2026", "currency": "EUR",
         "budget": BUDGET_A, "committed": 2500, "paid": 17500, "released": 3750,
         "remaining": 30000},
        {"offer_id": OFFER_B, "offer_name": "Office cash back Switzerland", "currency": "CHF",
         "budget": None, "committed": 8000, "paid": 0, "released": 2000, "remaining": None},
    ]  # fmt: skip
    approved = {
        r["currency"]: r["amount_minor_units"]
        for r in tables["funnel"].rows
        if r["stage"] == "approved"
    }
    for row in tables["budget_use"].rows:
        used = sum(int(row[c] or 0) for c in ("committed", "paid", "released"))
        assert used == approved[row["currency"]]
    # The same figures as the budget service's own report (GET /operator/budgets).
    columns = tables["budget_use"].columns
    assert [{c: getattr(line, c) for c in columns} for line in budget_use(database)] == (
        tables["budget_use"].rows
    )
    (one,) = build_reports(database, ["budget_use"], ReportSelection(offer_id=OFFER_B), AS_OF)
    assert [row["offer_id"] for row in one.rows] == [OFFER_B]


def test_reports_of_one_offer_read_only_its_claims(database: Database) -> None:
    with database.transaction() as session:
        seed_reports(session)
    (sla, breaches) = build_reports(
        database, ["sla", "sla_breaches"], ReportSelection(offer_id=OFFER_B), AS_OF
    )
    assert [(r["offer_id"], r["month"]) for r in sla.rows] == [(OFFER_B, "2026-04")]
    assert [b["claim_id"] for b in breaches.rows] == ["c7"]


def test_metrics_counts_by_status_and_payment_outcome(database: Database) -> None:
    with database.transaction() as session:
        seed_reports(session)
    with database.reading() as session:
        repository = ReportRepository(session)
        by_status = repository.claims_by_status()
        payments = repository.payments_by_outcome()
    assert by_status[ClaimStatus.PAID] == 2
    assert by_status[ClaimStatus.CANCELLED] == 2
    assert by_status[ClaimStatus.PAYMENT_FAILED] == 0
    assert sum(by_status.values()) == 9
    assert payments == dict.fromkeys(PaymentStatus, 0)


def test_r16_a_returned_transfer_completes_the_payout_only_when_paid_again(
    database: Database,
) -> None:
    """R16: c1 was paid on 04-20; say the bank returned it (PAYMENT_FAILED on 04-24): its
    payout stage is not complete (no `paid_at`); paid again on 05-04, the stage ends then, at
    the payment that stayed, not at the first."""
    with database.transaction() as session:
        seed_reports(session)
        for sequence, status, when in (
            (5, ClaimStatus.PAYMENT_FAILED, at(4, 24)),
            (6, ClaimStatus.SCHEDULED_FOR_PAYMENT, at(4, 30)),
        ):
            session.add(_status_row("c1", sequence, status, when))
        session.get_one(Claim, "c1").status = ClaimStatus.PAYMENT_FAILED
    selection = ReportSelection()
    with database.reading() as session:
        facts = {f.claim_id: f for f in ReportRepository(session).claim_facts(selection)}
    assert facts["c1"].paid_at is None

    with database.transaction() as session:
        session.add(_status_row("c1", 7, ClaimStatus.PAID, at(5, 4)))
        session.get_one(Claim, "c1").status = ClaimStatus.PAID
    with database.reading() as session:
        facts = {f.claim_id: f for f in ReportRepository(session).claim_facts(selection)}
    assert facts["c1"].paid_at == at(5, 4)


def _status_row(claim_id: str, sequence: int, status: ClaimStatus, when: datetime) -> TimelineRow:
    return TimelineRow(
        claim_id=claim_id,
        sequence=sequence,
        at=when,
        actor="system",
        event=TimelineEvent.STATUS_CHANGED,
        to_status=status,
        reason="seeded",
    )
