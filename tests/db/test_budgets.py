"""D7: offer budgets on SQLite and PostgreSQL: commitments, their payout or release, and the
operators' changes of a budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cashback.budgets import AccrualLine, BudgetLine, accrual_lines, as_csv, budget_use
from cashback.db import Database
from cashback.db.budgets import BudgetBelowUse, BudgetRepository, SqlBudgets, UnknownOffer
from cashback.db.tables import BudgetCommitment, Offer, OfferBudgetChange
from cashback.domain.budgets import BudgetUse, CommitmentState
from cashback.domain.money import Money
from tests.db.seed import OFFER_ID, add_claims


def eur(minor_units: int) -> Money:
    return Money(minor_units=minor_units, currency="EUR")


def use(database: Database) -> BudgetUse:
    with database.reading() as session:
        repository = BudgetRepository(session)
        return repository.use(repository.lock_offer(OFFER_ID))


@pytest.fixture
def ledger(database: Database) -> SqlBudgets:
    with database.transaction() as session:
        add_claims(session, "c-paid", "c-released", "c-short", "c-late")
    with database.transaction() as session:
        BudgetRepository(session).change_budget(OFFER_ID, "olga", to=50_000)
    return SqlBudgets(database)


def test_d7_commitments_add_up_through_payout_and_release(
    database: Database, ledger: SqlBudgets
) -> None:
    """D7: approved -> committed; paid -> consumed; cancelled -> released (back in the
    budget); after each step committed + paid + released is what was approved."""
    assert ledger.commit("c-paid", OFFER_ID, eur(20_000)).committed
    assert ledger.commit("c-released", OFFER_ID, eur(25_000)).committed
    assert use(database) == BudgetUse(budget=50_000, committed=45_000)
    ledger.settle("c-paid", CommitmentState.PAID)
    assert use(database) == BudgetUse(budget=50_000, committed=25_000, paid=20_000)
    ledger.settle("c-released", CommitmentState.RELEASED)
    after = use(database)
    assert after == BudgetUse(budget=50_000, paid=20_000, released=25_000)
    assert after.approved == 45_000
    assert after.remaining == 30_000
    # idempotent, and a paid commitment is never released afterwards
    ledger.settle("c-paid", CommitmentState.RELEASED)
    ledger.settle("c-released", CommitmentState.PAID)
    ledger.settle("c-late", CommitmentState.RELEASED)  # committed nothing: nothing happens
    assert use(database) == after


def test_d7_r16_a_returned_payout_is_committed_again_then_paid_or_released(
    database: Database, ledger: SqlBudgets
) -> None:
    """D7, R16: the paid transfer came back: its amount is committed again (remaining does
    not change), once however often it is asked, until a forfeit releases it; a commitment
    that is not paid (released, none) is left as it is."""
    assert ledger.commit("c-paid", OFFER_ID, eur(20_000)).committed
    assert ledger.commit("c-released", OFFER_ID, eur(25_000)).committed
    ledger.settle("c-paid", CommitmentState.PAID)
    ledger.settle("c-released", CommitmentState.RELEASED)
    ledger.reopen("c-paid")
    ledger.reopen("c-paid")
    ledger.reopen("c-released")
    ledger.reopen("c-late")
    reopened = use(database)
    assert reopened == BudgetUse(budget=50_000, committed=20_000, released=25_000)
    assert reopened.remaining == 30_000
    with database.reading() as session:
        commitment = session.get(BudgetCommitment, "c-paid")
        assert commitment is not None
        assert commitment.settled_at is None
    ledger.settle("c-paid", CommitmentState.RELEASED)
    assert use(database) == BudgetUse(budget=50_000, released=45_000)


def test_d7_the_last_of_a_budget_is_committed_once(database: Database, ledger: SqlBudgets) -> None:
    """D7: 50,000 exactly fits; one minor unit more does not, and the refusal commits
    nothing; a retried commitment answers as committed without committing twice."""
    refused = ledger.commit("c-short", OFFER_ID, eur(50_001))
    assert not refused.committed
    assert refused.use.remaining == 50_000
    answer = ledger.commit("c-paid", OFFER_ID, eur(50_000))
    assert answer.committed
    assert answer.use.remaining == 0
    assert ledger.commit("c-paid", OFFER_ID, eur(50_000)).committed  # an activity retry
    assert not ledger.commit("c-short", OFFER_ID, eur(1)).committed
    with database.reading() as session:
        rows = session.scalars(select(BudgetCommitment.claim_id)).all()
    assert rows == ["c-paid"]


def test_d7_a_commitment_in_another_currency_is_refused(ledger: SqlBudgets) -> None:
    with pytest.raises(ValueError, match="the offer pays in EUR, not USD"):
        ledger.commit("c-paid", OFFER_ID, Money(minor_units=1, currency="USD"))
    with pytest.raises(UnknownOffer):
        ledger.commit("c-paid", "no-such-offer", eur(1))


def test_d7_a_budget_is_set_and_topped_up_never_below_its_use(
    database: Database, ledger: SqlBudgets
) -> None:
    """D7: a top-up adds to the budget; a budget below what is committed and paid is refused,
    naming the lowest it may be; every change is recorded with its operator."""
    ledger.commit("c-paid", OFFER_ID, eur(30_000))
    ledger.settle("c-paid", CommitmentState.PAID)
    ledger.commit("c-released", OFFER_ID, eur(15_000))
    with database.transaction() as session:
        offer, after = BudgetRepository(session).change_budget(OFFER_ID, "olga", top_up=10_000)
        assert offer.budget_minor_units == 60_000
        assert after.remaining == 15_000
    lowest = r"450\.00 EUR of this offer's budget is committed or paid already"
    with pytest.raises(BudgetBelowUse, match=lowest), database.transaction() as session:
        BudgetRepository(session).change_budget(OFFER_ID, "olga", to=44_999)
    with database.transaction() as session:
        BudgetRepository(session).change_budget(OFFER_ID, "otto", to=45_000)
    with database.reading() as session:
        changes = session.execute(
            select(
                OfferBudgetChange.operator,
                OfferBudgetChange.change,
                OfferBudgetChange.amount_minor_units,
                OfferBudgetChange.budget_minor_units,
            ).order_by(OfferBudgetChange.id)
        ).all()
    assert [tuple(c) for c in changes] == [
        ("olga", "set", 50_000, 50_000),
        ("olga", "top_up", 10_000, 60_000),
        ("otto", "set", 45_000, 45_000),
    ]
    assert use(database).remaining == 0


def test_d7_every_offers_use_and_commitments(database: Database, ledger: SqlBudgets) -> None:
    ledger.commit("c-paid", OFFER_ID, eur(10_000))
    ledger.settle("c-paid", CommitmentState.PAID)
    ledger.commit("c-late", OFFER_ID, eur(5_000))
    with database.reading() as session:
        repository = BudgetRepository(session)
        [(offer, found)] = repository.uses()
        commitments = repository.commitments()
    assert (offer.id, found) == (OFFER_ID, BudgetUse(budget=50_000, committed=5_000, paid=10_000))
    assert sorted(c.amount for c in commitments[OFFER_ID]) == [5_000, 10_000]
    assert [c.settled_on is None for c in commitments[OFFER_ID]].count(True) == 1


def test_d7_the_reports_as_csv_keep_formulas_out(database: Database, ledger: SqlBudgets) -> None:
    """D7: the budget-use report and the accruals from the database, as CSV; an offer's name
    a spreadsheet would run as a formula starts with `'` (CSV injection)."""
    with database.transaction() as session:
        session.get_one(Offer, OFFER_ID).name = '=HYPERLINK("http://x")'
    ledger.commit("c-paid", OFFER_ID, eur(20_000))
    lines = budget_use(database)
    assert as_csv(lines, BudgetLine).splitlines() == [
        "offer_id,offer_name,currency,budget,committed,paid,released,remaining",
        'offer-1,"\'=HYPERLINK(""http://x"")",EUR,50000,20000,0,0,30000',
    ]
    today = datetime.now(UTC).date()
    accrued = accrual_lines(database, today)
    assert accrued == [AccrualLine(OFFER_ID, "EUR", f"{today:%Y-%m}", 20_000, 1)]
    assert as_csv(accrued, AccrualLine).splitlines()[1] == f"offer-1,EUR,{today:%Y-%m},20000,1"
