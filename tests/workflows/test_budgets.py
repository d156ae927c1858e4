"""Offer budgets (D7) in the claim's lifecycle: an approval commits its amount, the payout
consumes it, a cancellation or forfeit (R10, R12, R16) releases it, and an approval the budget
cannot cover is escalated to the operators and waits for a top-up or a decision. After every
path, what is committed, paid and released adds up to what was approved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from activities.records import TimelineEvent
from cashback.claims import BankDetailsSubmission, ClaimInput, Decision, DecisionKind
from cashback.domain.budgets import BudgetUse, CommitmentState
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    Program,
    claim_input,
    licensing_record,
)

OFFER = "offer-office-2026"
AMOUNT = 20 * 1250  # the default record's 20 licences at 12.50 EUR


async def under_review(
    program: Program, budget: int | None, agreement: str = "OL-1001"
) -> tuple[ClaimInput, WorkflowHandle[Any, Any]]:
    if budget is not None:
        program.budgets.budgets[OFFER] = budget
    program.add_record(licensing_record(agreement))
    claim = claim_input(agreement)
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    return claim, handle


def adds_up(use: BudgetUse, approved: int) -> None:
    """D7: every amount approved is committed, paid or released, exactly once."""
    assert use.committed + use.paid + use.released == approved
    if use.budget is not None:
        assert use.committed + use.paid <= use.budget


async def test_d7_an_approval_commits_and_the_payout_consumes_it(program: Program) -> None:
    """D7: approved -> committed (the remainder shrinks), paid -> consumed."""
    claim, handle = await under_review(program, budget=100_000)
    await program.decide(handle, APPROVE)
    assert program.budgets.use(OFFER) == BudgetUse(budget=100_000, committed=AMOUNT)
    assert program.budgets.use(OFFER).remaining == 100_000 - AMOUNT

    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle)
    assert (await program.outcome(handle)).status is ClaimStatus.PAID
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.PAID
    assert program.budgets.use(OFFER) == BudgetUse(budget=100_000, paid=AMOUNT)
    adds_up(program.budgets.use(OFFER), AMOUNT)


async def test_d7_an_offer_without_a_budget_still_records_its_commitments(
    program: Program,
) -> None:
    """D7: without a budget every approval is covered; its commitment is kept for the
    accruals and the budget-use report."""
    _claim, handle = await under_review(program, budget=None)
    state = await program.decide(handle, APPROVE)
    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert program.budgets.use(OFFER) == BudgetUse(budget=None, committed=AMOUNT)
    await handle.terminate("test done")


async def test_d7_r8_a_rejection_commits_nothing(program: Program) -> None:
    """D7: a claim rejected at review never held part of the budget."""
    claim, handle = await under_review(program, budget=100_000)
    reject = Decision(kind=DecisionKind.REJECT, operator="olga.operator", reasons=("no",))
    await program.decide(handle, reject)
    assert (await program.outcome(handle)).status is ClaimStatus.REJECTED
    assert program.budgets.state_of(claim.claim_id) is None
    assert program.budgets.use(OFFER) == BudgetUse(budget=100_000)


async def test_d7_r12_a_cancellation_releases_the_commitment(program: Program) -> None:
    """D7, R12: an individual's account cancels the claim; its commitment is released."""
    claim, handle = await under_review(program, budget=100_000)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    individual = BankDetailsSubmission(
        reference="bank-details-9", holder_type=HolderType.INDIVIDUAL, holder_name="Max Muster"
    )
    await program.give_bank_details(handle, individual)
    assert (await program.outcome(handle)).status is ClaimStatus.CANCELLED
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.RELEASED
    use = program.budgets.use(OFFER)
    assert (use.remaining, use.released) == (100_000, AMOUNT)
    adds_up(use, AMOUNT)


async def test_d7_r10_a_forfeit_releases_the_commitment(program: Program) -> None:
    """D7, R10: no bank details after the third notice: forfeited, the commitment released."""
    claim, handle = await under_review(program, budget=100_000)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.fast_forward(handle, timedelta(days=20))
    outcome = await program.outcome(handle)
    assert (outcome.status, outcome.forfeited) == (ClaimStatus.CANCELLED, True)
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.RELEASED
    adds_up(program.budgets.use(OFFER), AMOUNT)
    assert program.budgets.use(OFFER).remaining == 100_000


