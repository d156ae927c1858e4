"""An ambiguous bank answer to a payout (issue 14, part 2; R14, R16): the import signals
`payment_escalated` to the claim, whose payment activity keeps waiting. The claim records the
escalation on its timeline (the read model shows it waiting for the operators) and mails the
operators once; the operators' answer then pays, or fails the payment into R16, as before."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle

from activities.payments import PaymentOutcome, PaymentResult, payout_idempotency_key
from activities.records import TimelineEntry, TimelineEvent
from cashback.claims import ClaimInput, ClaimState, PaymentEscalation
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_state_until
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    Program,
    claim_input,
    licensing_record,
)
from tests.workflows.test_straight_through import patches_of
from workflows.claim import PAYMENT_ESCALATION, ClaimWorkflow


async def claim_waiting_for_the_bank(
    program: Program,
) -> tuple[ClaimInput, WorkflowHandle[Any, Any], bytes]:
    """A claim due at once whose payout went out to a file exchange: its payment activity
    waits for the bank's answer (the task token an import or an operator completes)."""
    program.bank.answers_later = True
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle, COMPANY_DETAILS)
    key = payout_idempotency_key(claim.claim_id, 1)
    await claim_state_until(
        handle,
        lambda state: (
            state.status is ClaimStatus.SCHEDULED_FOR_PAYMENT and key in program.bank.waiting
        ),
        "the payout waits for the bank",
        30,
    )
    return claim, handle, program.bank.waiting[key]


def escalation(claim: ClaimInput, attempt: int, code: str | None = "MS03") -> PaymentEscalation:
    key = payout_idempotency_key(claim.claim_id, attempt)
    return PaymentEscalation(idempotency_key=key, status="RJCT", reason_code=code)


def escalations_of(program: Program, claim: ClaimInput) -> list[TimelineEntry]:
    return [e for e in program.timeline_of(claim) if e.event is TimelineEvent.PAYMENT_ESCALATED]


async def escalated(handle: WorkflowHandle[Any, Any]) -> ClaimState:
    return await claim_state_until(
        handle,
        lambda state: (
            state.awaiting_payment_result
            and any(n.kind is NoticeKind.OPERATOR_ESCALATION for n in state.notices)
        ),
        "escalated to the operators",
        30,
    )


async def test_r14_an_ambiguous_answer_is_recorded_and_mailed_to_the_operators_once_then_paid(
    program: Program,
) -> None:
    """R14: MS03 for the payout in flight: one `payment_escalated` entry (the code and its
    meaning, no IBAN), the read model waiting for the operators, one operator escalation that
    says to enter the result. The same answer again (a second file) and one for another payout
    are ignored; the operators' ACSC then pays the claim as before, recorded as theirs (D3).
    The history carries the patch `payment-escalation` (a signal taken by a worker without the
    handler replays as nothing: `histories/before-payment-escalation/`)."""
    claim, handle, token = await claim_waiting_for_the_bank(program)

    await handle.signal(ClaimWorkflow.payment_escalated, escalation(claim, 2))  # not in flight
    await handle.signal(ClaimWorkflow.payment_escalated, escalation(claim, 1))
    state = await escalated(handle)
    await handle.signal(ClaimWorkflow.payment_escalated, escalation(claim, 1))

    assert state.status is ClaimStatus.SCHEDULED_FOR_PAYMENT
    assert state.waiting_for == "R14: the operators' answer to the bank's RJCT MS03"
    [entry] = escalations_of(program, claim)
    assert entry.actor == "system"
    assert entry.reason == (
        "R14: the bank answered the payout RJCT MS03 (reason not specified by the agent), which "
        "does not say whether it paid: the payout waits until an operator enters the bank's "
        "result"
    )
    assert entry.projection is not None
    assert entry.projection.awaiting_payment_result
    assert entry.projection.status is ClaimStatus.SCHEDULED_FOR_PAYMENT

    await program.env.client.get_async_activity_handle(task_token=token).complete(
        PaymentResult(
            outcome=PaymentOutcome.PAID, bank_reference="OPS-1", entered_by="olga.operator"
        )
    )
    outcome = await program.outcome(handle)

    assert outcome.status is ClaimStatus.PAID
    assert outcome.payment_reference == "OPS-1"
    assert len(escalations_of(program, claim)) == 1
    [mailed] = [n for n in program.notices(claim) if n.kind is NoticeKind.OPERATOR_ESCALATION]
    assert mailed.facts.payment_escalation == "RJCT MS03"
    assert mailed.facts.reasons == (entry.reason,)
    paid = program.status_changes(claim)[-1]
    assert paid.to_status is ClaimStatus.PAID
    assert paid.actor == "olga.operator"  # D3: who entered the bank's result
    assert paid.projection is not None
    assert not paid.projection.awaiting_payment_result
    assert PAYMENT_ESCALATION in await patches_of(handle)


async def test_r14_r16_an_escalated_payout_the_operators_reject_asks_for_new_details(
    program: Program,
) -> None:
    """R14, R16: an answer with only a status (no reason code the program knows) is escalated;
    the operators' AC04 fails the payment into R16's notices as before, and a late escalation
    of that first payout, once the claim waits for new details, is ignored."""
    claim, handle, token = await claim_waiting_for_the_bank(program)

    await handle.signal(ClaimWorkflow.payment_escalated, escalation(claim, 1, code=None))
    await escalated(handle)
    [entry] = escalations_of(program, claim)
    assert entry.reason.startswith(
        "R14: the bank answered the payout RJCT (a reason the program does not know)"
    )

    await program.env.client.get_async_activity_handle(task_token=token).complete(
        PaymentResult(
            outcome=PaymentOutcome.REJECTED,
            return_code="AC04",
            detail="account closed",
            entered_by="olga.operator",
        )
    )
    state = await program.wait_for(handle, ClaimStatus.PAYMENT_FAILED, notices=1)
    await handle.signal(ClaimWorkflow.payment_escalated, escalation(claim, 1))
    await program.give_bank_details(handle, COMPANY_DETAILS)
    key = payout_idempotency_key(claim.claim_id, 2)
    await claim_state_until(
        handle, lambda _: key in program.bank.waiting, "the second payout waits", 30
    )

    assert not state.awaiting_payment_result
    assert NoticeKind.PAYMENT_FAILURE in program.kinds(claim)
    [rejected] = [
        e for e in program.timeline_of(claim) if e.event is TimelineEvent.PAYMENT_REJECTED
    ]
    assert (rejected.actor, rejected.reason) == ("olga.operator", "AC04: account closed")
    assert program.kinds(claim).count(NoticeKind.OPERATOR_ESCALATION) == 1
    assert len(escalations_of(program, claim)) == 1
    await program.env.client.get_async_activity_handle(
        task_token=program.bank.waiting[key]
    ).complete(PaymentResult(outcome=PaymentOutcome.PAID, bank_reference="BANK-2"))
    assert (await program.outcome(handle)).status is ClaimStatus.PAID
