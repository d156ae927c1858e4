"""The payout (R14-R16, D5): the return window, the 45-day bound, payments rejected for
bank-detail reasons, transient failures, and a payment that must never happen twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from activities.payments import payout_idempotency_key
from cashback.claims import BankDetailsSubmission
from cashback.domain.payout import HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    RESELLER_NAME,
    Program,
    claim_input,
    licensing_record,
    today,
)

FIVE_DAYS = timedelta(days=5)
NEW_DETAILS = BankDetailsSubmission(
    reference="bank-details-new", holder_type=HolderType.COMPANY, holder_name=RESELLER_NAME
)


async def claim_with_bank_details(
    program: Program, *, sold_days_ago: int = 90, policy: ProgramPolicy | None = None
) -> tuple[Any, WorkflowHandle[Any, Any]]:
    program.add_record(licensing_record(sale_date=today() - timedelta(days=sold_days_ago)))
    claim = claim_input(policy=policy)
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)
    return claim, handle


async def test_r15_r14_payout_waits_for_the_return_window(program: Program) -> None:
    """R15: sold 10 days ago with a 60-day right of return: the payout waits until day 61 after
    the sale, then pays on that day. R14: that is after the 45-day bound from the final
    confirmation, so the breach is recorded and reported to the operators."""
    claim, handle = await claim_with_bank_details(program, sold_days_ago=10)
    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    expected = today() + timedelta(days=51)
    assert state.payout_date == expected
    assert state.payout_due == today() + timedelta(days=45)
    assert state.payout_overdue
    assert NoticeKind.PAYOUT_OVERDUE in program.kinds(claim)
    assert state.waiting_for == f"R15: return window ends; payout on {expected.isoformat()}"
    assert program.bank.calls == 0

    await program.fast_forward(handle, timedelta(days=50))
    assert (await program.state(handle)).status is ClaimStatus.SCHEDULED_FOR_PAYMENT
    assert program.bank.calls == 0

    await program.fast_forward(handle, timedelta(days=2))
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert outcome.paid_on == expected
    assert program.kinds(claim)[-1] is NoticeKind.REMITTANCE_ADVICE


async def test_r15_country_return_window_within_the_45_day_bound(program: Program) -> None:
    """R15 with a country's own right of return (DE: 14 days here): sold 10 days ago, paid on
    day 15 after the sale, within the 45 days of R14: no breach."""
    policy = ProgramPolicy(return_window_days_by_country={"DE": 14})
    claim, handle = await claim_with_bank_details(program, sold_days_ago=10, policy=policy)
    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert state.payout_date == today() + timedelta(days=5)
    assert not state.payout_overdue

    await program.fast_forward(handle, timedelta(days=6))
    outcome = await claim_outcome(handle)
    assert outcome.paid_on == today() + timedelta(days=5)
    assert NoticeKind.PAYOUT_OVERDUE not in program.kinds(claim)


async def test_r16_rejected_payment_three_unanswered_notices_cancel(program: Program) -> None:
    """R16: the bank rejects the payment for the bank details (AC01): the reseller gets
    payment-failure notices 1, 2, 3, five days apart; no update after the third: cancelled."""
    program.bank.rejections[COMPANY_DETAILS.reference] = "AC01"
    claim, handle = await claim_with_bank_details(program)
    state = await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)
    assert state.bank_return_code == "AC01"
    failure = program.notices(claim)[-1]
    assert (failure.kind, failure.number, failure.facts.bank_return_code) == (
        NoticeKind.PAYMENT_FAILURE,
        1,
        "AC01",
    )
    first = state.notices[-1]

    await program.fast_forward(handle, timedelta(days=20))
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.reasons == ["R16: no valid bank details after notice 3; the funds are forfeited"]
    failures = [n for n in program.notices(claim) if n.kind is NoticeKind.PAYMENT_FAILURE]
    assert [n.number for n in failures] == [1, 2, 3]
    cancelled = program.status_changes(claim)[-1]
    assert cancelled.at - first.sent_at == pytest.approx(3 * FIVE_DAYS, abs=timedelta(seconds=90))
    assert program.bank.transfers_for(claim.claim_id) == []


async def test_r16_updated_bank_details_are_paid_under_a_new_key(program: Program) -> None:
    """R16, D5: after a rejection (AC04, account closed) the reseller gives new details on the
    failure notice; the payout is retried under the next attempt's key and paid once."""
    program.bank.rejections[COMPANY_DETAILS.reference] = "AC04"
    claim, handle = await claim_with_bank_details(program)
    await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)

    await program.give_bank_details(handle, NEW_DETAILS)
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.PAID
    transfers = program.bank.transfers_for(claim.claim_id)
    assert [(t.idempotency_key, t.bank_details_ref) for t in transfers] == [
        (payout_idempotency_key(claim.claim_id, 2), "bank-details-new")
    ]
    assert ClaimStatus.PAYMENT_FAILED in program.statuses(claim)