async def test_d7_r16_a_forfeit_after_a_rejected_payment_releases_the_commitment(
    program: Program,
) -> None:
    """D7, R16: the bank refuses the transfer and no new details come: forfeited, released."""
    program.bank.rejections[COMPANY_DETAILS.reference] = "AC04"
    claim, handle = await under_review(program, budget=100_000)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle)
    await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.COMMITTED
    await program.fast_forward(handle, timedelta(days=20))
    assert (await program.outcome(handle)).status is ClaimStatus.CANCELLED
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.RELEASED
    adds_up(program.budgets.use(OFFER), AMOUNT)


async def test_d7_an_approval_the_budget_cannot_cover_waits_for_a_top_up(
    program: Program,
) -> None:
    """D7: the budget's remainder (10,000 of 10,000) cannot cover 25,000: the claim is not
    approved but escalated with the reason (timeline and operators' notice), and waits under
    review; a top-up lets the same approval through."""
    claim, handle = await under_review(program, budget=10_000)
    state = await program.decide(handle, APPROVE)
    assert state.status is ClaimStatus.UNDER_REVIEW
    assert (state.awaiting_budget, state.escalated, state.amount) == (True, True, None)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.waiting_for.startswith("D7: the offer's budget cannot cover the approval")
    short = [e for e in program.timeline_of(claim) if e.event is TimelineEvent.BUDGET_SHORT]
    reason = (
        "D7: the offer's budget cannot cover this approval of 250.00 EUR (100.00 EUR of "
        "100.00 EUR remain); top up the budget or decide again"
    )
    assert [e.reason for e in short] == [reason]
    assert short[0].projection is not None
    assert short[0].projection.awaiting_budget
    escalation = program.notices(claim)[-1]
    assert (escalation.kind, escalation.facts.reasons) == (
        NoticeKind.BUDGET_SHORTFALL,
        (reason,),
    )
    assert program.budgets.state_of(claim.claim_id) is None

    await program.top_up(OFFER, 20_000, handle)  # still short: recorded again, not mailed
    await program.top_up(OFFER, 50_000, handle)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    assert (state.awaiting_budget, state.amount is not None) == (False, True)
    assert program.budgets.use(OFFER) == BudgetUse(budget=50_000, committed=AMOUNT)
    escalations = [k for k in program.kinds(claim) if k is NoticeKind.BUDGET_SHORTFALL]
    assert len(escalations) == 1
    approved = program.status_changes(claim)[-1]
    assert (approved.actor, approved.reason) == (
        "olga.operator",
        "approved: 20 licences, 250.00 EUR",
    )
    await handle.terminate("test done")


async def test_d7_a_top_up_racing_the_shortfall_is_not_missed(program: Program) -> None:
    """D7: an operator tops up after the claim's commitment was refused but before the claim
    shows as waiting for budget (so the top-up tells no one): having recorded the shortfall,
    the claim tries once more, and is approved without waiting."""
    claim, handle = await under_review(program, budget=10_000)
    program.budgets.top_up_after_refusal = 50_000
    state = await program.decide(handle, APPROVE)
    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert state.awaiting_budget is False
    assert program.budgets.refused == [claim.claim_id]
    events = [e.event for e in program.timeline_of(claim)]
    assert events.count(TimelineEvent.BUDGET_SHORT) == 1
    assert program.budgets.use(OFFER) == BudgetUse(budget=50_000, committed=AMOUNT)
    await handle.terminate("test done")


async def test_d7_while_waiting_for_budget_an_operator_decides_instead(
    program: Program,
) -> None:
    """D7: waiting for budget, the claim takes an operator's decision: an approval of fewer
    licences that fits (8 x 12.50 = 100.00 EUR), or a rejection."""
    _claim, handle = await under_review(program, budget=10_000)
    await program.decide(handle, APPROVE)
    fewer = Decision(kind=DecisionKind.APPROVE, operator="olga.operator", licences=8)
    state = await program.decide(handle, fewer)
    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert program.budgets.use(OFFER) == BudgetUse(budget=10_000, committed=8 * 1250)
    await handle.terminate("test done")

    other, waiting = await under_review(program, budget=None, agreement="OL-1002")
    program.budgets.budgets[OFFER] = 10_000  # nothing left for a second claim
    assert (await program.decide(waiting, APPROVE)).awaiting_budget
    reject = Decision(kind=DecisionKind.REJECT, operator="olga.operator", reasons=("no budget",))
    state = await program.decide(waiting, reject)
    assert state.status is ClaimStatus.REJECTED
    assert state.awaiting_budget is False  # no longer told of top-ups
    rejected = program.status_changes(other)[-1]
    assert rejected.projection is not None
    assert rejected.projection.awaiting_budget is False
    assert program.budgets.state_of(other.claim_id) is None
    adds_up(program.budgets.use(OFFER), 8 * 1250)
