"""D7: an offer's budget (what remains, whether it covers an approval) and its accruals; D8:
the decision policies' wire values."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.records import TimelineEvent
from cashback.domain.budgets import (
    BudgetUse,
    Commitment,
    CommitmentState,
    MonthlyAccrual,
    accruals,
    month_of,
)
from cashback.domain.offers import DecisionPolicy

amounts = st.integers(min_value=0, max_value=10**12)


def test_d7_what_remains_is_the_budget_less_committed_and_paid() -> None:
    """D7: released amounts are back in the budget; committed and paid ones are not."""
    use = BudgetUse(budget=100_000, committed=30_000, paid=20_000, released=40_000)
    assert use.remaining == 50_000
    assert use.approved == 90_000


def test_d7_the_last_minor_unit_of_a_budget_covers_an_approval_and_one_more_does_not() -> None:
    """D7: an approval that uses the budget up exactly passes; one minor unit more does not."""
    use = BudgetUse(budget=100_000, committed=60_000, paid=15_000)
    assert use.covers(25_000)
    assert not use.covers(25_001)
    assert BudgetUse(budget=0).covers(0)
    assert not BudgetUse(budget=0).covers(1)


def test_d7_an_offer_without_a_budget_covers_every_approval() -> None:
    """D7: no budget: nothing remains to compute, and every approval is covered."""
    use = BudgetUse(budget=None, committed=10**12, paid=10**12)
    assert use.remaining is None
    assert use.covers(10**12)


def test_d7_a_negative_approval_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^an approval cannot commit a negative amount$"):
        BudgetUse(budget=10).covers(-1)


@given(budget=amounts, committed=amounts, paid=amounts, amount=amounts)
def test_d7_an_approval_is_covered_exactly_when_it_keeps_within_the_budget(
    budget: int, committed: int, paid: int, amount: int
) -> None:
    """D7: covered iff committed + paid + the approval stay within the budget."""
    use = BudgetUse(budget=budget, committed=committed, paid=paid)
    assert use.covers(amount) is (committed + paid + amount <= budget)


def test_d7_accruals_are_approved_and_not_yet_paid_at_each_months_end() -> None:
    """D7: per month, what was approved by its end and neither paid nor released by then; a
    payment on the month's last day no longer counts, one on the next month's first does."""
    commitments = [
        Commitment(25_000, date(2026, 1, 15), date(2026, 3, 1)),  # paid on 1 March
        Commitment(10_000, date(2026, 1, 31), date(2026, 1, 31)),  # paid the same day
        Commitment(5_000, date(2026, 2, 28), None),  # still committed
        Commitment(7_000, date(2026, 2, 1), date(2026, 2, 28)),  # released on 28 February
    ]
    assert accruals(commitments, date(2026, 4, 10)) == [
        MonthlyAccrual(date(2026, 1, 1), 25_000, 1),
        MonthlyAccrual(date(2026, 2, 1), 30_000, 2),
        MonthlyAccrual(date(2026, 3, 1), 5_000, 1),
        MonthlyAccrual(date(2026, 4, 1), 5_000, 1),
    ]
    assert accruals([], date(2026, 4, 10)) == []


def test_d7_accruals_run_across_the_turn_of_a_year() -> None:
    commitments = [Commitment(1_000, date(2026, 12, 31), None)]
    assert accruals(commitments, date(2027, 1, 1)) == [
        MonthlyAccrual(date(2026, 12, 1), 1_000, 1),
        MonthlyAccrual(date(2027, 1, 1), 1_000, 1),
    ]


days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def commitments(draw: st.DrawFn) -> Commitment:
    committed_on = draw(days)
    settled = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=200)))
    settled_on = None if settled is None else committed_on + timedelta(days=settled)
    return Commitment(draw(st.integers(min_value=0, max_value=10**9)), committed_on, settled_on)


@given(st.lists(commitments(), max_size=12))
def test_d7_the_last_months_accrual_is_what_is_still_committed(held: list[Commitment]) -> None:
    """D7: at the end of a month after every settlement, the accrual is exactly the sum of the
    commitments never settled; every month from the first approval's is listed once."""
    through = date(2028, 12, 31)
    rows = accruals(held, through)
    if not held:
        assert rows == []
        return
    assert rows[0].month == month_of(min(c.committed_on for c in held))
    assert rows[-1].month == month_of(through)
    assert [r.month for r in rows] == sorted({r.month for r in rows})
    open_ = [c for c in held if c.settled_on is None]
    assert (rows[-1].amount, rows[-1].claims) == (sum(c.amount for c in open_), len(open_))


def test_d7_d8_wire_values() -> None:
    """The stored and sent values of the commitment states and the decision policies."""
    assert {s.value for s in CommitmentState} == {"committed", "paid", "released"}
    assert {p.value for p in DecisionPolicy} == {"at_the_deadline", "at_once_when_conclusive"}


def test_d7_r14_a_budget_shortfall_and_an_ambiguous_bank_answer_are_for_operators() -> None:
    """D7: the reason names the offer's budget, which is the program's, not the reseller's;
    R14: an ambiguous bank answer (FRAD: the bank suspects fraud) is for the operators."""
    assert {event for event in TimelineEvent if event.for_operators} == {
        TimelineEvent.BUDGET_SHORT,
        TimelineEvent.PAYMENT_ESCALATED,
    }
    assert TimelineEvent.BUDGET_SHORT.value == "budget_short"
