"""A transfer the bank returns after the claim was paid (R16, D5, D7): a paid claim watches for
a return for the policy's `returns_watched_for`; a `payment_returned` signal for its payout takes
it back to PAYMENT_FAILED and into the R16 loop (the same three notices at most), pays again
under a new key, and commits the amount against the budget again until then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from activities.payments import payout_idempotency_key
from activities.records import TimelineEvent
from cashback.claims import BankDetailsSubmission, ClaimInput, PaymentReturn
from cashback.domain.budgets import CommitmentState
from cashback.domain.payout import HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    RESELLER_NAME,
    Program,
    claim_input,
    licensing_record,
)
from workflows.claim import ClaimWorkflow

WATCH = timedelta(days=14)
WATCHED = ProgramPolicy(returns_watched_for=WATCH)
NEW_DETAILS = BankDetailsSubmission(
    reference="bank-details-new", holder_type=HolderType.COMPANY, holder_name=RESELLER_NAME
)
AMOUNT = 20 * 1250  # the default record's 20 licences at 12.50 EUR


async def paid_claim(
    program: Program, policy: ProgramPolicy = WATCHED
) -> tuple[ClaimInput, WorkflowHandle[Any, Any]]:
    """A claim paid at once (sold 90 days ago) whose policy watches for returns."""
    program.add_record(licensing_record())
    claim = claim_input(policy=policy)
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)
    await program.wait_for(handle, ClaimStatus.PAID)
    return claim, handle


def returned(claim: ClaimInput, attempt: int, code: str = "AC04") -> PaymentReturn:
    key = payout_idempotency_key(claim.claim_id, attempt)
    return PaymentReturn(idempotency_key=key, return_code=code, bank_reference=f"RTN-{attempt}")


def returns_on_the_timeline(program: Program, claim: ClaimInput) -> list[str]:
    return [
        e.reason for e in program.timeline_of(claim) if e.event is TimelineEvent.PAYMENT_RETURNED
    ]


async def test_r16_d5_d7_a_return_within_the_watch_reopens_the_claim_and_a_new_payout_pays(
    program: Program,
) -> None:
    """R16: the paid transfer comes back (AC04, account closed): PAYMENT_FAILED with the
    return on the timeline and the failure notice; D7: the amount is committed again; D5: the
    new details are paid under the next key; the new payout is watched in turn, and the
    watch's end closes the claim PAID."""
    program.budgets.budgets["offer-office-2026"] = 100_000
    claim, handle = await paid_claim(program)
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.PAID

    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 1))
    state = await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)

    assert returns_on_the_timeline(program, claim) == ["AC04: account closed, bank reference RTN-1"]
    assert program.statuses(claim)[-2:] == [ClaimStatus.PAID, ClaimStatus.PAYMENT_FAILED]
    assert (state.bank_return_code, state.paid_on, state.payment_reference) == ("AC04", None, None)
    failures = [n for n in program.notices(claim) if n.kind is NoticeKind.PAYMENT_FAILURE]
    assert [(n.notification, n.facts.bank_return_code) for n in failures] == [(1, "AC04")]
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.COMMITTED
    assert program.budgets.use("offer-office-2026").committed == AMOUNT

    await program.give_bank_details(handle, NEW_DETAILS)
    state = await program.wait_for(handle, ClaimStatus.PAID)
    assert state.waiting_for.startswith("R16: watching for a return of the transfer until ")
    transfers = program.bank.transfers_for(claim.claim_id)
    assert [(t.idempotency_key, t.bank_details_ref) for t in transfers] == [
        (payout_idempotency_key(claim.claim_id, 1), COMPANY_DETAILS.reference),
        (payout_idempotency_key(claim.claim_id, 2), NEW_DETAILS.reference),
    ]
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.PAID

    await program.fast_forward(handle, WATCH + timedelta(minutes=1))
    outcome = await program.outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert outcome.payment_reference == f"BANK-{payout_idempotency_key(claim.claim_id, 2)}"
    use = program.budgets.use("offer-office-2026")
    assert (use.committed, use.paid, use.released) == (0, AMOUNT, 0)


async def test_r16_the_watchs_end_closes_the_claim_paid_in_the_demos_time(
    program: Program,
) -> None:
    """R16: with a demo's `time_scale` (a day in 86.4 s) the 14 days' watch ends after 1,210
    s: before it the claim is still open and PAID, after it the workflow has ended PAID; a
    return signalled then reaches no claim."""
    policy = ProgramPolicy(returns_watched_for=WATCH, time_scale=0.001)
    claim, handle = await paid_claim(program, policy)
    state = await program.state(handle)
    assert state.waiting_for.startswith("R16: watching for a return of the transfer until ")

    assert await program.fast_forward(handle, timedelta(seconds=1_200))
    assert (await program.state(handle)).status is ClaimStatus.PAID
    await program.fast_forward(handle, timedelta(seconds=20))
    outcome = await program.outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert outcome.payment_reference == f"BANK-{payout_idempotency_key(claim.claim_id, 1)}"
    assert returns_on_the_timeline(program, claim) == []
    with pytest.raises(RPCError, match="already completed"):
        await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 1))


async def test_r16_a_return_before_payment_of_another_payout_or_twice_is_applied_once(
    program: Program,
) -> None:
    """R16: a return signalled while the claim is under review, or for a payout other than
    the one paid, changes nothing; the same return signalled twice reopens the claim once."""
    program.add_record(licensing_record())
    claim = claim_input(policy=WATCHED)
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 1))
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)
    await program.wait_for(handle, ClaimStatus.PAID)

    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 2))
    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 1, "MD07"))
    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 1, "AC06"))
    await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)
    await program.give_bank_details(handle, NEW_DETAILS)
    await program.wait_for(handle, ClaimStatus.PAID)
    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 1, "AC06"))
    await program.fast_forward(handle, WATCH + timedelta(minutes=1))

    assert (await program.outcome(handle)).status is ClaimStatus.PAID
    assert [r.split(":")[0] for r in returns_on_the_timeline(program, claim)] == ["MD07"]
    assert program.statuses(claim).count(ClaimStatus.PAYMENT_FAILED) == 1
    assert len(program.bank.transfers_for(claim.claim_id)) == 2


async def test_d7_r16_a_return_shares_the_three_notices_and_a_forfeit_releases_the_amount(
    program: Program,
) -> None:
    """R16: the notices after a return continue the series of the rejection before it
    (notice 2 of 3, then 3); unanswered, the claim is forfeited; D7: the amount committed
    again on the return is released."""
    program.bank.rejections[COMPANY_DETAILS.reference] = "AC01"
    program.add_record(licensing_record())
    claim = claim_input(policy=WATCHED)
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)
    await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)
    await program.give_bank_details(handle, NEW_DETAILS)
    await program.wait_for(handle, ClaimStatus.PAID)

    await handle.signal(ClaimWorkflow.payment_returned, returned(claim, 2))
    await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)
    await program.fast_forward(handle, timedelta(days=10, minutes=1))
    outcome = await program.outcome(handle)

    assert (outcome.status, outcome.forfeited) == (ClaimStatus.CANCELLED, True)
    failures = [n for n in program.notices(claim) if n.kind is NoticeKind.PAYMENT_FAILURE]
    assert [(n.notification, n.facts.bank_return_code) for n in failures] == [
        (1, "AC01"),
        (2, "AC04"),
        (3, "AC04"),
    ]
    assert program.budgets.state_of(claim.claim_id) is CommitmentState.RELEASED
