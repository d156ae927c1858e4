"""Straight-through decisions (D8): an offer whose policy is "at once when conclusive" has its
claims approved (eligible) or rejected with the reasons (ineligible) as soon as the automatic
verdict is in, without waiting for the review deadline (R9); an inconclusive claim goes to the
operators as under the default policy. Only such offers reach the patch
`straight-through-decisions`: claims of other offers run exactly as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from cashback.claims import ClaimInput
from cashback.domain.offers import DecisionPolicy
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.workflows.claims import Program, claim_input, licensing_record
from workflows.claim import STRAIGHT_THROUGH

AT_ONCE = DecisionPolicy.AT_ONCE_WHEN_CONCLUSIVE


async def patches_of(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """The patch ids whose markers the claim's history carries."""
    history = await handle.fetch_history()
    found = set()
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_patch":
            found.add(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return found


async def test_d8_at_once_an_eligible_claim_is_approved_without_waiting(
    program: Program,
) -> None:
    """D8: eligible on arrival: approved at once by the program, the timeline saying it was
    decided automatically; the final confirmation goes out the same day, long before the
    review deadline."""
    program.add_record(licensing_record())
    claim = claim_input(decision_policy=AT_ONCE)
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    assert state.review_deadline is not None
    assert state.final_confirmation_on == datetime.now(UTC).date() < state.review_deadline
    approval = program.status_changes(claim)[2]
    assert (approval.actor, approval.to_status, approval.reason) == (
        "system",
        ClaimStatus.AWAITING_BANK_DETAILS,
        "decided automatically: approved: 20 licences, 250.00 EUR",
    )
    assert program.kinds(claim)[:2] == [
        NoticeKind.PRELIMINARY_CONFIRMATION,
        NoticeKind.FINAL_CONFIRMATION,
    ]
    assert STRAIGHT_THROUGH in await patches_of(handle)
    await handle.terminate("test done")


async def test_d8_r8_at_once_an_ineligible_claim_is_rejected_with_its_reasons(
    program: Program,
) -> None:
    """D8, R8: 4 licences under the offer's minimum of 5: rejected at once with the verdict's
    reason, told to the reseller; no deadline waited for."""
    program.add_record(licensing_record(quantity=1))
    claim = claim_input(decision_policy=AT_ONCE)
    handle = await program.submit(claim)
    outcome = await program.outcome(handle, seconds=30)
    assert outcome.status is ClaimStatus.REJECTED
    assert len(outcome.reasons) == 1
    assert "minimum" in outcome.reasons[0]
    rejected = program.status_changes(claim)[-1]
    assert rejected.reason == f"decided automatically: {outcome.reasons[0]}"
    assert rejected.at.date() == datetime.now(UTC).date()
    rejection = program.notices(claim)[-1]
    assert (rejection.kind, rejection.facts.reasons) == (
        NoticeKind.REJECTION,
        tuple(outcome.reasons),
    )
    assert claim.claim_id not in program.records.reservations  # R3: licences released


async def test_d8_r9_at_once_an_inconclusive_claim_is_escalated_not_decided(
    program: Program,
) -> None:
    """D8, R9: an agreement the records do not know is inconclusive: under review until the
    deadline, then escalated to the operators, never decided by the program."""
    claim = claim_input("OL-UNKNOWN", decision_policy=AT_ONCE)
    program.invoices.sha256_by_key[claim.invoice.object_key] = claim.invoice.sha256
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.review_deadline is not None
    assert state.waiting_for.startswith("R9: operator decision until")
    assert state.decision is None

    end = datetime.combine(state.review_deadline, time.min, tzinfo=UTC) + timedelta(days=1)
    await program.fast_forward(handle, end - datetime.now(UTC) + timedelta(minutes=1))
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW, escalated=True)
    assert state.waiting_for == "R9: escalated; waiting for an operator decision"
    assert state.decision is None
    assert program.kinds(claim)[-1] is NoticeKind.OPERATOR_ESCALATION
    await handle.terminate("test done")


async def test_d8_at_the_deadline_claims_reach_no_patch_and_wait(program: Program) -> None:
    """D8: under the default policy an eligible claim waits for the deadline as before, and
    its history carries no straight-through marker."""
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.waiting_for.startswith("R9: operator decision until")
    assert STRAIGHT_THROUGH not in await patches_of(handle)
    await handle.terminate("test done")


def test_d8_a_claim_input_from_before_the_policy_decodes_as_at_the_deadline() -> None:
    """D8: a payload without `decision_policy` (claims submitted before it) decodes with
    today's behaviour."""
    payload = json.loads(claim_input().model_dump_json())
    del payload["offer"]["decision_policy"]
    decoded = ClaimInput.model_validate(payload)
    assert decoded.offer.decision_policy is DecisionPolicy.AT_THE_DEADLINE