async def test_r16_transient_bank_failures_are_retried_not_notified(program: Program) -> None:
    """R16: a bank that does not answer (AB06) is retried by Temporal; it is not a bank-detail
    error: no payment-failure notice, no PAYMENT_FAILED status, one transfer."""
    program.bank.transient_failures = 2
    claim, handle = await claim_with_bank_details(program)
    await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT, waiting=False)
    await program.fast_forward(handle, timedelta(minutes=5))
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.PAID
    assert program.bank.calls == 3
    assert len(program.bank.transfers_for(claim.claim_id)) == 1
    assert NoticeKind.PAYMENT_FAILURE not in program.kinds(claim)
    assert ClaimStatus.PAYMENT_FAILED not in program.statuses(claim)


async def test_d5_payment_that_failed_after_the_bank_paid_pays_once(program: Program) -> None:
    """D5: the bank accepts the transfer, then the activity fails (connection lost); Temporal
    retries it with the same idempotency key and the bank answers with the first payment:
    exactly one transfer."""
    program.bank.crash_after_transfer = True
    claim, handle = await claim_with_bank_details(program)
    await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT, waiting=False)
    await program.fast_forward(handle, timedelta(minutes=5))
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.PAID
    assert program.bank.calls == 2
    transfers = program.bank.transfers_for(claim.claim_id)
    assert [t.idempotency_key for t in transfers] == [payout_idempotency_key(claim.claim_id, 1)]
    assert outcome.payment_reference == f"BANK-{payout_idempotency_key(claim.claim_id, 1)}"


async def test_r16_three_rejected_payments_cancel_the_claim(program: Program) -> None:
    """R16: every set of bank details the reseller gives is rejected by the bank (AC01, AC06,
    BE01): each rejection brings the next payment-failure notice; the third goes unanswered and
    five days later the claim is cancelled, nothing paid."""
    refs = ["bank-details-a", "bank-details-b"]
    program.bank.rejections |= {COMPANY_DETAILS.reference: "AC01", refs[0]: "AC06", refs[1]: "BE01"}
    claim, handle = await claim_with_bank_details(program)
    for number, ref in enumerate(refs, start=1):
        state = await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED, notices=0)
        failures = [n for n in state.notices if n.kind is NoticeKind.PAYMENT_FAILURE]
        assert len(failures) == number
        await program.give_bank_details(handle, NEW_DETAILS.model_copy(update={"reference": ref}))
        await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED, notices=len(state.notices) + 1)
    await program.fast_forward(handle, FIVE_DAYS + timedelta(minutes=1))
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.reasons == ["R16: no valid bank details after notice 3; the funds are forfeited"]
    sent = [n for n in program.notices(claim) if n.kind is NoticeKind.PAYMENT_FAILURE]
    assert [(n.notification, n.facts.bank_return_code) for n in sent] == [
        (1, "AC01"),
        (2, "AC06"),
        (3, "BE01"),
    ]
    assert program.bank.calls == 3
    assert program.bank.transfers_for(claim.claim_id) == []
