"""The workflow's rules at their edges, where a changed comparison or a swapped source would
go unnoticed elsewhere: day 45 of R14, an approval that fits the maximum exactly (R3, D3), the
operator's sale date (R15) and the end customer's country for the right of return (R15)."""

from __future__ import annotations

from datetime import timedelta

from cashback.claims import Decision, DecisionKind
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    Program,
    claim_input,
    licensing_record,
    today,
)
from tests.workflows.test_payout import claim_with_bank_details
from tests.workflows.test_review import approve_unknown_agreement_beside


async def test_r14_a_payout_on_day_45_is_within_the_bound(program: Program) -> None:
    """R14: sold 16 days ago, 60 days of return (R15): the first payable day is day 45 after the
    final confirmation, the last day of the bound: paid then, nothing reported overdue."""
    claim, handle = await claim_with_bank_details(program, sold_days_ago=16)
    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert state.payout_due == today() + timedelta(days=45)
    assert state.payout_date == state.payout_due
    assert not state.payout_overdue

    await program.fast_forward(handle, timedelta(days=46))
    outcome = await program.outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert outcome.paid_on == today() + timedelta(days=45)
    assert NoticeKind.PAYOUT_OVERDUE not in program.kinds(claim)
    assert not (await program.state(handle)).payout_overdue


async def test_r14_a_payout_on_day_46_is_overdue(program: Program) -> None:
    """R14: one day later than the bound (sold 15 days ago): reported to the operators once."""
    claim, handle = await claim_with_bank_details(program, sold_days_ago=15)
    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert state.payout_date == today() + timedelta(days=46)
    assert state.payout_overdue
    assert program.kinds(claim).count(NoticeKind.PAYOUT_OVERDUE) == 1
    await handle.terminate("test done")


async def test_r3_d3_an_approval_that_fits_the_maximum_exactly_is_not_cut(
    program: Program,
) -> None:
    """R3: other claims hold 92 of the customer's 100 licences; the operator approves 8: all 8
    fit, and the timeline (D3) says so without a note about the maximum."""
    claim, handle, state = await approve_unknown_agreement_beside(program, 92, 8)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)

    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert state.amount is not None
    assert state.amount.minor_units == 8 * 1250
    assert program.status_changes(claim)[-1].reason == "approved: 8 licences, 100.00 EUR"
    await handle.terminate("test done")


async def test_r15_the_operators_sale_date_wins_over_the_records(program: Program) -> None:
    """R15: the records say sold 90 days ago (the right of return is over); the operator, who
    saw the invoice, approves with a sale 10 days ago: the payout waits for day 61 after it."""
    program.add_record(licensing_record(sale_date=today() - timedelta(days=90)))
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    sold = today() - timedelta(days=10)
    await program.decide(handle, APPROVE.model_copy(update={"sale_date": sold}))
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)

    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert state.payout_date == sold + timedelta(days=61)
    assert program.bank.calls == 0
    await handle.terminate("test done")


async def test_r15_the_end_customers_country_sets_the_return_window(program: Program) -> None:
    """R15: the right of return is the end customer's: a customer in Austria (14 days here)
    bought from a German reseller (60 days by default): sold 10 days ago, paid in 5 days."""
    record = licensing_record(sale_date=today() - timedelta(days=10))
    program.add_record(record.model_copy(update={"customer_country": "AT"}))
    claim = claim_input(
        policy=ProgramPolicy(return_window_days_by_country={"AT": 14}), country="DE"
    )
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, Decision(kind=DecisionKind.APPROVE, operator="olga.operator"))
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)

    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert state.payout_date == today() + timedelta(days=5)
    await handle.terminate("test done")
