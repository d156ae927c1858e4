"""Issue 16, part 1: a claim started under the patch `notices-as-local-activity` sends its
notices (`mail.send_notice`) as local activities: one marker each in its history, no activity
task through the server. Decided once, at the start: a claim sends all its notices one way (its
recorded histories from before the patch replay from
`histories/before-notices-as-local-activity/`)."""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import Program
from tests.workflows.test_bank_details import approved_claim
from tests.workflows.test_straight_through import patches_of
from workflows.claim import LOCAL_NOTICES

SEND_NOTICE = "mail.send_notice"


async def activities_of(handle: WorkflowHandle[Any, Any]) -> tuple[list[str], list[str]]:
    """The claim's activity tasks (their types, as scheduled) and its local activities (their
    types, from their markers), in the order of its history."""
    scheduled: list[str] = []
    local: list[str] = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_local_activity":
            data = json.loads(marker.details["data"].payloads[0].data)
            local.append(data["activity_type"])
    return scheduled, local


async def test_d3_r10_a_new_claims_notices_are_local_activities(program: Program) -> None:
    """D3, R10: the claim paid after a bank-details request sends its four notices once each,
    every one a local activity's marker, none an activity task."""
    claim, handle = await approved_claim(program)
    await program.give_bank_details(handle)
    assert (await claim_outcome(handle)).status is ClaimStatus.PAID

    assert [notice.kind for notice in program.notices(claim)] == [
        NoticeKind.PRELIMINARY_CONFIRMATION,
        NoticeKind.FINAL_CONFIRMATION,
        NoticeKind.BANK_DETAILS_REQUEST,
        NoticeKind.REMITTANCE_ADVICE,
    ]
    assert LOCAL_NOTICES in await patches_of(handle)
    scheduled, local = await activities_of(handle)
    assert SEND_NOTICE not in scheduled
    assert local.count(SEND_NOTICE) == 4


async def test_r10_an_undeliverable_local_notice_is_recorded_and_escalated(
    program: Program,
) -> None:
    """R10: a bank-details request the mail server refuses for good (550), sent as a local
    activity, is not retried: the claim records `notice_undeliverable`, tells the operators
    (also a local activity) and goes on waiting for the details."""
    program.outbox.bouncing.add(NoticeKind.BANK_DETAILS_REQUEST)
    claim, handle = await approved_claim(program)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    assert state.waiting_for.startswith("R10: notice 1 of 3")

    escalation = program.notices(claim)[-1]
    assert escalation.kind is NoticeKind.OPERATOR_ESCALATION
    assert escalation.facts.reasons == ("e-mail bank_details_request 1 could not be delivered",)
    events = [entry.event.value for entry in program.timeline_of(claim)]
    assert events.count("notice_undeliverable") == 1
    assert LOCAL_NOTICES in await patches_of(handle)
    scheduled, local = await activities_of(handle)
    assert SEND_NOTICE not in scheduled
    # preliminary, final, the refused request (failed at once: retried, it would hold the
    # claim before its wait), the escalation
    assert local.count(SEND_NOTICE) == 4
