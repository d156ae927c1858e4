"""What an operator sees of a claim in the Temporal UI: search attributes upserted at every status
change, the `state` query, and summaries on timers and activities."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from cashback import search_attributes as attrs
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus
from tests.workflows.claims import APPROVE, Program, claim_input, licensing_record
from tests.workflows.test_payout import claim_with_bank_details


async def test_d3_r9_search_attributes_follow_the_status(program: Program) -> None:
    """D3, R9: ClaimStatus, ResellerId, OfferId, AgreementNumber and ReviewDeadline are set, and
    ClaimStatus follows every status change, so a visibility query finds the claim."""
    program.add_record(licensing_record("OL-2002"))
    claim = claim_input("OL-2002")
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.review_deadline is not None

    found = (await handle.describe()).typed_search_attributes
    assert found.get(attrs.CLAIM_STATUS) == "UNDER_REVIEW"
    assert found.get(attrs.RESELLER_ID) == "reseller-7"
    assert found.get(attrs.OFFER_ID) == "offer-office-2026"
    assert found.get(attrs.AGREEMENT_NUMBER) == "OL-2002"
    # The day itself, as the API and the e-mails give it (not the timer's next midnight).
    day = datetime.combine(state.review_deadline, time.min, tzinfo=UTC)
    assert found.get(attrs.REVIEW_DEADLINE) == day

    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    number = claim.claimed.agreement_number
    query = f'ClaimStatus = "AWAITING_BANK_DETAILS" AND AgreementNumber = "{number}"'
    for _ in range(100):  # visibility is eventually consistent
        ids = [wf.id async for wf in program.env.client.list_workflows(query)]
        if ids:
            break
        await asyncio.sleep(0.1)
    assert ids == [handle.id]
    await handle.terminate("test done")


@pytest.mark.parametrize("weekday", range(5))
async def test_r9_the_review_deadline_attribute_is_the_deadline_day(
    program: Program, weekday: int
) -> None:
    """R9: for a claim received on each weekday (Monday to Friday), ReviewDeadline shows the
    day the claim's state, API and e-mails give, at its start (UTC)."""
    program.add_record(licensing_record())
    today = datetime.now(UTC)
    received = today - timedelta(days=(today.weekday() - weekday) % 7)
    claim = claim_input().model_copy(update={"received_at": received})
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.review_deadline is not None
    assert state.review_deadline.weekday() < 5
    found = (await handle.describe()).typed_search_attributes
    day = datetime.combine(state.review_deadline, time.min, tzinfo=UTC)
    assert found.get(attrs.REVIEW_DEADLINE) == day
    await handle.terminate("test done")


async def test_r9_r10_timers_and_activities_carry_summaries(program: Program) -> None:
    """R9, R10: the review timer and the bank-details timer say what they wait for and until
    when; every activity says what it does."""
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)

    timers, activities = [], []
    async for event in handle.fetch_history_events():
        summary = json.loads(event.user_metadata.summary.data or b'""')
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timers.append(summary)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.append(summary)
        elif event.marker_recorded_event_attributes.marker_name == "core_local_activity":
            activities.append(summary)  # the timeline and the e-mails (issue 16)
    assert state.review_deadline is not None
    assert timers[0] == f"R9: operator decision until {state.review_deadline.isoformat()}"
    assert timers[1].startswith("R10: notice 1 of 3, bank details until ")
    assert "R8: automatic eligibility verdict" in activities
    assert "e-mail: bank_details_request 1" in activities
    assert all(activities)
    await handle.terminate("test done")


async def test_r10_bank_details_are_refused_while_none_are_requested(program: Program) -> None:
    """R10, R13: bank details can only be given in answer to a request; during the review the
    update is refused and the claim is unchanged."""
    program.add_record(licensing_record())
    handle = await program.submit(claim_input())
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await program.give_bank_details(handle)
    assert "no bank details are requested" in str(refused.value.cause)
    state = await program.state(handle)
    assert state.status is ClaimStatus.UNDER_REVIEW
    assert state.bank_details_reference is None
    await handle.terminate("test done")


async def test_d3_claim_status_search_attribute_follows_every_status_change(
    program: Program,
) -> None:
    """D3: every status change of a claim paid without a hitch (submitted, under review,
    awaiting bank details, scheduled, paid) upserts ClaimStatus, in the order of the timeline;
    at the end the visibility record says PAID."""
    claim, handle = await claim_with_bank_details(program)
    assert (await program.outcome(handle)).status is ClaimStatus.PAID

    upserted = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if "ClaimStatus" in fields.indexed_fields:
                upserted.append(json.loads(fields.indexed_fields["ClaimStatus"].data))
    statuses = [status.value for status in program.statuses(claim) if status is not None]
    assert statuses == [
        "SUBMITTED",
        "UNDER_REVIEW",
        "AWAITING_BANK_DETAILS",
        "SCHEDULED_FOR_PAYMENT",
        "PAID",
    ]
    assert upserted == statuses
    described = await handle.describe()
    assert described.typed_search_attributes.get(attrs.CLAIM_STATUS) == "PAID"


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    """The Markdown the Temporal Web UI shows as the claim's current details (the SDK's
    built-in metadata query, as the UI reads it)."""
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details: str = metadata.current_details
    return details


async def test_d4_the_web_ui_shows_the_amount_once_approved(program: Program) -> None:
    """D4: the claim's current details in the Web UI give its status, and from the approval
    on its amount (20 licences at 12.50 EUR) beside what it waits for; before the approval no
    amount is known, so none is shown."""
    program.add_record(licensing_record())
    handle = await program.submit(claim_input())
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    under_review = await current_details(handle)
    assert under_review.startswith("**UNDER_REVIEW**: waiting for R9: operator decision until ")
    assert "EUR" not in under_review

    await program.decide(handle, APPROVE)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    assert state.amount is not None
    assert state.amount.format() == "250.00 EUR"
    awaiting = await current_details(handle)
    assert awaiting.startswith(
        "**AWAITING_BANK_DETAILS** · cash back **250.00 EUR**: waiting for R10: notice 1 of 3"
    )
    await handle.terminate("test done")


@pytest.mark.parametrize(
    "policy",
    [ProgramPolicy(), ProgramPolicy(time_scale=1 / 1440)],
    ids=["program", "demo-a-day-in-a-minute"],
)
async def test_r14_r15_the_payout_date_attribute_is_the_payout_day(
    program: Program, policy: ProgramPolicy
) -> None:
    """R14, R15: a claim sold 10 days ago waits for its return window; PayoutDate shows the
    payout day the claim's state, API and e-mails give, at its start (UTC), in a demo too
    (where the timer waits for a scaled wall-clock instant on another day)."""
    _, handle = await claim_with_bank_details(program, sold_days_ago=10, policy=policy)
    state = await program.wait_for(handle, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert state.payout_date is not None
    assert state.payout_date > datetime.now(UTC).date() + timedelta(days=40)
    found = (await handle.describe()).typed_search_attributes
    day = datetime.combine(state.payout_date, time.min, tzinfo=UTC)
    assert found.get(attrs.PAYOUT_DATE) == day
    await handle.terminate("test done")
