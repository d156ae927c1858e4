"""The review (R8, R9): operator decisions as a validated update, and the review deadline."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from cashback.claims import ClaimInput, ClaimOutcome, ClaimState, Decision, DecisionKind
from cashback.domain.calendar import add_business_days
from cashback.domain.names import normalise_name
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import APPROVE, Program, claim_input, licensing_record, today


def end_of(day: object) -> datetime:
    assert hasattr(day, "isoformat")
    return datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)  # type: ignore[arg-type]


async def test_r8_operator_rejection_with_reasons(program: Program) -> None:
    """R8: an operator rejects with reasons; the reseller is told them, the licences held for
    the claim are released (R3), the timeline records who and why (D3)."""
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert claim.claim_id in program.records.reservations

    reject = Decision(
        kind=DecisionKind.REJECT, operator="olga.operator", reasons=("invoice is illegible",)
    )
    state = await program.decide(handle, reject)
    outcome = await claim_outcome(handle)

    assert state.status is ClaimStatus.REJECTED
    assert state.outcome_reasons == ["invoice is illegible"]
    assert outcome.status is ClaimStatus.REJECTED
    assert outcome.reasons == ["invoice is illegible"]
    rejection = program.notices(claim)[-1]
    assert rejection.kind is NoticeKind.REJECTION
    assert rejection.facts.reasons == ("invoice is illegible",)
    assert claim.claim_id not in program.records.reservations
    last = program.status_changes(claim)[-1]
    assert (last.actor, last.to_status, last.reason) == (
        "olga.operator",
        ClaimStatus.REJECTED,
        "invoice is illegible",
    )


async def test_r9_decisions_are_refused_unless_under_review(program: Program) -> None:
    """R9: the update's validator refuses a rejection without reasons, and any decision once
    the claim is no longer under review; a refused update leaves no trace in the claim."""
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)

    with pytest.raises(WorkflowUpdateFailedError) as no_reason:
        await program.decide(handle, Decision(kind=DecisionKind.REJECT, operator="olga"))
    assert "at least one reason" in str(no_reason.value.cause)

    await program.decide(handle, APPROVE)
    with pytest.raises(WorkflowUpdateFailedError) as too_late:
        await program.decide(handle, APPROVE)
    assert "not under review (status AWAITING_BANK_DETAILS)" in str(too_late.value.cause)
    assert (await program.state(handle)).status is ClaimStatus.AWAITING_BANK_DETAILS
    await handle.terminate("test done")


async def test_r9_deadline_applies_an_eligible_verdict_on_the_right_day(program: Program) -> None:
    """R9: no decision by the end of the 14th business day: the conclusive (eligible) verdict
    applies at that moment, not a day earlier."""
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    deadline = add_business_days(today(), 14, "DE")
    assert state.review_deadline == deadline
    assert state.waiting_for.startswith(f"R9: operator decision until {deadline.isoformat()}")

    almost = end_of(deadline) - datetime.now(UTC) - timedelta(minutes=10)
    await program.fast_forward(handle, almost)
    assert (await program.state(handle)).status is ClaimStatus.UNDER_REVIEW

    await program.fast_forward(handle, timedelta(minutes=20))
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    approval = program.status_changes(claim)[-1]
    assert approval.actor == "system"
    assert end_of(deadline) <= approval.at < end_of(deadline) + timedelta(minutes=20)
    assert state.final_confirmation_on == end_of(deadline).date()
    assert state.payout_due == end_of(deadline).date() + timedelta(days=45)
    await handle.terminate("test done")


async def test_r9_deadline_applies_an_ineligible_verdict(program: Program) -> None:
    """R8, R9: an agreement outside the offer's region is rejected at the deadline with the
    verdict's reasons."""
    record = licensing_record().model_copy(update={"customer_country": "FR"})
    program.add_record(record)
    claim = claim_input()
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.verdict is not None
    assert state.verdict.eligibility.verdict.value == "ineligible"

    await program.fast_forward(handle, timedelta(days=30))
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.REJECTED
    assert outcome.reasons == ["Customer country FR is not an eligible region."]
    assert program.status_changes(claim)[-1].at.date() == end_of(state.review_deadline).date()
    assert program.kinds(claim)[-1] is NoticeKind.REJECTION


