"""R10 "submit or confirm": bank details a reseller confirmed for all later claims are used
without a request; details that no longer fit (R11) bring the usual requests; a payment
rejected by the bank (R16) always asks for new details."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle

from activities.records import TimelineEvent
from cashback.claims import BankDetailsSubmission
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    Program,
    claim_input,
    licensing_record,
)

RESELLER = "reseller-7"  # the reseller of claim_input()


async def submit_and_approve(program: Program) -> tuple[Any, WorkflowHandle[Any, Any]]:
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    return claim, handle


def received(program: Program, claim: Any) -> list[str]:
    return [
        entry.reason
        for entry in program.timeline_of(claim)
        if entry.event is TimelineEvent.BANK_DETAILS_RECEIVED
    ]


async def test_r10_confirmed_details_are_paid_without_a_request(program: Program) -> None:
    """R10, R14: with a standing confirmation the claim goes from the final confirmation to
    payment: no bank-details request, one transfer to the confirmed account."""
    program.standing.by_reseller[RESELLER] = COMPANY_DETAILS
    claim, handle = await submit_and_approve(program)

    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert NoticeKind.BANK_DETAILS_REQUEST not in program.kinds(claim)
    assert program.kinds(claim)[-1] is NoticeKind.REMITTANCE_ADVICE
    assert received(program, claim) == ["valid: confirmed for all claims"]
    assert program.statuses(claim)[-3:] == [
        ClaimStatus.AWAITING_BANK_DETAILS,
        ClaimStatus.SCHEDULED_FOR_PAYMENT,
        ClaimStatus.PAID,
    ]
    [transfer] = program.bank.transfers_for(claim.claim_id)
    assert transfer.bank_details_ref == COMPANY_DETAILS.reference
    state = await program.state(handle)
    assert state.last_bank_details_judgement is BankDetailsJudgement.VALID
    history = await handle.fetch_history()
    markers = [e.marker_recorded_event_attributes.marker_name for e in history.events]
    assert "core_patch" in markers  # the patch `STANDING_CONFIRMATION` (docs/workflow-changes.md)


async def test_r10_without_a_confirmation_the_request_goes_out(program: Program) -> None:
    """R10: no standing confirmation: the reseller is asked (notice 1), as before."""
    claim, handle = await submit_and_approve(program)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)

    assert program.standing.asked == [RESELLER]
    assert program.kinds(claim)[-1] is NoticeKind.BANK_DETAILS_REQUEST
    assert received(program, claim) == []
    await program.give_bank_details(handle)
    assert (await claim_outcome(handle)).status is ClaimStatus.PAID


async def test_r11_confirmed_details_of_another_name_bring_a_request(program: Program) -> None:
    """R11: confirmed details whose holder is not named like the reseller are not used; the
    reseller is asked for details instead (and the claim is not cancelled)."""
    program.standing.by_reseller[RESELLER] = BankDetailsSubmission(
        reference="bank-details-old", holder_type=HolderType.COMPANY, holder_name="Other GmbH"
    )
    claim, handle = await submit_and_approve(program)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)

    assert program.kinds(claim)[-1] is NoticeKind.BANK_DETAILS_REQUEST
    assert received(program, claim) == [
        "name_mismatch: confirmed for all claims; asking for bank details"
    ]
    await program.give_bank_details(handle)
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    [transfer] = program.bank.transfers_for(claim.claim_id)
    assert transfer.bank_details_ref == COMPANY_DETAILS.reference


async def test_r16_a_rejected_payment_to_confirmed_details_asks_for_new_ones(
    program: Program,
) -> None:
    """R16: the bank rejects the payment to the confirmed account (AC04): the payment-failure
    notice asks for new details; the standing confirmation is not used again."""
    program.standing.by_reseller[RESELLER] = COMPANY_DETAILS
    program.bank.rejections[COMPANY_DETAILS.reference] = "AC04"
    claim, handle = await submit_and_approve(program)
    await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED)

    assert program.kinds(claim)[-1] is NoticeKind.PAYMENT_FAILURE
    assert program.standing.asked == [RESELLER]
    new_details = COMPANY_DETAILS.model_copy(update={"reference": "bank-details-2"})
    assert await program.give_bank_details(handle, new_details) is BankDetailsJudgement.VALID
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    [transfer] = program.bank.transfers_for(claim.claim_id)
    assert transfer.bank_details_ref == "bank-details-2"
