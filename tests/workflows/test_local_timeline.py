"""Issue 16: fewer round trips per claim. A claim started under the patch
`timeline-as-local-activity` writes its timeline entries (and the read model's projection with
them, D3) as local activities: one marker each in its history, no activity task through the
server. Decided once, at the start: a claim keeps one way (its recorded histories from before
the patch replay from `histories/before-timeline-as-local-activity/`)."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType

from cashback.domain.status import ClaimStatus
from tests.claim_waits import claim_outcome
from tests.workflows.claims import APPROVE, COMPANY_DETAILS, Program, claim_input, licensing_record
from tests.workflows.test_straight_through import patches_of
from workflows.claim import LOCAL_TIMELINE


async def test_d3_a_new_claims_timeline_is_written_by_local_activities(program: Program) -> None:
    """D3: the paid claim's timeline is complete and in order, written without one activity
    task: 13 activity tasks become 7, and the history is 18 events shorter."""
    program.standing.by_reseller["reseller-7"] = COMPANY_DETAILS
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    assert (await claim_outcome(handle)).status is ClaimStatus.PAID

    timeline = program.timeline_of(claim)
    assert [entry.sequence for entry in timeline] == list(range(1, len(timeline) + 1))
    assert program.statuses(claim)[-1] is ClaimStatus.PAID
    assert LOCAL_TIMELINE in await patches_of(handle)
    scheduled = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.append(event.activity_task_scheduled_event_attributes.activity_type.name)
    assert "RecordsActivities.append_timeline" not in scheduled
    assert not any(name.endswith("append_timeline") for name in scheduled)
    # invoice, eligibility, standing, the payee check (VoP), payment; the 3 e-mails are local
    # activities too since `notices-as-local-activity` (tests/workflows/test_local_notices.py)
    assert len(scheduled) == 5, scheduled