async def test_r9_deadline_escalates_an_inconclusive_claim(program: Program) -> None:
    """R9: an agreement unknown to the licensing records is inconclusive: at the deadline the
    operators are notified and the claim waits for them (never silently); an operator then
    approves it, giving the licences and the sale date the records could not (R8, R15)."""
    claim = claim_input("OL-UNKNOWN")
    program.invoices.sha256_by_key[claim.invoice.object_key] = claim.invoice.sha256
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.review_deadline is not None

    with pytest.raises(WorkflowUpdateFailedError) as no_licences:
        await program.decide(handle, APPROVE)
    assert "give `licences`" in str(no_licences.value.cause)

    until_deadline = end_of(state.review_deadline) - datetime.now(UTC)
    await program.fast_forward(handle, until_deadline + timedelta(minutes=1))
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW, escalated=True)
    assert state.waiting_for == "R9: escalated; waiting for an operator decision"
    escalation = program.notices(claim)[-1]
    assert escalation.kind is NoticeKind.OPERATOR_ESCALATION
    assert any("not in the licensing records" in reason for reason in escalation.facts.reasons)
    assert [e.event.value for e in program.timeline_of(claim)][-1] == "review_escalated"

    approve = Decision(
        kind=DecisionKind.APPROVE,
        operator="olga.operator",
        licences=8,
        sale_date=today() - timedelta(days=100),
    )
    state = await program.decide(handle, approve)
    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert state.amount is not None
    assert state.amount.minor_units == 8 * 1250
    # R3: the approved licences count against the customer's maximum (customer as claimed).
    assert program.records.reservations[claim.claim_id] == (
        claim.offer.offer_id,
        normalise_name("Fabrikam AG"),
        8,
    )
    await handle.terminate("test done")


async def approve_unknown_agreement_beside(
    program: Program, held_by_others: int, licences: int
) -> tuple[ClaimInput, WorkflowHandle[Any, ClaimOutcome], ClaimState]:
    """An agreement unknown to the records, whose customer (Fabrikam AG, maximum 100) already
    has `held_by_others` licences held by another claim of the offer; the operator approves
    `licences` while the claim is under review."""
    claim = claim_input("OL-UNKNOWN")
    program.invoices.sha256_by_key[claim.invoice.object_key] = claim.invoice.sha256
    program.records.reservations["other-claim"] = (
        claim.offer.offer_id,
        normalise_name("Fabrikam AG"),
        held_by_others,
    )
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    approve = Decision(
        kind=DecisionKind.APPROVE,
        operator="olga.operator",
        licences=licences,
        sale_date=today() - timedelta(days=100),
    )
    return claim, handle, await program.decide(handle, approve)


async def test_r3_an_approval_is_cut_to_the_customers_maximum(program: Program) -> None:
    """R3: the operator approves 8 licences, but other claims hold 95 of the customer's 100:
    5 are held and paid for, and the timeline says why."""
    claim, handle, state = await approve_unknown_agreement_beside(program, 95, 8)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)

    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert state.amount is not None
    assert state.amount.minor_units == 5 * 1250
    assert program.records.reservations[claim.claim_id][2] == 5
    reason = program.status_changes(claim)[-1].reason
    assert "approved: 5 licences" in reason
    assert "R3: 5 of the 8 licences approved fit under the customer's maximum of 100" in reason
    await handle.terminate("test done")


async def test_r3_an_approval_with_no_licences_left_is_a_rejection(program: Program) -> None:
    """R3: other claims hold all of the customer's 100 licences: the approval cannot be paid
    for; the claim is rejected with the reason, and holds nothing."""
    claim, handle, state = await approve_unknown_agreement_beside(program, 100, 8)

    assert state.status is ClaimStatus.REJECTED
    assert state.outcome_reasons == [
        "R3: 0 of the 8 licences approved fit under the customer's maximum of 100 beside "
        "other claims"
    ]
    assert (await claim_outcome(handle)).status is ClaimStatus.REJECTED
    assert claim.claim_id not in program.records.reservations
    assert program.kinds(claim)[-1] is NoticeKind.REJECTION


async def test_r5_r7_claim_without_its_invoice_is_rejected(program: Program) -> None:
    """R5: without the invoice (or with one altered since submission) the submission cannot be
    completed: rejected, no preliminary confirmation (R7 only follows a complete one)."""
    program.add_record(licensing_record())
    claim = claim_input()
    program.invoices.sha256_by_key[claim.invoice.object_key] = "b" * 64
    outcome = await claim_outcome(await program.submit(claim))

    assert outcome.status is ClaimStatus.REJECTED
    assert outcome.reasons[0].startswith("R5:")
    assert program.kinds(claim) == [NoticeKind.REJECTION]
